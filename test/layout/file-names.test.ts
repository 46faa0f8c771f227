// The layout's names: one function per file kind makes each name, and its parser reads
// back exactly the names it makes (and no other spelling), so every layer that lists a
// directory agrees on what is a journal, a segment, a manifest or debris.
import t from 'tap';
import { join } from 'node:path';
import { tempPathFor } from '../../lib/fs/durable.js';
import {
  currentPath,
  isTempName,
  isValidPartitionName,
  journalDir,
  journalFileName,
  journalPath,
  keyspaceFilePath,
  lockPath,
  manifestFileName,
  manifestPath,
  parseJournalFileName,
  parseManifestFileName,
  parseSegmentFileName,
  partitionDir,
  partitionsDir,
  segmentFileName,
  segmentPath,
  segmentsDir,
} from '../../lib/layout/file-names.js';

t.test('each path of a keyspace, from its root', async (t) => {
  const root = '/data/ks';
  const p = partitionDir(root, 'users');
  t.same(
    {
      lock: lockPath(root),
      meta: keyspaceFilePath(root),
      journals: journalDir(root),
      journal: journalPath(root, 41),
      partitions: partitionsDir(root),
      partition: p,
      segments: segmentsDir(p),
      segment: segmentPath(p, 123),
      current: currentPath(p),
      manifest: manifestPath(p, 7),
    },
    {
      lock: '/data/ks/LOCK',
      meta: '/data/ks/keyspace.json',
      journals: '/data/ks/journal',
      journal: '/data/ks/journal/000041.jnl',
      partitions: '/data/ks/partitions',
      partition: '/data/ks/partitions/users',
      segments: '/data/ks/partitions/users/segments',
      segment: '/data/ks/partitions/users/segments/000123.sst',
      current: '/data/ks/partitions/users/CURRENT',
      manifest: '/data/ks/partitions/users/MANIFEST-000007',
    },
  );
});

t.test('numbered names: six digits at least, and each parser reads back its own kind only', async (t) => {
  const kinds = [
    { name: journalFileName, parse: parseJournalFileName },
    { name: segmentFileName, parse: parseSegmentFileName },
    { name: manifestFileName, parse: parseManifestFileName },
  ];
  for (const n of [0, 1, 41, 999_999, 1_000_000, 2 ** 40]) {
    for (const [i, kind] of kinds.entries()) {
      const name = kind.name(n);
      t.equal(kind.parse(name), n, `${name} parses back to ${n}`);
      for (const [j, other] of kinds.entries()) if (j !== i) t.equal(other.parse(name), undefined, `${name} is not another kind`);
    }
  }
  t.same([journalFileName(42), segmentFileName(42), manifestFileName(42)], ['000042.jnl', '000042.sst', 'MANIFEST-000042']);
  for (const bad of ['42.jnl', '00042.jnl', '000042.jnl.tmp-ab', 'x000042.jnl', '000042.JNL', '']) t.equal(parseJournalFileName(bad), undefined, `'${bad}' is no journal`);
});

t.test('temp names are recognised wherever tempPathFor makes them', async (t) => {
  for (const path of ['/k/keyspace.json', '/k/partitions/p/CURRENT', '/k/journal']) {
    const temp = tempPathFor(path);
    t.ok(isTempName(temp.slice(temp.lastIndexOf('/') + 1)), `${temp} is a temp name`);
    t.not(temp, tempPathFor(path), 'each call a new name');
  }
  for (const name of ['keyspace.json', '000001.jnl', 'MANIFEST-000001', 'tmp', 'x.tmp']) t.notOk(isTempName(name), `${name} is not`);
});

t.test('partition names', async (t) => {
  for (const good of ['users', 'a', 'A_b-c.d', '0', '_x', 'x'.repeat(64)]) t.ok(isValidPartitionName(good), good);
  for (const bad of ['', '.hidden', '-x', 'a/b', 'a b', 'x'.repeat(65), 'p.tmp-1', join('..', 'x'), 42, undefined]) {
    t.notOk(isValidPartitionName(bad), String(bad));
  }
});
