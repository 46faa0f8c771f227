// The keyspace's public contract: open/create/lock rules, partitions, reads and writes,
// iterators and snapshots, argument validation and the stable error codes.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace, CairnError } from '../../lib/index.js';
import { scriptPath, firstLine, exited } from '../helpers/spawn-ts.js';
import { spawnDist } from '../helpers/spawn-dist.js';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-ks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('creates a keyspace in a missing directory and reopens it', async (t) => {
  const dir = join(await tempDir(t), 'nested', 'ks');
  const ks = await Keyspace.open(dir);
  t.match(ks.id, /^[0-9a-f-]{36}$/);
  const p = await ks.partition('users');
  await p.put('alice', 'A');
  await p.put(Buffer.from([0, 255]), new Uint8Array([1, 2, 3]));
  t.same(await p.get('alice'), Buffer.from('A'));
  t.same(await p.get(Buffer.from([0, 255])), Buffer.from([1, 2, 3]));
  t.equal(await p.get('nobody'), undefined);
  t.equal(await p.has('alice'), true);
  t.equal(await p.has('nobody'), false);
  const id = ks.id;
  await ks.close();
  const again = await Keyspace.open(dir);
  t.equal(again.id, id, 'same keyspace id after reopen');
  t.same(again.partitionNames(), ['users']);
  t.same(await (await again.partition('users')).get('alice'), Buffer.from('A'));
  await again.close();
});

t.test('values come back as copies the caller may mutate', async (t) => {
  const ks = await Keyspace.open(await tempDir(t));
  const p = await ks.partition('p');
  const input = Buffer.from('original');
  await p.put('k', input);
  input.fill(0);
  const got = (await p.get('k'))!;
  t.equal(got.toString(), 'original', 'input buffer was copied on write');
  got.fill(0);
  t.equal((await p.get('k'))!.toString(), 'original', 'output buffer is a copy');
  await ks.close();
});

t.test('delete hides a key, and a later put brings it back', async (t) => {
  const ks = await Keyspace.open(await tempDir(t));
  const p = await ks.partition('p');
  await p.put('k', '1');
  await p.delete('k');
  t.equal(await p.get('k'), undefined);
  await ks.flush();
  t.equal(await p.get('k'), undefined, 'tombstone survives a flush');
  await p.put('k', '2');
  t.same(await p.get('k'), Buffer.from('2'));
  await ks.close();
});

t.test('a second open is refused with CAIRN_LOCKED, in this process and another', async (t) => {
  const dir = await tempDir(t);
  const ks = await Keyspace.open(dir);
  await t.rejects(Keyspace.open(dir), { code: 'CAIRN_LOCKED' });
  await ks.close();
  const child = spawnDist(scriptPath(import.meta.url, 'hold-open-child.mjs'), [dir]);
  t.equal(await firstLine(child), 'open');
  await t.rejects(Keyspace.open(dir), { code: 'CAIRN_LOCKED' }, 'held by a child process');
  child.kill('SIGKILL');
  await exited(child);
  const after = await Keyspace.open(dir);
  t.pass('the lock went with the killed process');
  await after.close();
});

t.test('a non-empty directory that is not a keyspace is refused and left alone', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'precious.txt'), 'keep me');
  await t.rejects(Keyspace.open(dir), { code: 'CAIRN_NOT_A_KEYSPACE' });
  t.equal(await readFile(join(dir, 'precious.txt'), 'utf8'), 'keep me');
  const file = join(dir, 'precious.txt');
  await t.rejects(Keyspace.open(file), { code: 'CAIRN_NOT_A_KEYSPACE' }, 'a file is not a keyspace either');
});

t.test('a newer format is refused with CAIRN_UNSUPPORTED_FORMAT', async (t) => {
  const dir = await tempDir(t);
  await (await Keyspace.open(dir)).close();
  const metaPath = join(dir, 'keyspace.json');
  const meta = JSON.parse(await readFile(metaPath, 'utf8'));
  meta.format = 99;
  await writeFile(metaPath, JSON.stringify(meta));
  await t.rejects(Keyspace.open(dir), { code: 'CAIRN_UNSUPPORTED_FORMAT' });
  await t.resolves(async () => {
    meta.format = 1;
    await writeFile(metaPath, JSON.stringify(meta));
    await (await Keyspace.open(dir)).close();
  }, 'the refusal changed nothing: the keyspace opens once the format is back');
});

t.test('partitions: create, list, delete, recreate empty', async (t) => {
  const dir = await tempDir(t);
  const ks = await Keyspace.open(dir);
  const a = await ks.partition('a');
  const b = await ks.partition('b');
  t.equal(await ks.partition('a'), a, 'one handle per name');
  await a.put('x', '1');
  await b.put('x', '2');
  t.same(ks.partitionNames(), ['a', 'b']);
  await ks.deletePartition('a');
  t.same(ks.partitionNames(), ['b']);
  await t.rejects(a.get('x'), { code: 'CAIRN_NOT_FOUND' }, 'old handle refuses');
  await t.rejects(ks.deletePartition('a'), { code: 'CAIRN_NOT_FOUND' });
  const a2 = await ks.partition('a');
  t.equal(await a2.get('x'), undefined, 'a recreated partition starts empty');
  await ks.close();
  const again = await Keyspace.open(dir);
  t.same(again.partitionNames(), ['a', 'b']);
  t.equal(await (await again.partition('a')).get('x'), undefined, 'old journal records do not replay into the new partition');
  t.same(await (await again.partition('b')).get('x'), Buffer.from('2'));
  await again.close();
});

t.test('bad arguments throw TypeError / RangeError before any I/O', async (t) => {
  const dir = await tempDir(t);
  await t.rejects(Keyspace.open(''), TypeError);
  await t.rejects(Keyspace.open(join(dir, 'x'), { memtableBytes: -1 }), RangeError);
  await t.rejects(Keyspace.open(join(dir, 'x'), { durability: 'fast' as 'sync' }), TypeError);
  await t.rejects(readFile(join(dir, 'x')), { code: 'ENOENT' }, 'nothing was created for the refused opens');
  const ks = await Keyspace.open(join(dir, 'ks'));
  await t.rejects(ks.partition('../evil'), TypeError);
  await t.rejects(ks.partition(''), TypeError);
  const p = await ks.partition('p');
  await t.rejects(p.put(42 as unknown as string, 'v'), TypeError);
  await t.rejects(p.put('k', null as unknown as string), TypeError);
  await t.rejects(p.get({} as unknown as string), TypeError);
  await t.rejects(p.put(Buffer.alloc(70000), 'v'), RangeError);
  t.throws(() => p.entries({ limit: -5 }), RangeError);
  t.throws(() => ks.batch().put({} as never, 'k', 'v'), TypeError);
  t.equal(await p.get('k'), undefined, 'no refused write landed');
  await ks.close();
});

t.test('a closed keyspace rejects with CAIRN_CLOSED', async (t) => {
  const ks = await Keyspace.open(await tempDir(t));
  const p = await ks.partition('p');
  await ks.close();
  await ks.close();
  await t.rejects(p.put('k', 'v'), { code: 'CAIRN_CLOSED' });
  await t.rejects(p.get('k'), { code: 'CAIRN_CLOSED' });
  await t.rejects(ks.partition('q'), { code: 'CAIRN_CLOSED' });
  t.throws(() => ks.snapshot(), { code: 'CAIRN_CLOSED' });
  const err = await p.put('k', 'v').catch((e) => e);
  t.ok(err instanceof CairnError);
});

t.test('batches are atomic and span partitions', async (t) => {
  const dir = await tempDir(t);
  const ks = await Keyspace.open(dir);
  const a = await ks.partition('a');
  const b = await ks.partition('b');
  await a.put('gone', 'x');
  const batch = ks.batch().put(a, 'k1', 'v1').put(b, 'k2', 'v2').delete(a, 'gone');
  t.equal(batch.length, 3);
  const before = ks.seqno;
  await batch.commit();
  t.equal(ks.seqno, before + 3);
  t.same(await a.get('k1'), Buffer.from('v1'));
  t.same(await b.get('k2'), Buffer.from('v2'));
  t.equal(await a.get('gone'), undefined);
  await t.rejects(batch.commit(), { code: 'CAIRN_CLOSED' }, 'a batch commits once');
  await ks.close();
});

t.test('iterators: order, bounds, reverse, limit, keys and values', async (t) => {
  const ks = await Keyspace.open(await tempDir(t), { memtableBytes: 4096 });
  const p = await ks.partition('p');
  const keys = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(4, '0')}`);
  for (const k of keys) await p.put(k, `v-${k}`);
  for (let i = 0; i < 300; i += 3) await p.delete(keys[i]);
  const live = keys.filter((_, i) => i % 3 !== 0);
  const collect = async (it: AsyncIterable<Buffer | [Buffer, Buffer]>) => {
    const out: string[] = [];
    for await (const x of it) out.push(Array.isArray(x) ? `${x[0]}=${x[1]}` : x.toString());
    return out;
  };
  t.same(await collect(p.keys()), live);
  t.same(await collect(p.values({ limit: 2 })), live.slice(0, 2).map((k) => `v-${k}`));
  t.same(await collect(p.keys({ gt: 'k0010', lte: 'k0020' })), live.filter((k) => k > 'k0010' && k <= 'k0020'));
  t.same(await collect(p.keys({ reverse: true, lt: 'k0100', limit: 5 })), live.filter((k) => k < 'k0100').reverse().slice(0, 5));
  t.same((await collect(p.entries({ gte: 'k0298' })))[0], 'k0298=v-k0298');
  await ks.close();
});

t.test('an iterator reads the view it was created with', async (t) => {
  const ks = await Keyspace.open(await tempDir(t), { memtableBytes: 4096 });
  const p = await ks.partition('p');
  for (let i = 0; i < 100; i++) await p.put(`k${String(i).padStart(3, '0')}`, 'old');
  const it = p.entries();
  const first = await it.next();
  for (let i = 0; i < 100; i++) await p.put(`k${String(i).padStart(3, '0')}`, 'new');
  await p.put('k050x', 'inserted later');
  await ks.flush();
  const seen = [first.value as [Buffer, Buffer]];
  for await (const kv of it) seen.push(kv);
  t.equal(seen.length, 100, 'no entry added after the iterator was created');
  t.ok(seen.every(([, v]) => v.toString() === 'old'), 'every value as of creation');
  await ks.close();
});

t.test('snapshots give repeatable reads across writes and flushes', async (t) => {
  const ks = await Keyspace.open(await tempDir(t), { memtableBytes: 4096 });
  const p = await ks.partition('p');
  await p.put('a', '1');
  const snap = ks.snapshot();
  await p.put('a', '2');
  await p.put('b', '3');
  await ks.flush();
  for (let i = 0; i < 200; i++) await p.put(`f${i}`, 'x'.repeat(50));
  t.same(await p.get('a', { snapshot: snap }), Buffer.from('1'));
  t.equal(await p.get('b', { snapshot: snap }), undefined);
  const seen: string[] = [];
  for await (const k of p.keys({ snapshot: snap })) seen.push(k.toString());
  t.same(seen, ['a']);
  t.same(await p.get('a'), Buffer.from('2'));
  snap.release();
  await t.rejects(p.get('a', { snapshot: snap }), { code: 'CAIRN_RELEASED' });
  await ks.close();
});

t.test('sync durability and a flush survive reopen', async (t) => {
  const dir = await tempDir(t);
  const ks = await Keyspace.open(dir, { durability: 'sync', memtableBytes: 2048 });
  const p = await ks.partition('p');
  await Promise.all(Array.from({ length: 200 }, (_, i) => p.put(`k${i}`, `v${i}`)));
  await p.put('b', 'buffered', { durability: 'buffered' });
  await ks.close();
  const again = await Keyspace.open(dir);
  const q = await again.partition('p');
  for (let i = 0; i < 200; i += 17) t.same(await q.get(`k${i}`), Buffer.from(`v${i}`));
  t.same(await q.get('b'), Buffer.from('buffered'));
  await again.close();
});

t.test('an empty directory with debris of a crashed create is completed', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'journal'));
  const ks = await Keyspace.open(dir);
  t.same(ks.partitionNames(), []);
  await ks.close();
});

t.test('stats report levels, segments, memtables, journals and snapshots', async (t) => {
  const ks = await Keyspace.open(await tempDir(t), { memtableBytes: 4096 });
  const p = await ks.partition('p');
  t.equal(p.keyspace, ks);
  // Random values: compression cannot shrink them below what was written.
  for (let i = 0; i < 300; i++) await p.put(`k${i}`, randomBytes(40));
  await ks.flush();
  await p.put('after', 'flush');
  const snap = ks.snapshot();
  const stats = ks.stats();
  t.equal(stats.seqno, ks.seqno);
  const ps = stats.partitions.p;
  t.ok(ps.segments >= 1, `${ps.segments} segments`);
  t.equal(ps.segments, ps.levels.reduce((n, l) => n + l.segments, 0));
  t.ok(ps.segmentBytes > 300 * 40, 'segment bytes cover the data written');
  t.equal(ps.levels.reduce((n, l) => n + l.entries, 0), 300, 'every flushed entry is counted once, in whichever level compaction put it');
  t.ok(ps.memtables.bytes > 0, 'the write after the flush sits in a memtable');
  t.ok(ps.persistedSeqno >= 300);
  t.ok(stats.journal.bytes > 0);
  t.ok(existsSync(join(ks.path, 'journal', `${String(stats.journal.activeFile).padStart(6, '0')}.jnl`)), `the active journal ${stats.journal.activeFile} is on disk`);
  t.equal(stats.snapshots, 1);
  snap.release();
  t.equal(ks.stats().snapshots, 0);
  await ks.close();
  t.throws(() => ks.stats(), { code: 'CAIRN_CLOSED' });
});
