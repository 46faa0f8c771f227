// Failures while writing or reading a segment: every failed write leaves no file behind
// and reports the file system's own error; read failures surface without breaking the reader.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { EntryKind, type Entry } from '../../lib/codec/entry.js';
import { FaultFileSystem, type FaultOp } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';

/** About 700 KiB: three 256 KiB write chunks (random values: compression leaves them as they are). */
const entries: Entry[] = Array.from({ length: 3000 }, (_, i) => ({
  key: Buffer.from(`key-${String(i).padStart(6, '0')}`),
  seqno: i + 1,
  kind: EntryKind.Put,
  value: randomBytes(220),
}));

function faultFs(root: string): FaultFileSystem {
  return new FaultFileSystem(new NodeFileSystem(), { rewritePath: (p) => p.replace(root, '<root>') });
}

t.test('the write protocol: exclusive create, large writes, fsync, close', async (t) => {
  const dir = t.testdir();
  const fs = faultFs(dir);
  await writeSegment(fs, path.join(dir, '000001.sst'), entries);
  t.same(fs.trace(), [
    'open <root>/000001.sst (wx)',
    'write <root>/000001.sst',
    'write <root>/000001.sst',
    'write <root>/000001.sst',
    'sync <root>/000001.sst',
    'close <root>/000001.sst',
  ]);
});

for (const [op, nth, code] of [
  ['write', 1, 'ENOSPC'],
  ['write', 2, 'ENOSPC'],
  ['write', 3, 'EIO'],
  ['sync', 1, 'EIO'],
  ['close', 1, 'EIO'],
] as Array<[FaultOp, number, string]>) {
  t.test(`${op} #${nth} fails with ${code}: rejected with it, no file left`, async (t) => {
    const dir = t.testdir();
    const fs = faultFs(dir);
    const file = path.join(dir, '000002.sst');
    fs.inject({ op, nth, code });
    await t.rejects(writeSegment(fs, file, entries), { code });
    t.notOk(existsSync(file), 'the partial file was unlinked');
    const trace = fs.trace();
    t.equal(trace[trace.length - 1], 'unlink <root>/000002.sst', 'unlinked last, after closing');
    t.ok(trace.some((line) => line.startsWith('close <root>/000002.sst')), 'the handle was closed');
  });
}

t.test('an exclusive-create failure touches nothing', async (t) => {
  const dir = t.testdir();
  const fs = faultFs(dir);
  fs.inject({ op: 'open', code: 'EACCES' });
  await t.rejects(writeSegment(fs, path.join(dir, 'x.sst'), entries), { code: 'EACCES' });
  t.same(fs.trace(), ['open <root>/x.sst (wx) ! EACCES']);
});

t.test('a throwing source or an abort removes the partial file', async (t) => {
  const dir = t.testdir();
  const fs = new NodeFileSystem();
  const file = path.join(dir, 'x.sst');
  function* failing(): Generator<Entry> {
    yield* entries.slice(0, 2500);
    throw new Error('source broke');
  }
  await t.rejects(writeSegment(fs, file, failing()), { message: 'source broke' });
  t.notOk(existsSync(file));

  const controller = new AbortController();
  async function* aborting(): AsyncGenerator<Entry> {
    for (const [i, e] of entries.entries()) {
      if (i === 2000) controller.abort();
      yield e;
    }
  }
  await t.rejects(writeSegment(fs, file, aborting(), { signal: controller.signal }), { code: 'CAIRN_ABORTED', name: 'AbortError' });
  t.notOk(existsSync(file));
  await t.rejects(writeSegment(fs, file, entries, { signal: controller.signal }), { code: 'CAIRN_ABORTED' }, 'already aborted: before any I/O');
  t.notOk(existsSync(file));
});

t.test('read failures propagate, and the reader keeps working afterwards', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, '000003.sst');
  await writeSegment(new NodeFileSystem(), file, entries);
  const fs = faultFs(dir);

  for (const op of ['read', 'fstat'] as const) {
    const fault = fs.inject({ op, nth: 1, code: 'EIO' });
    await t.rejects(SegmentReader.open(fs, file, { fileNumber: 3, cache: new BlockCache() }), { code: 'EIO', path: file }, `${op} at open`);
    fault.remove();
    const lines = fs.trace();
    t.equal(lines[lines.length - 1], 'close <root>/000003.sst', 'a failed open closes its handle');
  }

  const reader = await SegmentReader.open(fs, file, { fileNumber: 3, cache: new BlockCache() });
  t.teardown(() => reader.close());
  const fault = fs.inject({ op: 'read', nth: 1, code: 'EIO' });
  t.throws(() => reader.get(entries[100].key), { code: 'EIO' }, 'a failed block read throws synchronously');
  t.equal(fault.hits, 1);
  t.equal(reader.get(entries[100].key)?.seqno, 101, 'the next read succeeds: nothing bad was cached');
  const cursor = reader.cursor({ gte: entries[2000].key });
  fs.inject({ op: 'read', nth: 1, code: 'EIO' });
  t.throws(() => cursor.next(), { code: 'EIO' });
});
