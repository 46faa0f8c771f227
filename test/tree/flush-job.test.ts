// The flush as a worker job: entries packed into one buffer round-trip exactly, packing
// yields to the event loop, a worker flush writes what an in-process one writes (the
// packed buffer moved, not copied), and a real ENOSPC in the worker (tmpfs) comes back
// coded and leaves no file.
import t from 'tap';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { EntryKind, type Entry } from '../../lib/codec/entry.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { Memtable } from '../../lib/memtable/memtable.js';
import { EntryPacker, PACKED_HEADER_BYTES, unpackEntries } from '../../lib/memtable/packed-entries.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { type FlushJob, flushOnWorker, packForFlush, runFlush } from '../../lib/tree/flush-job.js';
import { WorkerPool } from '../../lib/workers/worker-pool.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { turnCounter } from '../helpers/turns.js';

const fs = new NodeFileSystem();
const pool = new WorkerPool({ size: 1 });
t.teardown(() => pool.close());

const show = (entries: Iterable<Entry>): string[] => [...entries].map((e) => `${e.key.toString('hex')}@${e.seqno}:${e.kind}:${e.value.toString('hex')}`);

function filledMemtable(count: number, valueBytes: number): Memtable {
  const m = new Memtable();
  for (let i = 0; i < count; i++) {
    const key = Buffer.from(`key${String(i * 7919 % count).padStart(8, '0')}`);
    // Random values: compression must not shrink the segment (the ENOSPC case needs its size).
    m.insert(key, i + 1, EntryKind.Put, randomBytes(valueBytes));
    // Overwrites and deletes: only the newest version of each key is packed.
    if (i % 5 === 0) m.insert(key, count + i + 1, i % 10 === 0 ? EntryKind.Delete : EntryKind.Put, i % 10 === 0 ? Buffer.alloc(0) : Buffer.from('newer'));
  }
  m.freeze();
  return m;
}

async function readSegment(file: string): Promise<Entry[]> {
  const reader = await SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache(0) });
  const out: Entry[] = [];
  const cursor = reader.cursor();
  for (let e = cursor.next(); e !== undefined; e = cursor.next()) out.push({ ...e, key: Buffer.from(e.key), value: Buffer.from(e.value) });
  await reader.close();
  return out;
}

t.test('packed entries round-trip exactly, seqnos past 2^32 and empty values included', async (t) => {
  const entries: Entry[] = [
    { key: Buffer.from('a'), seqno: 2 ** 40 + 3, kind: EntryKind.Put, value: Buffer.from('one') },
    { key: Buffer.from('b'), seqno: 7, kind: EntryKind.Delete, value: Buffer.alloc(0) },
    { key: Buffer.alloc(0), seqno: Number.MAX_SAFE_INTEGER, kind: EntryKind.Put, value: Buffer.alloc(300, 9) },
  ];
  const capacity = entries.reduce((n, e) => n + PACKED_HEADER_BYTES + e.key.length + e.value.length, 0);
  const packer = new EntryPacker(capacity);
  for (const e of entries) packer.add(e);
  const packed = packer.finish();
  t.equal(packed.length, capacity, 'exactly the bytes the format says');
  t.same(show(unpackEntries(packed)), show(entries));
  t.throws(() => packer.add(entries[0]), RangeError, 'past its capacity a packer refuses');
});

t.test('packForFlush packs the newest version of each key and gives the loop turns', async (t) => {
  const m = filledMemtable(20_000, 20);
  const counter = turnCounter();
  const packed = await packForFlush(m, 0.001);
  const turns = counter.stop();
  t.same(show(unpackEntries(packed)), show(m.newestEntries()));
  t.ok(turns >= Math.floor(20_000 / 256), `packing yielded ${turns} times`);
  t.ok(packed.buffer.byteLength <= m.dataBytes + m.keyCount * PACKED_HEADER_BYTES, 'one buffer, within the bound the memtable gives');
});

t.test('a flush on a worker writes what an in-process flush writes; the packed buffer moves', async (t) => {
  const dir = t.testdir({ here: {}, there: {} });
  const m = filledMemtable(5000, 100);
  const job = async (where: string): Promise<FlushJob> => ({
    path: path.join(dir, where, '000001.sst'),
    dir: path.join(dir, where),
    entries: await packForFlush(m, 1),
    blockSize: 1024,
    bloomBitsPerKey: 10,
  });
  const local = await runFlush(fs, await job('here'));
  const onWorker = await job('there');
  const remote = await flushOnWorker(onWorker, pool);
  t.equal(onWorker.entries.buffer.byteLength, 0, 'transferred, not copied');
  t.ok(Buffer.isBuffer(remote.minKey) && Buffer.isBuffer(remote.maxKey), 'keys come back as Buffers');
  t.same({ ...remote, createdAt: 0 }, { ...local, createdAt: 0 });
  t.same(show(await readSegment(path.join(dir, 'there', '000001.sst'))), show(m.newestEntries()));
  t.same(show(await readSegment(path.join(dir, 'here', '000001.sst'))), show(m.newestEntries()));
  // An exclusive create: a flush never overwrites a file.
  await t.rejects(flushOnWorker(await job('there'), pool), { code: 'EEXIST' });
});

t.test('a real ENOSPC in a worker flush (tmpfs) comes back as ENOSPC and leaves no file', async (t) => {
  const mounted = mountTmpfs(t, 1);
  if (mounted === undefined) {
    t.comment('not root: flush-faults.test.ts covers every failing call through the seam');
    t.pass('no tmpfs');
    return;
  }
  const m = filledMemtable(20_000, 100);
  const job: FlushJob = { path: path.join(mounted, '000001.sst'), dir: mounted, entries: await packForFlush(m, 1), blockSize: 4096, bloomBitsPerKey: 10 };
  await t.rejects(flushOnWorker(job, pool), { code: 'ENOSPC', syscall: 'write' });
  t.same(await fs.readdir(mounted), []);
});
