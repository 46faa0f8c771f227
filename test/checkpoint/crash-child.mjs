// Child process of crash.test.ts (plain JS over dist/): one writer commits numbered
// cross-partition batches while checkpoints are taken one after another into numbered
// destinations; it prints "ack <i>", "start <k> <acked>" and "cp <k> <seqno>" until killed.
import { Keyspace } from '../../dist/index.js';

const [dir, backups, roundArg] = process.argv.slice(2);
const round = Number(roundArg);
const ks = await Keyspace.open(dir, { memtableBytes: 16 * 1024, journalFileBytes: 32 * 1024 });
const a = await ks.partition('a');
const b = await ks.partition('b');
process.stdout.write('ready\n');

let acked = 0;

async function writer() {
  for (let i = 0; ; i++) {
    const batch = ks.batch();
    for (let j = 0; j < 3; j++) batch.put(a, `r${round}-b${i}-${j}`, `v${round}-${i}-${j}-${'x'.repeat(i % 300)}`);
    batch.put(b, `r${round}-b${i}`, `w${round}-${i}`);
    await batch.commit();
    acked = i + 1;
    process.stdout.write(`ack ${i}\n`);
    // A buffered commit resolves without an event-loop turn; yield so checkpoints run.
    await new Promise((r) => setImmediate(r));
  }
}

async function checkpointer() {
  for (let k = 0; ; k++) {
    process.stdout.write(`start ${k} ${acked}\n`);
    const info = await ks.backupTo(`${backups}/r${round}-c${k}`);
    process.stdout.write(`cp ${k} ${info.seqno}\n`);
  }
}

await Promise.all([writer(), checkpointer()]);
