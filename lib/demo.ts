// `npm run demo`: a guided tour of the public API in a temporary directory — write, read,
// batch, scan, snapshot, flush, reopen — printing what it does. Removes its directory after.
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Keyspace } from './index.js';
import { defaultFileSystem } from './fs/index.js';

const fs = defaultFileSystem();
const dir = path.join(os.tmpdir(), `cairn-demo-${randomBytes(4).toString('hex')}`);
const say = (line: string) => console.log(line);

async function demo(): Promise<void> {
  say(`cairn demo — file system: ${fs.kind}, directory: ${dir}`);

  let ks = await Keyspace.open(dir);
  const users = await ks.partition('users');
  const audit = await ks.partition('audit');
  say(`opened a new keyspace ${ks.id} with partitions ${ks.partitionNames().join(', ')}`);

  await users.put('alice', JSON.stringify({ name: 'Alice', plan: 'pro' }));
  await users.put('bob', JSON.stringify({ name: 'Bob', plan: 'free' }));
  say(`put alice, bob; get alice -> ${(await users.get('alice'))?.toString()}`);

  const batch = ks.batch();
  batch.put(users, 'carol', JSON.stringify({ name: 'Carol', plan: 'pro' }));
  batch.delete(users, 'bob');
  batch.put(audit, `0001`, 'carol created, bob deleted');
  await batch.commit();
  say(`committed one atomic batch across two partitions (seqno now ${ks.seqno})`);

  const snap = ks.snapshot();
  await users.put('alice', JSON.stringify({ name: 'Alice', plan: 'enterprise' }));
  say(`snapshot at seqno ${snap.seqno} still reads alice -> ${(await users.get('alice', { snapshot: snap }))?.toString()}`);
  say(`the latest read gives alice -> ${(await users.get('alice'))?.toString()}`);
  snap.release();

  const started = process.hrtime.bigint();
  const n = 50_000;
  const bulk = await ks.partition('bulk');
  for (let i = 0; i < n; i += 1000) {
    const b = ks.batch();
    for (let j = i; j < i + 1000; j++) b.put(bulk, `key-${String(j).padStart(8, '0')}`, `value-${j}`);
    await b.commit();
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  say(`wrote ${n} entries in batches of 1,000 in ${ms.toFixed(0)} ms`);
  await ks.flush();
  say('flushed the memtables into segments');

  const scanned: string[] = [];
  for await (const [k, v] of users.entries()) scanned.push(`${k.toString()}=${JSON.parse(v.toString()).plan}`);
  say(`scan users: ${scanned.join(', ')}`);
  let count = 0;
  for await (const _ of bulk.keys({ gte: 'key-00010000', lt: 'key-00020000' })) count++;
  say(`range scan of bulk [key-00010000, key-00020000) -> ${count} keys`);

  await ks.close();
  say('closed; reopening…');
  ks = await Keyspace.open(dir);
  const reopened = await ks.partition('users');
  say(`after reopen: bob -> ${String(await reopened.get('bob'))}, carol -> ${(await reopened.get('carol'))?.toString()}`);
  say(`bulk key-00049999 -> ${(await (await ks.partition('bulk')).get('key-00049999'))?.toString()}`);
  await ks.close();
}

try {
  await demo();
  say('demo finished');
} finally {
  await fs.removeTree(dir);
}
