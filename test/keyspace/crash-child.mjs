// Child process of crash.test.ts (plain JS over dist/, so each of the many rounds starts fast): writes numbered cross-partition batches (some with a range delete) to a keyspace
// as fast as it can and prints "ack <round> <i>" once each commit resolves, until killed.
import { Keyspace } from '../../dist/index.js';

const [dir, roundArg, durability] = process.argv.slice(2);
const round = Number(roundArg);
const ks = await Keyspace.open(dir, { memtableBytes: 32 * 1024, journalFileBytes: 64 * 1024, durability: durability === 'sync' ? 'sync' : 'buffered' });
const a = await ks.partition('a');
const b = await ks.partition('b');
process.stdout.write('ready\n');

async function commit(i) {
  const batch = ks.batch();
  for (let j = 0; j < 3; j++) batch.put(a, `r${round}-b${i}-${j}`, `v${round}-${i}-${j}-${'x'.repeat(i % 200)}`);
  batch.put(b, `r${round}-b${i}`, `w${round}-${i}`);
  if (i > 0 && i % 7 === 0) batch.delete(a, `r${round}-b${i - 1}-0`);
  // A range delete of keys 1 and 2 of batch i - 5 (nothing else sorts between them).
  if (i % 11 === 10) batch.clear(a, { gte: `r${round}-b${i - 5}-1`, lte: `r${round}-b${i - 5}-2` });
  await batch.commit();
  process.stdout.write(`ack ${round} ${i}\n`);
}

for (let i = 0; ; ) {
  if (i % 10 === 0) {
    // A burst of concurrent commits exercises group commit under the kill.
    await Promise.all([0, 1, 2, 3, 4].map((k) => commit(i + k)));
    i += 5;
  } else {
    await commit(i++);
  }
}
