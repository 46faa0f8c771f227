// What is internal stays out of users' reach: the public classes cannot be constructed
// directly, carry no underscore or helper members, and the published types (dist/*.d.ts,
// built by `npm test` before the suite) declare none of the module-internal helpers.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { Keyspace, Partition, Snapshot, WriteBatch } from '../../lib/index.js';

const INTERNAL_NAMES = ['_write', '_checkOpen', '_visibleSeqno', '_forgetSnapshot', '_treeFor', '_markDeleted', '_viewOf', 'poison', 'collectJournals'];

t.test('the public classes cannot be constructed except by the keyspace', async (t) => {
  const classes = { Keyspace, Partition, Snapshot, WriteBatch } as unknown as Record<string, new (...args: unknown[]) => unknown>;
  for (const [name, Class] of Object.entries(classes)) {
    t.throws(() => new Class(), TypeError, `new ${name}() throws`);
    t.throws(() => new Class(Symbol(name), {}, {}), TypeError, `new ${name}(a look-alike token) throws`);
  }
});

t.test('a keyspace and its handles expose no internal member', async (t) => {
  const ks = await Keyspace.open(t.testdir());
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  const snap = ks.snapshot();
  for (const [what, object] of [['keyspace', ks], ['partition', p], ['snapshot', snap], ['batch', ks.batch()]] as const) {
    const reachable = INTERNAL_NAMES.filter((name) => name in object);
    t.same(reachable, [], `${what}: none of ${INTERNAL_NAMES.join(', ')}`);
  }
  snap.release();
});

t.test('the published types declare no internal member or helper', async (t) => {
  const dist = new URL('../../dist/', import.meta.url);
  const files = ['index.d.ts', 'keyspace/keyspace.d.ts', 'keyspace/partition.d.ts', 'keyspace/snapshot.d.ts', 'keyspace/write-batch.d.ts', 'keyspace/checkpoint-source.d.ts'];
  const helpers = ['newPartition', 'partitionTree', 'markPartitionDeleted', 'PartitionContext', 'newSnapshot', 'snapshotView', 'newWriteBatch', 'provideCheckpointProtocol', 'checkpointProtocol('];
  for (const file of files) {
    // Declarations only: the TSDoc may well say that a failed fsync poisons the keyspace.
    const text = (await readFile(new URL(file, dist), 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '');
    t.same([...INTERNAL_NAMES, ...helpers].filter((name) => text.includes(name)), [], `${file} declares none of them`);
  }
  const keyspace = await readFile(new URL('keyspace/keyspace.d.ts', dist), 'utf8');
  t.match(keyspace, /private constructor\(\);/, 'Keyspace: a private constructor');
  t.match(keyspace, /backupTo\(dest: string, options\?: CheckpointOptions\): Promise<CheckpointResult>;/, 'backupTo keeps its public signature');
});
