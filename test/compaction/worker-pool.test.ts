// The compaction worker pool: merges and flushes in worker threads give the same results
// and the same error codes as in-process, keep the main event loop turning, can be
// aborted and closed, and never keep the process alive when idle.
import t from 'tap';
import path from 'node:path';
import { EntryKind, type Entry } from '../../lib/codec/entry.js';
import { CairnError } from '../../lib/errors.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { runMerge, type MergeJob } from '../../lib/compaction/run-merge.js';
import { CompactionWorkerPool } from '../../lib/compaction/worker-pool.js';
import { Rng } from '../helpers/rng.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { exited, firstLine, scriptPath } from '../helpers/spawn-ts.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { modelMerge, plain, readAll, writeInputs, type Inputs } from './fixtures/merge-inputs.js';
import { turnCounter } from '../helpers/turns.js';

const fs = new NodeFileSystem();
const numbers = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

// One worker shared by the tests below: starting a worker under the TypeScript loader
// costs more than most of these tests.
const shared = new CompactionWorkerPool({ size: 1 });
t.teardown(() => shared.close());

function mergeJob(inputs: Inputs, outputDir: string, fileNumbers: number[], targetFileBytes: number): MergeJob {
  return { inputs: inputs.paths.map((p) => ({ path: p })), outputDir, fileNumbers, targetFileBytes, dropTombstones: false };
}

/** A few MiB of input: enough for a merge that takes a while. */
const big = { count: 4, entriesPerInput: 12_000, keySpace: 30_000, valueBytes: [50, 150] as [number, number], tombstoneShare: 0.1 };

t.test('a merge in a worker writes exactly what an in-process merge writes', async (t) => {
  const pool = shared;
  const dir = t.testdir({ here: {}, there: {} });
  const inputs = await writeInputs(fs, dir, new Rng(11), { ...big, entriesPerInput: 2000 });
  const here = await runMerge(fs, mergeJob(inputs, path.join(dir, 'here'), numbers(100, 20), 16_384));
  const there = await pool.merge(mergeJob(inputs, path.join(dir, 'there'), numbers(100, 20), 16_384));
  t.ok(there.every((s) => Buffer.isBuffer(s.minKey) && Buffer.isBuffer(s.maxKey)), 'keys come back as Buffers');
  t.same(there, here, 'same descriptors');
  const read = async (sub: string): Promise<Entry[]> => {
    const out: Entry[] = [];
    for (const s of there) out.push(...(await readAll(fs, path.join(dir, sub, `000${s.fileNumber}.sst`))));
    return out;
  };
  t.same(plain(await read('there')), plain(modelMerge(inputs.entries, false)));
  t.same(plain(await read('there')), plain(await read('here')));
});

t.test('a flush in a worker writes the newest version of each key', async (t) => {
  const pool = shared;
  const dir = t.testdir();
  const entries: Entry[] = [];
  for (let i = 0; i < 5000; i++) {
    const key = Buffer.from(`key-${String(i).padStart(5, '0')}`);
    entries.push({ key, seqno: 20_000 + i, kind: i % 7 === 0 ? EntryKind.Delete : EntryKind.Put, value: i % 7 === 0 ? Buffer.alloc(0) : Buffer.from(`new-${i}`) });
    entries.push({ key, seqno: i + 1, kind: EntryKind.Put, value: Buffer.from(`old-${i}`) });
  }
  const meta = await pool.flush(entries, path.join(dir, '000009.sst'), { blockSize: 1024 });
  t.equal(meta.entryCount, 5000);
  t.ok(Buffer.isBuffer(meta.minKey));
  t.same(plain(await readAll(fs, path.join(dir, '000009.sst'))), plain(entries.filter((_, i) => i % 2 === 0)));
});

t.test('errors come back from the worker with their codes and shapes', async (t) => {
  const pool = shared;
  const dir = t.testdir({ 'garbage.sst': 'this is not a segment, not at all, not even close to one', '000001.sst': 'taken' });
  const inputs = await writeInputs(fs, dir, new Rng(12), { ...big, count: 1, entriesPerInput: 10 });
  const missing = path.join(dir, 'missing.sst');
  const enoent = await pool.merge({ ...mergeJob(inputs, dir, [5], 1000), inputs: [{ path: missing }] }).catch((err: unknown) => err);
  t.match(enoent, { code: 'ENOENT', syscall: 'open', path: missing });
  const corrupt = await pool.merge({ ...mergeJob(inputs, dir, [5], 1000), inputs: [{ path: path.join(dir, 'garbage.sst') }] }).catch((err: unknown) => err);
  t.ok(corrupt instanceof CairnError, 'a CairnError stays a CairnError');
  t.match(corrupt, { code: 'CAIRN_CORRUPTION', details: { path: path.join(dir, 'garbage.sst') } });
  await t.rejects(pool.merge(mergeJob(inputs, dir, [1], 1000)), { code: 'EEXIST' });
  await t.rejects(pool.flush([{ key: Buffer.from('b'), seqno: 1, kind: EntryKind.Put, value: Buffer.alloc(0) }, { key: Buffer.from('a'), seqno: 2, kind: EntryKind.Put, value: Buffer.alloc(0) }], path.join(dir, '000002.sst')), RangeError, 'out-of-order entries: the RangeError class survives');
  await t.rejects(pool.merge({ ...mergeJob(inputs, dir, [5], 1000), fileNumbers: [] }), TypeError, 'bad jobs are refused on the calling thread');
  t.same((await fs.readdir(dir)).sort(), ['000001.sst', 'garbage.sst', 'input-1.sst'], 'no debris');
});

t.test('the event loop keeps turning while a big merge runs in the worker', async (t) => {
  const pool = shared;
  const dir = t.testdir({ worker: {}, main: {}, 'worker-elu': {}, 'main-elu': {} });
  const inputs = await writeInputs(fs, dir, new Rng(13), big);
  await pool.flush([{ key: Buffer.from('warm'), seqno: 1, kind: EntryKind.Put, value: Buffer.alloc(0) }], path.join(dir, 'warm.sst'));

  const counter = turnCounter();
  const outputs = await pool.merge(mergeJob(inputs, path.join(dir, 'worker'), numbers(1000, 40), 1 << 20));
  const ticks = counter.stop();
  t.comment(`${inputs.bytes} input bytes, ${outputs.length} outputs, ${ticks} setImmediate turns during the worker's merge`);
  t.ok(ticks >= 1000, `the main thread turned ${ticks} times during the worker's merge`);

  // Ticks alone cannot tell the worker from an in-process merge, which also yields at
  // every chunk write. How busy this thread's loop was can: without the worker it does
  // all the decoding, merging and encoding itself.
  let mark = performance.eventLoopUtilization();
  await pool.merge(mergeJob(inputs, path.join(dir, 'worker-elu'), numbers(1000, 40), 1 << 20));
  const workerElu = performance.eventLoopUtilization(mark).utilization;
  mark = performance.eventLoopUtilization();
  await runMerge(fs, mergeJob(inputs, path.join(dir, 'main-elu'), numbers(1000, 40), 1 << 20));
  const mainElu = performance.eventLoopUtilization(mark).utilization;
  t.comment(`main-thread event loop utilization: ${workerElu.toFixed(3)} with the worker, ${mainElu.toFixed(3)} in-process`);
  t.ok(workerElu < mainElu, 'the main thread is less busy when the worker merges');
});

t.test('aborting a running merge stops it and removes its outputs; aborting a queued one rejects at once', async (t) => {
  const pool = shared;
  const dir = t.testdir({ out: {}, queued: {} });
  const inputs = await writeInputs(fs, dir, new Rng(14), big);
  await pool.flush([{ key: Buffer.from('warm'), seqno: 1, kind: EntryKind.Put, value: Buffer.alloc(0) }], path.join(dir, 'warm.sst'));
  const out = path.join(dir, 'out');
  const running = new AbortController();
  const queued = new AbortController();
  const first = pool.merge({ ...mergeJob(inputs, out, numbers(10, 400), 16 * 1024), signal: running.signal });
  const second = pool.merge({ ...mergeJob(inputs, path.join(dir, 'queued'), numbers(10, 400), 16 * 1024), signal: queued.signal });
  queued.abort();
  await t.rejects(second, { code: 'CAIRN_ABORTED', name: 'AbortError' });
  while ((await fs.readdir(out)).length === 0) await new Promise((resolve) => setImmediate(resolve));
  running.abort();
  await t.rejects(first, { code: 'CAIRN_ABORTED' });
  t.same(await fs.readdir(out), [], 'outputs removed');
  t.same(await fs.readdir(path.join(dir, 'queued')), [], 'the queued job never ran');
  await t.rejects(pool.merge({ ...mergeJob(inputs, out, [1], 1000), signal: AbortSignal.abort() }), { code: 'CAIRN_ABORTED' }, 'an already-aborted signal');
});

t.test('two workers run jobs side by side; close rejects what is queued and later calls', async (t) => {
  const pool = new CompactionWorkerPool({ size: 2 });
  const dir = t.testdir({ a: {}, b: {}, c: {}, d: {} });
  const inputs = await writeInputs(fs, dir, new Rng(15), { ...big, entriesPerInput: 3000 });
  const jobs = ['a', 'b', 'c'].map((sub) => pool.merge(mergeJob(inputs, path.join(dir, sub), numbers(1, 40), 64 * 1024)));
  const results = await Promise.all(jobs);
  t.same(results[1], results[0]);
  t.same(results[2], results[0]);
  const running = [pool.merge(mergeJob(inputs, path.join(dir, 'd'), numbers(100, 40), 64 * 1024)), pool.merge(mergeJob(inputs, path.join(dir, 'd'), numbers(200, 40), 64 * 1024))];
  const queued = pool.merge(mergeJob(inputs, path.join(dir, 'd'), numbers(300, 40), 64 * 1024));
  const closing = pool.close();
  await t.rejects(queued, { code: 'CAIRN_CLOSED' });
  const done = await Promise.all(running);
  t.ok(done.every((r) => r.length > 0), 'running jobs finish before close resolves');
  await closing;
  await t.rejects(pool.flush([], path.join(dir, 'x.sst')), { code: 'CAIRN_CLOSED' });
  await pool.close();
});

t.test('a real ENOSPC in the worker (tmpfs) comes back as ENOSPC and leaves no output', async (t) => {
  const mounted = mountTmpfs(t, 1);
  if (mounted === undefined) {
    t.comment('not root: the in-process fault tests (run-merge.test.ts) cover ENOSPC cleanup');
    t.pass('no tmpfs');
    return;
  }
  const pool = shared;
  const dir = t.testdir();
  const inputs = await writeInputs(fs, dir, new Rng(16), big);
  await t.rejects(pool.merge(mergeJob(inputs, mounted, numbers(1, 100), 256 * 1024)), { code: 'ENOSPC' });
  t.same(await fs.readdir(mounted), []);
});

t.test('from dist/ (compiled worker entry), a pool that is never closed does not keep its process alive', async (t) => {
  const dir = t.testdir();
  const child = spawnDist(scriptPath(import.meta.url, 'fixtures/pool-child.mjs'), [dir]);
  t.equal(await firstLine(child), 'done');
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 60_000)));
  t.equal(await Promise.race([exited(child).then(() => 'exited'), hung]), 'exited');
  clearTimeout(timer);
  t.equal(child.exitCode, 0);
});
