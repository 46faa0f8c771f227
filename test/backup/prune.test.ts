// Retention and garbage collection: prune keeps the newest keepLast and everything
// younger than maxAge, deletes the content no kept backup references (never what one
// does), keeps young unreferenced content for the grace period, and a dry run deletes
// nothing. Beside a running backup (leases): prune never deletes content the backup's
// manifest will name, and a backup refuses to start while a prune holds its lease.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { extFor, objectKey } from '../../lib/backup/store-layout.js';
import { ErrorCodes } from '../../lib/errors.js';
import { WatchedStore, Workload, fileStore, gate, readKeyspace, scratchDir, storedKeys } from './backup-helpers.js';

const DAY = 24 * 60 * 60 * 1000;

async function referencedKeys(engine: BackupEngine, ids: string[]): Promise<string[]> {
  const keys = new Set<string>();
  for (const id of ids) for (const f of (await engine.info(id)).files) keys.add(objectKey(f.sha256, extFor(f.path)));
  return [...keys].sort();
}

/** Five backups one day apart (by the injected clock), with writes in between. */
async function fiveDays(t: Test, name: string) {
  const dir = await scratchDir(t, name);
  const root = join(dir, 'store');
  // Starts at the real time: the grace period compares it with the store's real mtimes.
  let now = Date.now();
  const clock = () => now;
  const engine = new BackupEngine(await fileStore(root), { clock });
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  const backups = [];
  for (let day = 0; day < 5; day++) {
    await w.write(600);
    backups.push(await engine.backup(w.ks, { label: `day-${day}` }));
    now += DAY;
  }
  const advance = (ms: number) => {
    now += ms;
  };
  return { dir, root, engine, w, ids: backups.map((b) => b.id), backups, advance, clock };
}

t.test('keepLast keeps the newest backups; content only deleted backups used is collected', async (t) => {
  const { dir, root, engine, w, ids, backups } = await fiveDays(t, 'keep-last');
  const dry = await engine.prune({ keepLast: 2, graceMs: 0, dryRun: true });
  t.same(dry.deleted, ids.slice(0, 3));
  t.same(dry.kept, ids.slice(3));
  t.ok(dry.filesDeleted > 0, 'the dry run finds garbage');
  t.equal((await engine.list()).length, 5, 'a dry run deletes no backup');
  t.same(await storedKeys(root, 'locks'), [], 'a dry run writes no lease');

  const before = await storedKeys(root, 'files');
  const result = await engine.prune({ keepLast: 2, graceMs: 0 });
  t.same(result.deleted, ids.slice(0, 3));
  t.same(result.kept, ids.slice(3));
  t.equal(result.filesDeleted, dry.filesDeleted, 'the dry run predicted the deletions');
  t.equal(result.bytesFreed, dry.bytesFreed);
  t.equal(result.gcSkipped, undefined);
  t.same((await engine.list()).map((b) => b.id), ids.slice(3));
  const after = await storedKeys(root, 'files');
  t.same(after, await referencedKeys(engine, ids.slice(3)), 'exactly the referenced content remains');
  t.equal(before.length - after.length, result.filesDeleted);
  for (const id of ids.slice(3)) t.ok((await engine.verify(id, { full: true })).ok, `${id} still verifies in full`);
  await engine.restore(ids[3], join(dir, 'r'));
  t.same(await readKeyspace(join(dir, 'r')), w.contentsAt(backups[3].seqno));
  t.same(await storedKeys(root, 'locks'), [], 'the prune lease is released');
});

t.test('maxAge keeps everything younger; with keepLast the union is kept', async (t) => {
  const { root, engine, ids, advance } = await fiveDays(t, 'max-age');
  // now = day 5; backups are 5, 4, 3, 2 and 1 days old.
  const byAge = await engine.prune({ maxAgeMs: 2.5 * DAY, graceMs: 0, dryRun: true });
  t.same(byAge.kept, ids.slice(3), 'younger than 2.5 days: the last two');
  const union = await engine.prune({ maxAgeMs: 1.5 * DAY, keepLast: 3, graceMs: 0, dryRun: true });
  t.same(union.kept, ids.slice(2), 'keepLast 3 wins over an age keeping one');
  const union2 = await engine.prune({ maxAgeMs: 3.5 * DAY, keepLast: 1, graceMs: 0, dryRun: true });
  t.same(union2.kept, ids.slice(2), 'an age keeping three wins over keepLast 1');
  const none = await engine.prune({ graceMs: 0 });
  t.same(none.deleted, [], 'with no rule, no backup is deleted');
  t.equal(none.filesDeleted, 0, 'and no referenced content');
  advance(10 * DAY);
  const all = await engine.prune({ maxAgeMs: DAY, graceMs: 0 });
  t.same(all.deleted, ids, 'every backup older than the age is deleted');
  t.same(await storedKeys(root, 'files'), [], 'and then all content');
  t.same(await storedKeys(root, 'backups'), []);
});

t.test('young unreferenced content survives the grace period (a crashed backup resumes)', async (t) => {
  const dir = await scratchDir(t, 'grace');
  const root = join(dir, 'store');
  const store = new WatchedStore(await fileStore(root));
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(1000);
  // Settled (no flush in flight), so the retry's checkpoint holds the same files.
  await w.ks.flush();
  store.beforePut = (key) => {
    if (key.startsWith('backups/')) throw Object.assign(new Error('crash'), { code: 'ECONNRESET' });
  };
  await t.rejects(engine.backup(w.ks), { code: 'ECONNRESET' });
  store.beforePut = undefined;
  const orphans = await storedKeys(root, 'files');
  t.ok(orphans.length > 0);
  const kept = await engine.prune({ keepLast: 1 });
  t.equal(kept.filesDeleted, 0, 'the default grace (1 hour) keeps them');
  t.equal(kept.filesInGrace, orphans.length);
  const retry = await engine.backup(w.ks);
  t.equal(retry.filesUploaded, 0, 'the retry uploads nothing');
  await w.write(50);
  // A flush retires the journals the older backup holds, so it has content of its own.
  await w.ks.flush();
  await engine.backup(w.ks);
  const collected = await engine.prune({ keepLast: 1, graceMs: 0 });
  t.ok(collected.filesDeleted > 0, 'without grace, what only the older backup used is collected');
});

t.test('prune beside a running backup never deletes content the new manifest names', async (t) => {
  const { dir, root, engine, w, ids, clock } = await fiveDays(t, 'beside');
  const store = new WatchedStore(engine.store);
  const racing = new BackupEngine(store, { clock });
  const held = gate();
  const reached = gate();
  store.beforePut = async (key) => {
    if (key.startsWith('backups/')) {
      reached.open();
      await held.wait;
    }
  };
  await w.write(20);
  // Every upload and every head is done: the backup counts on objects that, but for its
  // lease, only the manifests about to be deleted reference.
  const backup = racing.backup(w.ks);
  await reached.wait;
  const pruned = await engine.prune({ keepLast: 0, graceMs: 0 });
  t.same(pruned.deleted, ids, 'manifests are deleted');
  t.equal(pruned.gcSkipped, 'backup-running', 'garbage collection waits for the backup');
  t.equal(pruned.filesDeleted, 0);
  held.open();
  const result = await backup;
  const verified = await engine.verify(result.id, { full: true });
  t.same(verified.problems, [], 'the new backup is complete');
  await engine.restore(result.id, join(dir, 'r'));
  t.same(await readKeyspace(join(dir, 'r')), w.contentsAt(result.seqno));

  const later = await engine.prune({ keepLast: 1, graceMs: 0 });
  t.ok(later.filesDeleted > 0, 'once the backup is done, the next prune collects');
  t.same(await storedKeys(root, 'files'), await referencedKeys(engine, [result.id]));
});

t.test('a backup refuses to start while a prune holds its lease', async (t) => {
  const { root, engine, w, clock } = await fiveDays(t, 'prune-first');
  const store = new WatchedStore(engine.store);
  const pruning = new BackupEngine(store, { clock });
  const held = gate();
  const reached = gate();
  store.beforeDelete = async (key) => {
    if (key.startsWith('backups/')) {
      reached.open();
      await held.wait;
    }
  };
  const prune = pruning.prune({ keepLast: 0, graceMs: 0 });
  await reached.wait;
  await t.rejects(engine.backup(w.ks), { code: ErrorCodes.STORE_IN_USE, details: { reason: 'prune' } });
  held.open();
  const result = await prune;
  t.equal(result.gcSkipped, undefined, 'the refused backup left no lease behind to block collection');
  t.same(await storedKeys(root, 'files'), [], 'everything was collected');
  const next = await engine.backup(w.ks);
  t.equal(next.bytesUploaded, next.bytesStored, 'the next backup uploads everything again');
  t.ok((await engine.verify(next.id, { full: true })).ok);
});

t.test('a backup whose lease lapsed looks again before naming content (and re-uploads what a prune took)', async (t) => {
  const { dir, root, w, clock } = await fiveDays(t, 'lapse');
  const ttl = 300;
  const store = new WatchedStore(await fileStore(root));
  // Real time passes for the leases (the shared clock is the fixture's, offset by it).
  const started = Date.now();
  const shared = () => clock() + (Date.now() - started);
  const backupEngine = new BackupEngine(store, { leaseTtlMs: ttl, clock: shared });
  // Only the backup's lease is meant to lapse. A prune lease of 300 ms lapsed on its own on
  // a loaded host (a put slower than 270 ms), and the prune rightly stopped collecting.
  const pruneEngine = new BackupEngine(await fileStore(root), { leaseTtlMs: 60_000, clock: shared });
  const held = gate();
  const stalled = gate();
  let refreshBlocked = false;
  let firstUpload = true;
  store.beforePut = async (key) => {
    if (key.startsWith('locks/') && refreshBlocked) throw Object.assign(new Error('refresh lost'), { code: 'ECONNRESET' });
    if (key.startsWith('files/') && firstUpload) {
      firstUpload = false;
      refreshBlocked = true;
      stalled.open();
      await held.wait;
      refreshBlocked = false;
    }
  };
  await w.write(300);
  const backup = backupEngine.backup(w.ks, { concurrency: 1 });
  // From the stall on (however long the checkpoint and hashing took), no refresh gets through.
  await stalled.wait;
  await new Promise((resolve) => setTimeout(resolve, ttl * 2));
  const pruned = await pruneEngine.prune({ keepLast: 0, graceMs: 0 });
  t.equal(pruned.gcSkipped, undefined, 'the stalled backup lease has expired: the prune collects');
  t.ok(pruned.filesDeleted > 0);
  held.open();
  const result = await backup;
  t.same((await pruneEngine.verify(result.id, { full: true })).problems, [], 'the backup re-uploaded what the prune deleted');
  await pruneEngine.restore(result.id, join(dir, 'r'));
  t.same(await readKeyspace(join(dir, 'r')), w.contentsAt(result.seqno));
});
