// Followers (docs/shipping.md §8): a writer ships in-process while a follower follows; at
// every seqno the follower reports applying (and at every flush of the writer) its data,
// read through a snapshot, equals a model of the writer's as of that seqno. Writes are
// refused, the position survives close/reopen, a deleted shipped object is a gap error
// (never a silent stall) and a newer backup re-bases the follower past it.
import t from 'tap';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { Follower, type FollowerAppliedEvent, type FollowerRebasedEvent } from '../../lib/backup/index.js';
import { listShipped } from '../../lib/backup/shipped-catalog.js';
import { Keyspace, type Snapshot } from '../../lib/index.js';
import { Rng } from '../helpers/rng.js';
import { scaled } from '../helpers/scale.js';
import { fileStore, scratchDir } from './backup-helpers.js';
import { type Committed, type Contents, commitRandomBatches, modelAt, normalized } from './history-model.js';

/** Partitions without data compare equal to absent ones (a snapshot older than a partition's creation reads it empty). */
function norm(c: Contents): string {
  return normalized(c, true);
}

/** The follower's data as of `snap` (every partition it holds). */
async function readFollower(f: Follower, snap: Snapshot): Promise<Contents> {
  const out: Contents = new Map();
  for (const name of f.partitionNames()) {
    const kv = new Map<string, string>();
    for await (const [k, v] of (await f.partition(name)).entries({ snapshot: snap })) kv.set(k.toString(), v.toString());
    out.set(name, kv);
  }
  return out;
}

/** A writer: a keyspace shipping into a file store, and the model of what it committed. */
async function writer(dir: string) {
  const storeDir = join(dir, 'store');
  const engine = new BackupEngine(await fileStore(storeDir));
  const ks = await Keyspace.open(join(dir, 'ks'), { memtableBytes: 32 * 1024, journalFileBytes: 8 * 1024 });
  const history: Committed[] = [];
  const partitions = ['users', 'audit'];
  for (const name of partitions) {
    await ks.partition(name);
    history.push({ seqno: ks.seqno, created: name, ops: [] });
  }
  const shipper = engine.ship(ks, { intervalMs: 10, maxObjectBytes: 4096 });
  await shipper.flush();
  const rng = new Rng(7);
  const counter = { n: 0 };
  const writeSome = async (count: number): Promise<number> => {
    await commitRandomBatches(ks, partitions, history, () => rng.next(), count, { keys: 150, counter });
    return shipper.flush();
  };
  const addPartition = async (name: string): Promise<void> => {
    await ks.partition(name);
    partitions.push(name);
    history.push({ seqno: ks.seqno, created: name, ops: [] });
  };
  const close = async (): Promise<void> => {
    await shipper.stop();
    await ks.close();
    await engine.close();
  };
  return { storeDir, engine, ks, history, shipper, writeSome, addPartition, close };
}

t.test('a follower follows: at every applied seqno its data equals the writer model', async (t) => {
  const dir = await scratchDir(t, 'follower');
  const w = await writer(dir);
  t.teardown(() => w.close());
  await w.writeSome(40);
  const f = await Follower.open(w.storeDir, join(dir, 'follower'), { pollMs: 10 });
  t.teardown(() => f.close());
  t.equal(f.stats().restores, 1, 'the newest backup was restored');

  // Every 'applied' event: a snapshot at exactly that seqno, checked after.
  const seen: Snapshot[] = [];
  f.on('applied', (e: FollowerAppliedEvent) => {
    const snap = f.snapshot();
    if (snap.seqno !== e.seqno) t.fail(`snapshot ${snap.seqno} taken at applied ${e.seqno}`);
    seen.push(snap);
  });
  const rounds = scaled(8, 4);
  for (let r = 0; r < rounds; r++) {
    if (r === 2) await w.addPartition('late');
    const shipped = await w.writeSome(25);
    t.equal(await f.waitFor(shipped, { timeoutMs: 20_000 }), shipped, `round ${r}: the follower reaches seqno ${shipped}`);
    const snap = f.snapshot();
    t.equal(norm(await readFollower(f, snap)), norm(modelAt(w.history, shipped)), `round ${r}: the follower equals the writer at ${shipped}`);
    snap.release();
  }
  t.ok(seen.length >= rounds, `${seen.length} applied events`);
  let mismatches = 0;
  for (const snap of seen) {
    if (norm(await readFollower(f, snap)) !== norm(modelAt(w.history, snap.seqno))) mismatches++;
    snap.release();
  }
  t.equal(mismatches, 0, `at each of ${seen.length} applied seqnos the data equals the model`);
  const stats = f.stats();
  t.equal(stats.seqno, w.ks.seqno);
  t.same(stats.lag, { seqnos: 0, ms: 0 }, 'caught up');
  t.equal(stats.lastError, undefined);
  t.ok(stats.objectsApplied > 1 && stats.batchesApplied >= rounds * 25);
  t.ok(f.partitionNames().includes('late'), 'a partition created after the base is followed');

  const users = await f.partition('users');
  await t.rejects(users.put('k', 'v'), { code: 'CAIRN_READ_ONLY' });
  await t.rejects(users.delete('k'), { code: 'CAIRN_READ_ONLY' });
  await t.rejects(users.clear(), { code: 'CAIRN_READ_ONLY' });
  await t.rejects(f.partition('nope'), { code: 'CAIRN_NOT_FOUND' });
  t.equal((await users.get('k1'))?.toString(), modelAt(w.history, f.seqno).get('users')?.get('k1'));

  const ac = new AbortController();
  const waiting = f.waitFor(f.seqno + 1000, { signal: ac.signal });
  ac.abort();
  await t.rejects(waiting, { code: 'CAIRN_ABORTED' });
  await t.rejects(f.waitFor(f.seqno + 1000, { timeoutMs: 20 }), { code: 'CAIRN_ABORTED' });
  await t.rejects(Follower.open(w.storeDir, join(dir, 'follower2'), { pollMs: 10, polMs: 5 } as never), RangeError);
});

t.test('resume after close and reopen; a position that does not match the data restores', async (t) => {
  const dir = await scratchDir(t, 'follower-resume');
  const w = await writer(dir);
  t.teardown(() => w.close());
  const fdir = join(dir, 'follower');
  let f = await Follower.open(w.storeDir, fdir, { pollMs: 10 });
  await f.waitFor(await w.writeSome(30));
  await f.close();
  await t.rejects(f.waitFor(f.seqno + 1), { code: 'CAIRN_CLOSED' });
  const state = JSON.parse(await readFile(join(fdir, 'follower.json'), 'utf8')) as { seqno: number };
  t.equal(state.seqno, f.seqno, 'the position is persisted on close');

  const shipped = await w.writeSome(30);
  f = await Follower.open(w.storeDir, fdir, { pollMs: 10 });
  t.equal(f.stats().restores, 0, 'resumed: no restore');
  t.equal(f.seqno, state.seqno, 'from the persisted seqno');
  await f.waitFor(shipped);
  const snap = f.snapshot();
  t.equal(norm(await readFollower(f, snap)), norm(modelAt(w.history, shipped)));
  snap.release();
  await f.close();

  // A position behind the data (a crash after a flush past it): the follower restores.
  await writeFile(join(fdir, 'follower.json'), JSON.stringify({ ...JSON.parse(await readFile(join(fdir, 'follower.json'), 'utf8')), seqno: 3 }));
  f = await Follower.open(w.storeDir, fdir, { pollMs: 10 });
  t.teardown(() => f.close());
  t.equal(f.stats().restores, 1, 'restored instead of trusting data past its position');
  await f.waitFor(w.ks.seqno);
  const snap2 = f.snapshot();
  t.equal(norm(await readFollower(f, snap2)), norm(modelAt(w.history, w.ks.seqno)));
  snap2.release();

  await writeFile(join(dir, 'junk'), 'x');
  await t.rejects(Follower.open(w.storeDir, join(dir, 'store'), { pollMs: 10 }), { code: 'CAIRN_NOT_EMPTY' }, 'a directory that is not a follower\'s is never overwritten');
  t.ok((await readdir(join(dir, 'store'))).includes('store.json'));
});

t.test('a deleted shipped object is a gap error, and a newer backup re-bases past it', async (t) => {
  const dir = await scratchDir(t, 'follower-gap');
  const w = await writer(dir);
  t.teardown(() => w.close());
  const fdir = join(dir, 'follower');
  let f = await Follower.open(w.storeDir, fdir, { pollMs: 10 });
  await f.waitFor(await w.writeSome(10));
  const at = f.seqno;
  await f.close();
  for (let i = 0; i < 3; i++) await w.writeSome(20);
  const ahead = (await listShipped(w.engine.store)).filter((o) => o.firstSeqno > at);
  t.ok(ahead.length >= 3, `${ahead.length} objects ahead of the follower`);
  const victim = ahead[1];
  await rm(join(w.storeDir, victim.key));

  f = await Follower.open(w.storeDir, fdir, { pollMs: 10 });
  t.teardown(() => f.close());
  const error = await new Promise<Error & { code?: string; details?: { missing?: { from: number; to: number } } }>((resolve) => f.once('error', resolve));
  t.equal(error.code, 'CAIRN_NOT_FOUND', 'a gap is an error event');
  t.same(error.details?.missing, { from: victim.firstSeqno, to: victim.lastSeqno }, 'naming the missing range');
  t.equal(f.seqno, ahead[0].lastSeqno, 'applied up to the gap');
  t.equal(f.stats().lastError?.code, 'CAIRN_NOT_FOUND');
  t.ok(f.stats().lag.seqnos > 0, 'and the lag shows it');

  const rebased = new Promise<FollowerRebasedEvent>((resolve) => f.once('rebased', resolve));
  const backup = await w.engine.backup(w.ks);
  const event = await rebased;
  t.equal(event.backup, backup.id, 'the newer backup is restored in its place');
  t.equal(event.from, ahead[0].lastSeqno);
  const shipped = await w.writeSome(10);
  await f.waitFor(shipped, { timeoutMs: 20_000 });
  const snap = f.snapshot();
  t.equal(norm(await readFollower(f, snap)), norm(modelAt(w.history, shipped)), 'and it follows on from there');
  snap.release();
  t.equal(f.stats().lastError, undefined, 'the problem clears once the follower moves on');
});
