// Merges on a worker thread (mergeOnWorker): the same outputs and the same error codes as
// in-process, the main event loop kept free, an abort that removes the outputs. The pool
// itself (close, crashes, unref) is tested in test/workers/worker-pool.test.ts.
import t from 'tap';
import path from 'node:path';
import type { Entry } from '../../lib/codec/entry.js';
import type { SegmentDescriptor } from '../../lib/tree/manifest.js';
import { CairnError } from '../../lib/errors.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { runMerge, type MergeJob } from '../../lib/compaction/run-merge.js';
import { mergeOnWorker } from '../../lib/compaction/merge-job.js';
import { WorkerPool } from '../../lib/workers/worker-pool.js';
import { Rng } from '../helpers/rng.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { modelMerge, plain, readAll, writeInputs, type Inputs } from './fixtures/merge-inputs.js';
import { turnCounter } from '../helpers/turns.js';

const fs = new NodeFileSystem();
const numbers = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

// One worker shared by the tests below: starting a worker under the TypeScript loader
// costs more than most of these tests.
const pool = new WorkerPool({ size: 1 });
t.teardown(() => pool.close());
const merge = (job: MergeJob): ReturnType<typeof mergeOnWorker> => mergeOnWorker(job, pool);

function mergeJob(inputs: Inputs, outputDir: string, fileNumbers: number[], targetFileBytes: number): MergeJob {
  return { inputs: inputs.paths.map((p) => ({ path: p })), outputDir, fileNumbers, targetFileBytes, dropTombstones: false };
}

/** Starts the thread and loads the merge module (a job that fails at once): what the timing-sensitive tests must not measure. */
async function warmUp(dir: string): Promise<void> {
  await t.rejects(merge({ inputs: [{ path: path.join(dir, 'no-such-input.sst') }], outputDir: dir, fileNumbers: [1], targetFileBytes: 1000, dropTombstones: false }), { code: 'ENOENT' });
}

/** A few MiB of input: enough for a merge that takes a while. */
const big = { count: 4, entriesPerInput: 12_000, keySpace: 30_000, valueBytes: [50, 150] as [number, number], tombstoneShare: 0.1 };

t.test('a merge in a worker writes exactly what an in-process merge writes', async (t) => {
  const dir = t.testdir({ here: {}, there: {} });
  const inputs = await writeInputs(fs, dir, new Rng(11), { ...big, entriesPerInput: 2000 });
  const here = await runMerge(fs, mergeJob(inputs, path.join(dir, 'here'), numbers(100, 20), 16_384));
  const there = await merge(mergeJob(inputs, path.join(dir, 'there'), numbers(100, 20), 16_384));
  t.ok(there.every((s) => Buffer.isBuffer(s.minKey) && Buffer.isBuffer(s.maxKey)), 'keys come back as Buffers');
  const undated = (ds: SegmentDescriptor[]) => ds.map(({ createdAt, ...d }) => (t.type(createdAt, 'number'), d));
  t.same(undated(there), undated(here), 'same descriptors, but for the time each was written');
  const read = async (sub: string): Promise<Entry[]> => {
    const out: Entry[] = [];
    for (const s of there) out.push(...(await readAll(fs, path.join(dir, sub, `000${s.fileNumber}.sst`))));
    return out;
  };
  t.same(plain(await read('there')), plain(modelMerge(inputs.entries, false)));
  t.same(plain(await read('there')), plain(await read('here')));
});

t.test('errors come back from the worker with their codes and shapes', async (t) => {
  const dir = t.testdir({ 'garbage.sst': 'this is not a segment, not at all, not even close to one', '000001.sst': 'taken' });
  const inputs = await writeInputs(fs, dir, new Rng(12), { ...big, count: 1, entriesPerInput: 10 });
  const missing = path.join(dir, 'missing.sst');
  const enoent = await merge({ ...mergeJob(inputs, dir, [5], 1000), inputs: [{ path: missing }] }).catch((err: unknown) => err);
  t.match(enoent, { code: 'ENOENT', syscall: 'open', path: missing });
  const corrupt = await merge({ ...mergeJob(inputs, dir, [5], 1000), inputs: [{ path: path.join(dir, 'garbage.sst') }] }).catch((err: unknown) => err);
  t.ok(corrupt instanceof CairnError, 'a CairnError stays a CairnError');
  t.match(corrupt, { code: 'CAIRN_CORRUPTION', details: { path: path.join(dir, 'garbage.sst') } });
  await t.rejects(merge(mergeJob(inputs, dir, [1], 1000)), { code: 'EEXIST' });
  await t.rejects(merge({ ...mergeJob(inputs, dir, [5], 1000), fileNumbers: [] }), TypeError, 'bad jobs are refused on the calling thread');
  t.same((await fs.readdir(dir)).sort(), ['000001.sst', 'garbage.sst', 'input-1.sst'], 'no debris');
});

t.test('the event loop keeps turning while a big merge runs in the worker', async (t) => {
  const dir = t.testdir({ worker: {}, main: {}, 'worker-elu': {}, 'main-elu': {} });
  const inputs = await writeInputs(fs, dir, new Rng(13), big);
  await warmUp(dir);

  const counter = turnCounter();
  const outputs = await merge(mergeJob(inputs, path.join(dir, 'worker'), numbers(1000, 40), 1 << 20));
  const ticks = counter.stop();
  t.comment(`${inputs.bytes} input bytes, ${outputs.length} outputs, ${ticks} setImmediate turns during the worker's merge`);
  t.ok(ticks >= 1000, `the main thread turned ${ticks} times during the worker's merge`);

  // Ticks alone cannot tell the worker from an in-process merge, which also yields at
  // every chunk write. How busy this thread's loop was can: without the worker it does
  // all the decoding, merging and encoding itself.
  let mark = performance.eventLoopUtilization();
  await merge(mergeJob(inputs, path.join(dir, 'worker-elu'), numbers(1000, 40), 1 << 20));
  const workerElu = performance.eventLoopUtilization(mark).utilization;
  mark = performance.eventLoopUtilization();
  await runMerge(fs, mergeJob(inputs, path.join(dir, 'main-elu'), numbers(1000, 40), 1 << 20));
  const mainElu = performance.eventLoopUtilization(mark).utilization;
  t.comment(`main-thread event loop utilization: ${workerElu.toFixed(3)} with the worker, ${mainElu.toFixed(3)} in-process`);
  t.ok(workerElu < mainElu, 'the main thread is less busy when the worker merges');
});

t.test('aborting a running merge stops it and removes its outputs; aborting a queued one rejects at once', async (t) => {
  const dir = t.testdir({ out: {}, queued: {} });
  const inputs = await writeInputs(fs, dir, new Rng(14), big);
  await warmUp(dir);
  const out = path.join(dir, 'out');
  const running = new AbortController();
  const queued = new AbortController();
  const first = merge({ ...mergeJob(inputs, out, numbers(10, 400), 16 * 1024), signal: running.signal });
  const second = merge({ ...mergeJob(inputs, path.join(dir, 'queued'), numbers(10, 400), 16 * 1024), signal: queued.signal });
  queued.abort();
  await t.rejects(second, { code: 'CAIRN_ABORTED', name: 'AbortError' });
  while ((await fs.readdir(out)).length === 0) await new Promise((resolve) => setImmediate(resolve));
  running.abort();
  await t.rejects(first, { code: 'CAIRN_ABORTED' });
  t.same(await fs.readdir(out), [], 'outputs removed');
  t.same(await fs.readdir(path.join(dir, 'queued')), [], 'the queued job never ran');
  await t.rejects(merge({ ...mergeJob(inputs, out, [1], 1000), signal: AbortSignal.abort() }), { code: 'CAIRN_ABORTED' }, 'an already-aborted signal');
});

t.test('a real ENOSPC in the worker (tmpfs) comes back as ENOSPC and leaves no output', async (t) => {
  const mounted = mountTmpfs(t, 1);
  if (mounted === undefined) {
    t.comment('not root: the in-process fault tests (run-merge.test.ts) cover ENOSPC cleanup');
    t.pass('no tmpfs');
    return;
  }
  const dir = t.testdir();
  const inputs = await writeInputs(fs, dir, new Rng(16), big);
  await t.rejects(merge(mergeJob(inputs, mounted, numbers(1, 100), 256 * 1024)), { code: 'ENOSPC' });
  t.same(await fs.readdir(mounted), []);
});
