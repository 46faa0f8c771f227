// Point-in-time restore against a model: a writer commits batches across partitions (and
// creates one partition midway) while a shipper runs and two backups are taken; restores
// to many seqnos and times (backup and object boundaries included) equal the model as of
// that target. Then the window, dryRun, refusals (beyond the window, before the oldest
// backup, a deleted object), and prune keeping the window whole.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { listShipped, fetchShipped } from '../../lib/backup/shipped-catalog.js';
import { Keyspace } from '../../lib/index.js';
import { readKeyspace } from '../helpers/keyspace-content.js';
import { Rng } from '../helpers/rng.js';
import { scaled } from '../helpers/scale.js';
import { fileStore, scratchDir } from './backup-helpers.js';

type Contents = Map<string, Map<string, string>>;

interface Committed {
  /** Last seqno of the batch (or the registry record's seqno). */
  seqno: number;
  partition?: string;
  created?: string;
  ops: { partition: string; key: string; value: string | undefined }[];
}

function modelAt(history: readonly Committed[], seqno: number): Contents {
  const out: Contents = new Map();
  for (const c of history) {
    if (c.seqno > seqno) break;
    if (c.created !== undefined) out.set(c.created, out.get(c.created) ?? new Map());
    for (const op of c.ops) {
      const kv = out.get(op.partition) ?? new Map<string, string>();
      out.set(op.partition, kv);
      if (op.value === undefined) kv.delete(op.key);
      else kv.set(op.key, op.value);
    }
  }
  return out;
}

function same(a: Contents, b: Contents): boolean {
  const norm = (c: Contents) => JSON.stringify([...c].sort(([x], [y]) => (x < y ? -1 : 1)).map(([p, kv]) => [p, [...kv].sort(([x], [y]) => (x < y ? -1 : 1))]));
  return norm(a) === norm(b);
}

t.test('restores to seqnos and times equal the model as of the target', async (t) => {
  const dir = await scratchDir(t, 'pitr');
  const storeDir = join(dir, 'store');
  const engine = new BackupEngine(await fileStore(storeDir));
  const ks = await Keyspace.open(join(dir, 'ks'), { memtableBytes: 32 * 1024, journalFileBytes: 8 * 1024 });
  t.teardown(() => ks.close());
  const prng = new Rng(11);
  const random = () => prng.next();
  const history: Committed[] = [];
  const partitions = ['users', 'audit'];
  for (const name of partitions) {
    await ks.partition(name);
    history.push({ seqno: ks.seqno, created: name, ops: [] });
  }
  const shipper = engine.ship(ks, { intervalMs: 10, maxObjectBytes: 4096 });
  await shipper.flush();
  let n = 0;
  const writeSome = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const b = ks.batch();
      const ops: Committed['ops'] = [];
      const size = 1 + Math.floor(random() * 3);
      for (let j = 0; j < size; j++) {
        const partition = partitions[Math.floor(random() * partitions.length)];
        const key = `k${Math.floor(random() * 200)}`;
        const p = await ks.partition(partition);
        if (random() < 0.15) {
          b.delete(p, key);
          ops.push({ partition, key, value: undefined });
        } else {
          const value = `${n++}`.padEnd(20 + Math.floor(random() * 60), 'v');
          b.put(p, key, value);
          ops.push({ partition, key, value });
        }
      }
      await b.commit();
      history.push({ seqno: ks.seqno, ops });
    }
  };
  await writeSome(120);
  const first = await engine.backup(ks);
  await writeSome(120);
  await ks.partition('late');
  partitions.push('late');
  history.push({ seqno: ks.seqno, created: 'late', ops: [] });
  await writeSome(120);
  const second = await engine.backup(ks);
  await writeSome(80);
  await shipper.flush();
  await shipper.stop();

  const objects = await listShipped(engine.store);
  const times = new Map<number, number>();
  for (const o of objects) {
    const fetched = await fetchShipped(engine.store, { compression: 'none' }, o.key);
    for (const r of fetched.records) times.set(r.lastSeqno, r.timeMs);
  }
  const backups = await engine.list();
  t.equal(backups.length, 2 + 1, 'the base backup of the stream and the two taken');
  const window = await engine.window();
  t.equal(window.to?.seqno, ks.seqno, 'the window reaches the last commit');
  t.equal(window.from?.seqno, backups[0].seqno, 'from the oldest backup');
  t.same(window.gaps, []);

  // Targets: random seqnos, every backup's seqno, object boundaries, the window's ends.
  const lo = backups[0].seqno;
  const targets = new Set<number>([lo, first.seqno, second.seqno, first.seqno + 1, ks.seqno]);
  for (const o of objects.slice(0, 3)) targets.add(o.lastSeqno).add(o.firstSeqno);
  for (let i = 0; i < scaled(5, 2); i++) targets.add(lo + Math.floor(random() * (ks.seqno - lo + 1)));
  let k = 0;
  for (const target of [...targets].filter((s) => s >= lo && s <= ks.seqno)) {
    const out = join(dir, `r${k++}`);
    const result = await engine.restore('latest', out, { toSeqno: target });
    const expectedSeqno = Math.max(...history.filter((c) => c.seqno <= target).map((c) => c.seqno), lo);
    t.equal(result.seqno, expectedSeqno, `toSeqno ${target}: the last whole batch at or below it`);
    t.ok(same(await readKeyspace(out), modelAt(history, target)), `toSeqno ${target}: equals the model`);
  }
  // Times: a batch's own commit time (inclusive), and the one just before the next batch.
  const timed = [...times].filter(([s]) => s > lo).sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < scaled(4, 2); i++) {
    const [, time] = timed[Math.floor(random() * timed.length)];
    const out = join(dir, `r${k++}`);
    const result = await engine.restore('latest', out, { toTime: new Date(time).toISOString() });
    const expectedSeqno = Math.max(...timed.filter(([, tm]) => tm <= time).map(([s]) => s));
    t.equal(result.seqno, expectedSeqno, `toTime ${time}: every batch committed at or before it`);
    t.ok(same(await readKeyspace(out), modelAt(history, expectedSeqno)), `toTime ${time}: equals the model`);
    t.equal(result.plan.time.getTime(), times.get(expectedSeqno));
  }

  const plan = await engine.restore('latest', join(dir, 'dry'), { toSeqno: ks.seqno, dryRun: true });
  t.equal(plan.seqno, ks.seqno);
  t.equal(plan.backup.id, backups.at(-1)?.id, 'the newest backup at or below the target is the base');
  t.ok(plan.objects.length > 0 && plan.bytes > 0);
  t.notOk((await readdir(dir)).includes('dry'), 'a dry run writes nothing');

  await t.rejects(engine.restore('latest', join(dir, 'x1'), { toSeqno: ks.seqno + 5 }), { code: 'CAIRN_NOT_FOUND' }, 'beyond the last shipped batch');
  await t.rejects(engine.restore('latest', join(dir, 'x2'), { toTime: Date.now() + 60_000 }), { code: 'CAIRN_NOT_FOUND' }, 'a time after the last shipped batch');
  if (lo > 0) await t.rejects(engine.restore('latest', join(dir, 'x3'), { toSeqno: lo - 1 }), { code: 'CAIRN_NOT_FOUND' }, 'before the oldest backup');
  await t.rejects(engine.restore('latest', join(dir, 'x4'), { toSeqno: 1, toTime: 1 }), RangeError);
  await t.rejects(engine.restore('latest', join(dir, 'x5'), { dryRun: true }), RangeError);

  // Prune keeping one backup: objects below it go, and a moment just after it still restores.
  const pruned = await engine.prune({ keepLast: 1 });
  t.ok(pruned.journalObjectsDeleted > 0, `shipped objects below the oldest kept backup are deleted (${pruned.journalObjectsDeleted})`);
  const kept = (await engine.list())[0];
  t.ok((await listShipped(engine.store)).every((o) => o.lastSeqno > kept.seqno), 'none at or below it is left');
  const after = timed.find(([s]) => s > kept.seqno);
  if (after !== undefined) {
    const out = join(dir, 'after-prune');
    const result = await engine.restore('latest', out, { toTime: after[1] });
    t.ok(same(await readKeyspace(out), modelAt(history, result.seqno)) && result.seqno >= after[0], 'a time just after the oldest kept backup still restores');
  }

  // A deleted object is a gap in the window, and a restore across it is refused.
  const remaining = await listShipped(engine.store);
  const victim = remaining[Math.floor(remaining.length / 2)];
  await engine.store.delete(victim.key);
  const broken = await engine.window();
  t.same(broken.gaps, [{ from: victim.firstSeqno, to: victim.lastSeqno }], 'window() reports the deleted range as a gap');
  await t.rejects(engine.restore('latest', join(dir, 'x6'), { toSeqno: victim.lastSeqno }), { code: 'CAIRN_NOT_FOUND', details: { missing: { from: victim.firstSeqno } } });
  t.notOk((await readdir(dir)).includes('x6'), 'nothing is written for a refused restore');
});
