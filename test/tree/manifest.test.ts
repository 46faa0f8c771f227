// A partition's manifest and its CURRENT pointer: a version round-trips through the bytes
// and through the files, and every way the pair can be damaged (a torn or foreign
// manifest, a checksum that does not match, CURRENT naming a missing file) is refused
// with CAIRN_CORRUPTION, never read as a different version.
import t from 'tap';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { ErrorCodes } from '../../lib/errors.js';
import { currentPath, manifestPath } from '../../lib/layout/file-names.js';
import { MANIFEST_FORMAT, decodeManifest, encodeCurrent, encodeManifest, readCurrentManifest, writeManifest, type VersionState } from '../../lib/tree/manifest.js';

const fs = new NodeFileSystem();

function segment(fileNumber: number, minKey: string, maxKey: string) {
  return { fileNumber, fileSize: 1000 + fileNumber, entryCount: 10, tombstoneCount: 1, minKey: Buffer.from(minKey), maxKey: Buffer.from(maxKey), minSeqno: fileNumber, maxSeqno: fileNumber + 9 };
}

const state: VersionState = {
  partition: 'users',
  partitionId: 3,
  persistedSeqno: 812,
  nextFileNumber: 40,
  levels: [[segment(31, 'k', 'z'), segment(30, 'a', 'm')], [], [segment(12, '\u0000bin', '\u00ff\u00fe')]],
};

t.test('a version round-trips through the manifest bytes', async (t) => {
  const bytes = encodeManifest(state);
  t.match(bytes.toString('utf8'), new RegExp(`^CAIRN-MANIFEST ${MANIFEST_FORMAT}\\n\\{.*\\}\\ncrc32 [0-9a-f]{8}\\n$`), 'a magic line, one JSON line, a checksum line');
  t.same(decodeManifest(bytes, 'm'), state);
});

t.test('damaged or foreign manifest bytes are refused', async (t) => {
  const bytes = encodeManifest(state);
  const text = bytes.toString('utf8');
  const damaged: [string, Buffer, string][] = [
    ['a flipped byte in the body', Buffer.from(text.replace('"users"', '"userz"')), ErrorCodes.CORRUPTION],
    ['torn (cut short)', bytes.subarray(0, bytes.length - 5), ErrorCodes.CORRUPTION],
    ['not a manifest', Buffer.from('hello\n'), ErrorCodes.CORRUPTION],
    ['a newer format', Buffer.from(text.replace(`CAIRN-MANIFEST ${MANIFEST_FORMAT}`, `CAIRN-MANIFEST ${MANIFEST_FORMAT + 1}`)), ErrorCodes.UNSUPPORTED_FORMAT],
  ];
  for (const [what, input, code] of damaged) t.throws(() => decodeManifest(input, '/p/MANIFEST-000001'), { code, details: { path: '/p/MANIFEST-000001' } }, what);
});

t.test('writeManifest then readCurrentManifest gives back the version; CURRENT carries the checksum', async (t) => {
  const root = t.testdir();
  await writeManifest(fs, root, 39, state);
  t.same(await readCurrentManifest(fs, root), { manifestNumber: 39, state });
  const current = await readFile(currentPath(root), 'utf8');
  t.equal(current, encodeCurrent(39, encodeManifest(state)));
  t.match(current, /^MANIFEST-000039 [0-9a-f]{8}\n$/);
});

t.test('a damaged CURRENT or a manifest that does not match it is corruption', async (t) => {
  const cases: [string, (root: string) => Promise<void>][] = [
    ['CURRENT unparsable', (root) => writeFile(currentPath(root), 'MANIFEST-39\n')],
    ['CURRENT names a missing manifest', (root) => rm(manifestPath(root, 39))],
    ['the manifest was replaced by another valid one', (root) => writeFile(manifestPath(root, 39), encodeManifest({ ...state, persistedSeqno: 1 }))],
  ];
  for (const [what, damage] of cases) {
    const root = t.testdir();
    await writeManifest(fs, root, 39, state);
    await damage(root);
    await t.rejects(readCurrentManifest(fs, root), { code: ErrorCodes.CORRUPTION }, what);
  }
  await t.rejects(readCurrentManifest(fs, join(t.testdir(), 'none')), { code: 'ENOENT' }, 'no CURRENT at all is ENOENT');
});
