// Unknown option names are refused everywhere a caller passes options: a RangeError that
// names the option, before any I/O, instead of a silently ignored misspelling or a
// option a caller may believe exists (`readOnly: 1` once opened a writable keyspace).
import t, { type Test } from 'tap';
import * as nodePath from 'node:path';
import { readdir } from 'node:fs/promises';
import { Keyspace } from '../lib/index.js';
import { BackupEngine, openStore } from '../lib/backup/index.js';
import { CairnLevel } from '../lib/level/index.js';
import { scratchDir } from './helpers/scratch.js';

/** The call throws or rejects with a RangeError whose message names `option`. */
async function refuses(t: Test, call: () => unknown, option: string, what: string): Promise<void> {
  let outcome: unknown;
  try {
    outcome = await call();
  } catch (err) {
    outcome = err;
  }
  t.ok(outcome instanceof RangeError, `${what}: a RangeError (got ${String(outcome)})`);
  t.match(String((outcome as Error)?.message), option, `${what}: the message names ${option}`);
}

t.test('Keyspace.open, with nested compaction options', async (t) => {
  const root = await scratchDir(t, 'unknown-options');
  const dir = nodePath.join(root, 'ks');
  await refuses(t, () => Keyspace.open(dir, { readonly: true } as never), 'readonly', 'a misspelt readOnly');
  await refuses(t, () => Keyspace.open(dir, { memtableByte: 1 << 20 } as never), 'memtableByte', 'a misspelt option');
  await refuses(t, () => Keyspace.open(dir, { compaction: { level0Triger: 2 } } as never), 'level0Triger', 'leveled');
  await refuses(t, () => Keyspace.open(dir, { compaction: { strategy: 'fifo', maxBytes: 1000, level0Trigger: 2 } } as never), 'level0Trigger', 'a leveled option under fifo');
  await refuses(t, () => Keyspace.open(dir, { compaction: { strategy: 'tiered' } } as never), 'tiered', 'an unknown strategy');
  t.same(await readdir(root), [], 'nothing was created');
  const ks = await Keyspace.open(dir, { compaction: { strategy: 'fifo', maxBytes: 1000, ttlMs: 10, level0StopWrites: 20, inProcess: true }, onBackgroundError: () => undefined });
  await ks.close();
});

t.test('reads, writes, iterators, batches, snapshots, backupTo', async (t) => {
  const root = await scratchDir(t, 'unknown-options');
  const ks = await Keyspace.open(nodePath.join(root, 'ks'));
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  await p.put('b', '2');
  await refuses(t, () => p.put('c', '3', { sync: true } as never), 'sync', 'put');
  t.equal(await p.get('c'), undefined, 'the refused put wrote nothing');
  await refuses(t, () => p.delete('a', { durabilty: 'sync' } as never), 'durabilty', 'delete');
  t.same(await p.get('a'), Buffer.from('1'), 'the refused delete deleted nothing');
  await refuses(t, () => p.clear({ start: 'a' } as never), 'start', 'clear (range)');
  await refuses(t, () => p.clear({ gte: 'a' }, { durabilty: 'sync' } as never), 'durabilty', 'clear (write options)');
  await refuses(t, () => ks.batch().clear(p, { limit: 1 } as never), 'limit', 'batch.clear');
  t.same(await p.get('a'), Buffer.from('1'), 'the refused clears deleted nothing');
  await refuses(t, () => p.get('a', { snapshots: ks.snapshot() } as never), 'snapshots', 'get');
  await refuses(t, () => p.has('a', { fillCache: false } as never), 'fillCache', 'has');
  await refuses(t, () => p.entries({ start: 'a' } as never), 'start', 'entries');
  await refuses(t, () => p.keys({ end: 'a' } as never), 'end', 'keys');
  await refuses(t, () => p.values({ gteq: 'a' } as never), 'gteq', 'values');
  await refuses(t, () => ks.batch().put(p, 'x', 'y').commit({ sync: true } as never), 'sync', 'batch commit');
  t.equal(await p.get('x'), undefined);
  await refuses(t, () => ks.snapshot({ at: 1 } as never), 'at', 'snapshot');
  await refuses(t, () => ks.backupTo(nodePath.join(root, 'cp'), { overwrite: true } as never), 'overwrite', 'backupTo');
  t.same(await readdir(root), ['ks'], 'the refused backupTo made nothing');
  t.equal(ks.stats().snapshots, 1, 'only the snapshot made for the get test is open');
  // Known options still work.
  const snap = ks.snapshot();
  t.same(await p.get('a', { snapshot: snap }), Buffer.from('1'));
  const seen: string[] = [];
  for await (const k of p.keys({ gte: 'a', lt: 'b', reverse: false, limit: 5, snapshot: snap })) seen.push(k.toString());
  t.same(seen, ['a']);
  snap.release();
  await p.put('z', '1', { durability: 'sync' });
});

t.test('BackupEngine and openStore', async (t) => {
  const root = await scratchDir(t, 'unknown-options');
  const storeDir = nodePath.join(root, 'store');
  await refuses(t, () => openStore(storeDir, { create: true } as never), 'create', 'openStore');
  await refuses(t, () => BackupEngine.open(storeDir, { lease: 1 } as never), 'lease', 'BackupEngine.open');
  t.same(await readdir(root), [], 'no store was created');
  const store = await openStore(storeDir);
  t.teardown(() => store.close());
  t.throws(() => new BackupEngine(store, { grace: 1 } as never), RangeError, 'the constructor');
  const engine = new BackupEngine(store);
  const ks = await Keyspace.open(nodePath.join(root, 'ks'));
  t.teardown(() => ks.close());
  await refuses(t, () => engine.backup(ks, { name: 'x' } as never), 'name', 'backup');
  t.same(await readdir(root), ['ks'], 'the refused backup made nothing (not even the store)');
  await refuses(t, () => engine.list({ limit: 1 } as never), 'limit', 'list');
  await engine.backup(ks);
  await refuses(t, () => engine.verify('latest', { deep: true } as never), 'deep', 'verify');
  await refuses(t, () => engine.restore('latest', nodePath.join(root, 'restored'), { asOf: 1 } as never), 'asOf', 'restore');
  await refuses(t, () => engine.prune({ keep: 1 } as never), 'keep', 'prune');
  t.equal((await engine.list()).length, 1, 'the refused prune deleted nothing');
});

t.test("CairnLevel: the keyspace options are checked, abstract-level's own stay open", async (t) => {
  const root = await scratchDir(t, 'unknown-options');
  const db = new CairnLevel(nodePath.join(root, 'db'), { compaction: { level0Triger: 2 } } as never);
  const err = (await db.open().catch((e: unknown) => e)) as Error;
  t.match(err, { code: 'LEVEL_DATABASE_NOT_OPEN' }, 'abstract-level wraps the open error');
  t.ok(err.cause instanceof RangeError && /level0Triger/.test(err.cause.message), 'the cause names the nested option Keyspace.open refused');
  const ks = await Keyspace.open(nodePath.join(root, 'ks'));
  t.teardown(() => ks.close());
  t.throws(() => CairnLevel.fromPartition(ks, 'p', { memtableBytes: 1 } as never), /memtableBytes/, 'fromPartition takes no keyspace options');
  // Any other name is forwarded to open() and its hooks, as abstract-level documents.
  const ok = new CairnLevel<string, { v: number }>(nodePath.join(root, 'db'), { partition: 'p', valueEncoding: 'json', memtableBytes: 1 << 20, userland: 1 } as never);
  await ok.put('k', { v: 1 });
  t.same(await ok.get('k'), { v: 1 });
  await ok.close();
});
