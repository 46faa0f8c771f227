// Child process of open-files.test.ts (plain JS over dist/), started under `ulimit -n 256`:
// opens the keyspace given (maxOpenFiles from argv, "default" for the default), reads every
// key point-wise and by forward and reverse scans, and prints one JSON line of what it saw.
import { Keyspace } from '../../dist/index.js';

const [dir, maxOpenFiles, keyCount] = process.argv.slice(2);
const ks = await Keyspace.open(dir, maxOpenFiles === 'default' ? {} : { maxOpenFiles: Number(maxOpenFiles) });
const p = await ks.partition('p');
const keys = Array.from({ length: Number(keyCount) }, (_, i) => `k${String(i).padStart(6, '0')}`);
const values = await p.getMany(keys);
const found = values.filter((v, i) => v !== undefined && v.toString().startsWith(`${keys[i]}=`)).length;
let forward = 0;
for await (const [k, v] of p.entries()) if (v.toString().startsWith(`${k}=`)) forward++;
let reverse = 0;
for await (const k of p.keys({ reverse: true })) if (k.toString() === keys[keys.length - 1 - reverse]) reverse++;
const stats = ks.stats();
await ks.close();
process.stdout.write(`${JSON.stringify({ found, forward, reverse, segments: stats.partitions.p.segments, openFiles: stats.openFiles })}\n`);
