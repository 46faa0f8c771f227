// Child process of shipping-crash.test.ts: opens the keyspace, starts a shipper into the
// file:// store, and commits two-put batches (a<n>, b<n>) from n = argv[4] on; after every
// tenth batch it waits until the store holds it and prints `durable <n>`. The parent
// SIGKILLs it at a random moment.
import { Keyspace } from '../../dist/index.js';
import { BackupEngine } from '../../dist/backup/index.js';

const [dir, storeUrl, first] = process.argv.slice(2);
const ks = await Keyspace.open(dir, { journalFileBytes: 16 * 1024 });
const engine = await BackupEngine.open(storeUrl);
const shipper = engine.ship(ks, { intervalMs: 20 });
const p = await ks.partition('p');
for (let n = Number(first); ; n++) {
  const b = ks.batch();
  b.put(p, `a${n}`, String(n));
  b.put(p, `b${n}`, String(n).padEnd(80, '.'));
  await b.commit();
  if (n % 10 === 9) {
    await shipper.waitFor(ks.seqno);
    process.stdout.write(`durable ${n}\n`);
  }
}
