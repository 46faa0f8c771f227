// Damage in the store: a flipped byte in a content object is named by a full verify
// (a head-only verify cannot see it) and rejected by restore with CAIRN_CORRUPTION,
// leaving no target; missing and truncated objects are reported; a damaged manifest is
// CAIRN_CORRUPTION, never a partial restore.
import t, { type Test } from 'tap';
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { extFor, objectKey } from '../../lib/backup/store-layout.js';
import { ErrorCodes } from '../../lib/errors.js';
import { Workload, fileStore, scratchDir, tempNames, useFormatOne } from './backup-helpers.js';

async function setup(t: Test) {
  const dir = await scratchDir(t, 'corrupt');
  const root = join(dir, 'store');
  const store = await fileStore(root);
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  // These tests edit objects and manifests by hand: format 1 keeps them plain bytes and JSON
  // (format 2's damage is test/backup/format-2.test.ts's).
  await useFormatOne(store, w.ks.path);
  await w.write(1500);
  const { id } = await engine.backup(w.ks);
  const manifest = await engine.info(id);
  const pick = (ext: string) => manifest.files.find((f) => f.path.endsWith(ext) && f.size > 100)!;
  return { dir, root, engine, id, manifest, pick };
}

t.test('a flipped byte: verify --full names the file, restore rejects and leaves no target', async (t) => {
  const { dir, root, engine, id, pick } = await setup(t);
  const victim = pick('.sst');
  const key = objectKey(victim.sha256, extFor(victim.path));
  const file = join(root, ...key.split('/'));
  const bytes = await readFile(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  await writeFile(file, bytes);

  const quick = await engine.verify(id);
  t.ok(quick.ok, 'a head-only verify sees the right size');
  const full = await engine.verify(id, { full: true, quarantine: false });
  t.notOk(full.ok);
  t.same(full.problems, [{ path: victim.path, key, kind: 'checksum' }], 'the full verify names the damaged file');
  t.same(full.quarantined, [], 'quarantine: false moves nothing');

  const target = join(dir, 'restored');
  await t.rejects(engine.restore(id, target), { code: ErrorCodes.CORRUPTION, details: { path: victim.path, key } });
  await t.rejects(stat(target), { code: 'ENOENT' }, 'no target');
  t.same(await tempNames(dir), [], 'no staging');
});

t.test('missing and truncated objects are reported by a head-only verify', async (t) => {
  const { dir, root, engine, id, pick } = await setup(t);
  const gone = pick('.jnl');
  const short = pick('.sst');
  const goneKey = objectKey(gone.sha256, extFor(gone.path));
  const shortKey = objectKey(short.sha256, extFor(short.path));
  const goneBytes = await readFile(join(root, ...goneKey.split('/')));
  await rm(join(root, ...goneKey.split('/')));
  await truncate(join(root, ...shortKey.split('/')), short.size - 1);
  const result = await engine.verify(id);
  t.notOk(result.ok);
  t.same(
    result.problems,
    [
      { path: gone.path, key: goneKey, kind: 'missing' },
      { path: short.path, key: shortKey, kind: 'size' },
    ].sort((a, b) => (a.path < b.path ? -1 : 1)),
  );
  // Restore looks every object up before writing: the missing one decides the code, and
  // both problems are named, whichever download would have failed first.
  const err = await engine.restore(id, join(dir, 'restored')).catch((e: unknown) => e);
  t.match(err, { code: ErrorCodes.NOT_FOUND, details: { path: gone.path, key: goneKey } }, 'restore refuses a backup with a missing object');
  t.same((err as { details: { problems: unknown } }).details.problems, result.problems, 'and lists every problem');
  await t.rejects(stat(join(dir, 'restored')), { code: 'ENOENT' }, 'nothing was created');
  t.same(await tempNames(dir), []);

  // With the missing object back, the truncated one alone is CAIRN_CORRUPTION, still before any download.
  await writeFile(join(root, ...goneKey.split('/')), goneBytes);
  await t.rejects(engine.restore(id, join(dir, 'restored')), { code: ErrorCodes.CORRUPTION, details: { path: short.path, key: shortKey } }, 'a truncated object is refused');
  await t.rejects(stat(join(dir, 'restored')), { code: 'ENOENT' });
  t.same(await tempNames(dir), []);
});

t.test('a damaged manifest is CAIRN_CORRUPTION for info, verify and restore', async (t) => {
  const { dir, root, engine, id } = await setup(t);
  const file = join(root, 'backups', `${id}.json`);
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('"sha256": "', '"sha256": "zz'));
  await t.rejects(engine.info(id), { code: ErrorCodes.CORRUPTION });
  await t.rejects(engine.verify(id), { code: ErrorCodes.CORRUPTION });
  await t.rejects(engine.restore(id, join(dir, 'restored')), { code: ErrorCodes.CORRUPTION });
  await writeFile(file, text.replace('"path": "', '"path": "../../escape/'));
  await t.rejects(engine.restore(id, join(dir, 'restored')), { code: ErrorCodes.CORRUPTION }, 'a path leaving the target is refused');
  await writeFile(file, '{ "format": 99 }');
  await t.rejects(engine.info(id), { code: ErrorCodes.UNSUPPORTED_FORMAT });
  t.same(await tempNames(dir), []);
});
