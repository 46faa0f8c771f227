// Concurrency stress: writers on several partitions (puts, deletes, cross-partition
// batches) while memtables flush and journals rotate, and a checkpoint every few
// milliseconds. Every checkpoint reopens equal to an exact model of the writes up to its
// seqno. The model is exact because a write's seqno is known when it is issued (below).
import t from 'tap';
import { join } from 'node:path';
import { Keyspace, type Partition } from '../../lib/index.js';
import { Rng } from '../helpers/rng.js';
import { scaled } from '../helpers/scale.js';
import { type Dump, dumpDir, plain, stagingLeft, tempDir } from './fixtures/checkpoint-fixtures.js';

const CHECKPOINTS = scaled(60, 15);
const PARTITIONS = ['p0', 'p1', 'p2', 'p3'];

/** One committed write: its first seqno and its ops (value undefined = delete). */
interface Logged {
  seqno: number;
  ops: { part: string; key: string; value: string | undefined }[];
}

t.test(`${CHECKPOINTS} checkpoints under concurrent writers, flushes and rotations`, async (t) => {
  const root = await tempDir(t, 'cairn-ckpt-stress-');
  // Writers never wait for room (high frozen-memtable and level-0 limits; flushes and
  // compactions still run), so a write's seqno is assigned synchronously when it is issued,
  // in issue order: `next` below mirrors it, and the checks after each write and at the end
  // confirm it did (if back-pressure ever held a writer, they fail, not the model silently).
  const ks = await Keyspace.open(join(root, 'src'), {
    memtableBytes: 16 * 1024,
    maxImmutableMemtables: 10_000,
    journalFileBytes: 64 * 1024,
    compaction: { level0StopWrites: 10_000 },
  });
  const parts = new Map<string, Partition>();
  for (const name of PARTITIONS) parts.set(name, await ks.partition(name));
  let next = ks.seqno + 1;
  const log: Logged[] = [];
  let stop = false;
  let misordered = 0;

  // A buffered write resolves without an event-loop turn, so each writer waits for a timer
  // turn before every write: otherwise five busy writers starve the timers and the
  // checkpoints' own I/O. It also bounds the data each checkpoint holds (verification time).
  const issue = async (ops: Logged['ops'], write: () => Promise<void>): Promise<void> => {
    await new Promise((r) => setTimeout(r, 0));
    const entry = { seqno: next, ops };
    next += ops.length;
    log.push(entry);
    return write().then(() => {
      if (ks.seqno < entry.seqno + ops.length - 1) misordered++;
    });
  };

  const partitionWriter = async (w: number) => {
    const rng = new Rng(1000 + w);
    const name = PARTITIONS[w];
    const p = parts.get(name)!;
    for (let j = 0; !stop; j++) {
      const key = `w${w}-k${rng.int(0, 60)}`;
      if (rng.next() < 0.3) {
        await issue([{ part: name, key, value: undefined }], () => p.delete(key));
      } else {
        const value = `w${w}-${j}-${'v'.repeat(rng.int(0, 300))}`;
        await issue([{ part: name, key, value }], () => p.put(key, value));
      }
    }
  };

  const batchWriter = async () => {
    const rng = new Rng(77);
    for (let j = 0; !stop; j++) {
      const batch = ks.batch();
      const ops: Logged['ops'] = [];
      for (let n = rng.int(2, 6); n > 0; n--) {
        const part = rng.pick(PARTITIONS);
        const key = `batch-k${rng.int(0, 80)}`;
        if (rng.next() < 0.25) {
          batch.delete(parts.get(part)!, key);
          ops.push({ part, key, value: undefined });
        } else {
          const value = `b-${j}-${n}-${'x'.repeat(rng.int(0, 200))}`;
          batch.put(parts.get(part)!, key, value);
          ops.push({ part, key, value });
        }
      }
      await issue(ops, () => batch.commit());
    }
  };

  const writers = [0, 1, 2, 3].map(partitionWriter).concat(batchWriter());
  const infos: { dest: string; seqno: number; linked: number }[] = [];
  const rng = new Rng(5);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < CHECKPOINTS; i++) {
    await new Promise((r) => setTimeout(r, rng.int(1, 8)));
    const dest = join(root, 'cp', String(i));
    const taking = ks.backupTo(dest).then((info) => {
      infos.push({ dest, seqno: info.seqno, linked: info.filesLinked });
    });
    // Every fourth checkpoint overlaps the next one.
    if (i % 4 === 3) pending.push(taking);
    else await taking;
  }
  await Promise.all(pending);
  stop = true;
  await Promise.all(writers);

  t.equal(misordered, 0, 'every write was visible by the time it resolved at its predicted seqno (no writer was held back)');
  t.equal(ks.seqno, next - 1, `${log.length} writes took exactly the predicted seqnos`);
  t.equal(infos.length, CHECKPOINTS);
  const seqnos = infos.map((i) => i.seqno);
  t.ok(new Set(seqnos).size > CHECKPOINTS / 2, `checkpoints at ${new Set(seqnos).size} distinct seqnos, up to ${Math.max(...seqnos)}`);

  // Replay the log in seqno order, comparing each checkpoint when its seqno is reached.
  infos.sort((a, b) => a.seqno - b.seqno);
  const model: Dump = new Map(PARTITIONS.map((p) => [p, new Map<string, string>()]));
  let at = 0;
  let checked = 0;
  for (const info of infos) {
    while (at < log.length && log[at].seqno + log[at].ops.length - 1 <= info.seqno) {
      for (const op of log[at].ops) {
        if (op.value === undefined) model.get(op.part)!.delete(op.key);
        else model.get(op.part)!.set(op.key, op.value);
      }
      at++;
    }
    if (at < log.length && log[at].seqno <= info.seqno) t.fail(`checkpoint at ${info.seqno} splits the batch at ${log[at].seqno}`);
    const cp = await dumpDir(info.dest);
    if (cp.seqno !== info.seqno) t.fail(`checkpoint ${info.dest} reopens at seqno ${cp.seqno}, reported ${info.seqno}`);
    const same = JSON.stringify(plain(cp.data)) === JSON.stringify(plain(model));
    if (!same) t.same(plain(cp.data), plain(model), `checkpoint at seqno ${info.seqno} equals the model`);
    else checked++;
    if ((await stagingLeft(info.dest)).length > 0) t.fail(`staging left beside ${info.dest}`);
  }
  t.equal(checked, CHECKPOINTS, 'every checkpoint equals the model as of its seqno');
  t.ok(infos.some((i) => i.linked > 2), 'checkpoints linked segments and journals');
  await ks.close();
});
