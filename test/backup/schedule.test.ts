// engine.schedule: backups on a timer that never overlap, a prune (and a verify) after
// each, a missed run caught up at start, failures reported and the schedule going on.
import t from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { parseDuration } from '../../lib/backup/schedule.js';
import { Keyspace } from '../../lib/index.js';
import { until } from '../helpers/until.js';
import { WatchedStore, fileStore, scratchDir } from './backup-helpers.js';

t.test('runs on a timer, prunes and verifies after each, never two at once', async (t) => {
  const dir = await scratchDir(t, 'schedule');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store, { graceMs: 0 });
  const ks = await Keyspace.open(join(dir, 'ks'));
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  let inFlight = 0;
  let maxInFlight = 0;
  store.beforePut = async (key) => {
    if (!key.startsWith('backups/')) return;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    // A slow manifest write: longer than the interval, so a second run would overlap if it could.
    await new Promise((resolve) => setTimeout(resolve, 60));
    inFlight--;
  };
  const schedule = engine.schedule(ks, { every: 20, keepLast: 2, verify: true });
  const backups: string[] = [];
  const prunes: number[] = [];
  let verified = 0;
  schedule.on('backup', (b: { id: string }) => backups.push(b.id));
  schedule.on('prune', (r: { deleted: string[] }) => prunes.push(r.deleted.length));
  schedule.on('verify', (v: { ok: boolean }) => verified += v.ok ? 1 : 0);
  await until('four runs', () => schedule.stats().runs >= 4);
  await schedule.stop();
  t.equal(maxInFlight, 1, 'runs never overlap');
  t.ok(backups.length >= 4);
  t.equal(verified, backups.length, 'each backup verified');
  t.ok((await engine.list()).length <= 2, 'keepLast 2 after each run');
  t.ok(prunes.some((n) => n > 0), 'prunes deleted older backups');
  t.equal(schedule.stats().nextRunAt, undefined, 'no next run after stop');
  const runs = schedule.stats().runs;
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.equal(schedule.stats().runs, runs, 'nothing runs after stop');
});

t.test('a run missed before a restart is caught up at once; a recent backup waits an interval', async (t) => {
  const dir = await scratchDir(t, 'schedule-catchup');
  const store = await fileStore(join(dir, 'store'));
  const ks = await Keyspace.open(join(dir, 'ks'));
  t.teardown(() => ks.close());
  await (await ks.partition('p')).put('a', '1');
  await new BackupEngine(store).backup(ks);

  const fresh = new BackupEngine(store).schedule(ks, { every: '1h' });
  await until('planned', () => fresh.stats().nextRunAt !== undefined);
  t.ok(fresh.stats().nextRunAt!.getTime() > Date.now() + 50 * 60_000, 'the newest backup is recent: the next run is about an hour away');
  await fresh.stop();

  // Two hours later (by the engine's clock): the hourly run was missed.
  const later = new BackupEngine(store, { clock: () => Date.now() + 2 * 3_600_000 });
  const catchUp = later.schedule(ks, { every: '1h' });
  await until('the missed run', () => catchUp.stats().runs >= 1);
  await catchUp.stop();
  t.equal((await later.list()).length, 2, 'caught up with one backup at start');
});

t.test('failures are reported and the schedule goes on; options are checked', async (t) => {
  const dir = await scratchDir(t, 'schedule-fail');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const ks = await Keyspace.open(join(dir, 'ks'));
  t.teardown(() => ks.close());
  let fail = true;
  store.beforePut = (key) => {
    if (fail && key.startsWith('backups/')) throw Object.assign(new Error('store full'), { code: 'ENOSPC' });
  };
  const schedule = engine.schedule(ks, { every: 15 });
  const errors: unknown[] = [];
  schedule.on('error', (err) => errors.push(err));
  await until('a failed run', () => schedule.stats().failures >= 1);
  t.equal(schedule.stats().lastError?.code, 'ENOSPC');
  fail = false;
  await until('a good run after it', () => schedule.stats().lastBackup !== undefined);
  await schedule.stop();
  t.ok(errors.length >= 1, "'error' events");

  t.throws(() => engine.schedule(ks, {} as never), TypeError);
  t.throws(() => engine.schedule(ks, { every: 'soon' }), RangeError);
  t.throws(() => engine.schedule(ks, { every: 5 }), RangeError);
  t.throws(() => engine.schedule(ks, { every: '1h', keepLast: 0 }), RangeError);
  t.throws(() => engine.schedule(ks, { every: '1h', bogus: 1 } as never), RangeError);
  t.equal(parseDuration('90s', 'x'), 90_000);
  t.equal(parseDuration('1.5h', 'x'), 5_400_000);
  t.equal(parseDuration('1d', 'x'), 86_400_000);
});
