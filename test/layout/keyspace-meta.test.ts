// keyspace.json: a new keyspace's identity round-trips through the file, and a file that
// is unreadable, malformed or newer than this code is refused with a stable code.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { ErrorCodes } from '../../lib/errors.js';
import { encodeKeyspaceMeta, KEYSPACE_FORMAT, newKeyspaceMeta, readKeyspaceMeta, writeKeyspaceMeta } from '../../lib/layout/keyspace-meta.js';

const fs = new NodeFileSystem();

t.test('write then read gives back the same identity and registry', async (t) => {
  const root = t.testdir();
  const meta = newKeyspaceMeta();
  t.match(meta, { format: KEYSPACE_FORMAT, nextPartitionId: 1, partitions: {} });
  t.match(meta.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.not(newKeyspaceMeta().id, meta.id, 'every keyspace gets its own id');
  meta.partitions.users = { id: 1, createdAt: new Date(0).toISOString() };
  meta.nextPartitionId = 2;
  await writeKeyspaceMeta(fs, root, meta);
  t.same(await readKeyspaceMeta(fs, root), meta);
  t.equal(await readFile(join(root, 'keyspace.json'), 'utf8'), encodeKeyspaceMeta(meta), 'the file holds exactly the encoding');
  t.match(encodeKeyspaceMeta(meta), /^\{\n {2}"format": 1,\n[\s\S]*\n\}\n$/, 'indented JSON, newline-terminated');
});

t.test('an unreadable, malformed or newer keyspace.json is refused', async (t) => {
  const root = t.testdir();
  const file = join(root, 'keyspace.json');
  const good = newKeyspaceMeta();
  const cases: [string, string, string][] = [
    ['not JSON', '{"format": 1,', ErrorCodes.CORRUPTION],
    ['no id', JSON.stringify({ ...good, id: undefined }), ErrorCodes.CORRUPTION],
    ['not an object', '42', ErrorCodes.CORRUPTION],
    ['no registry', JSON.stringify({ ...good, partitions: null }), ErrorCodes.CORRUPTION],
    ['no next partition id', JSON.stringify({ ...good, nextPartitionId: 'x' }), ErrorCodes.CORRUPTION],
    ['a newer format', JSON.stringify({ ...good, format: KEYSPACE_FORMAT + 1 }), ErrorCodes.UNSUPPORTED_FORMAT],
  ];
  for (const [what, text, code] of cases) {
    await writeFile(file, text);
    await t.rejects(readKeyspaceMeta(fs, root), { code, details: { path: file } }, what);
  }
  await t.rejects(readKeyspaceMeta(fs, t.testdir()), { code: 'ENOENT' }, 'a missing file is ENOENT');
});
