// Child process of compaction-crash.test.ts (plain JS over dist/, so each round starts fast):
// commits numbered batches one at a time with tiny memtables, journals and level budgets,
// so flushes, merges and journal GC run constantly, until the parent SIGKILLs it.
// Prints "ack <i>" after each commit resolves and "stats <merges> <compacting> <journals>" now and then.
// The batch contents are a pure function of (round, i): compaction-crash.test.ts replays them.
import { Keyspace } from '../../dist/index.js';

const [dir, roundArg, mode] = process.argv.slice(2);
const round = Number(roundArg);
const SLOTS = 200;
const ks = await Keyspace.open(dir, {
  memtableBytes: 8 * 1024,
  journalFileBytes: 8 * 1024,
  maxJournalBytes: 32 * 1024,
  blockSize: 512,
  compaction: { level0Trigger: 2, baseLevelBytes: 8 * 1024, levelMultiplier: 2, targetFileBytes: 4 * 1024, inProcess: mode === 'in-process' },
});
const a = await ks.partition('a');
const b = await ks.partition('b');
const c = await ks.partition('c');
process.stdout.write('ready\n');

for (let i = 0; ; i++) {
  const slot = i % SLOTS;
  const batch = ks.batch();
  for (let j = 0; j < 3; j++) batch.put(a, `r${round}-s${slot}-${j}`, `v${round}-${i}-${j}-${'x'.repeat(i % 50)}`);
  batch.put(b, `r${round}-s${slot}`, `w${round}-${i}`);
  batch.put(b, `r${round}-last`, String(i));
  if (i % 7 === 0) batch.delete(a, `r${round}-s${(slot + 3) % SLOTS}-0`);
  // Partition c is cold: its rare writes hold old journals back until journal GC flushes it.
  if (i % 50 === 0) batch.put(c, `r${round}-c${i}`, `c${i}`);
  await batch.commit();
  process.stdout.write(`ack ${i}\n`);
  if (i % 25 === 0) {
    const s = ks.stats();
    const parts = Object.values(s.partitions);
    const merges = parts.reduce((n, p) => n + p.compactionsDone, 0);
    process.stdout.write(`stats ${merges} ${parts.some((p) => p.compacting) ? 1 : 0} ${s.journal.files}\n`);
  }
}
