// The one worker-thread pool: results and progress come back, errors cross the thread
// boundary with class, code, system fields and cause, aborts reject queued jobs at once and
// running ones after their cleanup, close() lets running jobs finish, a dead thread is
// replaced, and idle threads never keep a process alive.
import t from 'tap';
import { createHash } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { CairnError, ErrorCodes } from '../../lib/errors.js';
import { WorkerPool, jobKind, sharedWorkerPool } from '../../lib/workers/worker-pool.js';
import type { Teardown } from '../helpers/scratch.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { exited, firstLine, scriptPath } from '../helpers/spawn-ts.js';
import type { TestPayload } from './fixtures/test-job.js';

const TEST_JOB = jobKind<TestPayload, unknown>(new URL('./fixtures/test-job.ts', import.meta.url).href);

function newPool(t: Teardown, size: number): WorkerPool {
  const pool = new WorkerPool({ size });
  t.teardown(() => pool.close());
  return pool;
}

t.test('results and progress come back; more jobs than threads queue', async (t) => {
  const pool = newPool(t, 2);
  t.same(await pool.run(TEST_JOB, { op: 'echo', value: { a: [1, 'two'], b: Buffer.from('x') } }), { a: [1, 'two'], b: new Uint8Array([120]) });
  const seen: unknown[] = [];
  t.equal(await pool.run(TEST_JOB, { op: 'progress', count: 5 }, { onProgress: (v) => seen.push(v) }), 'done');
  t.same(seen, [1, 2, 3, 4, 5], 'every progress value, in order, before the result');
  const many = await Promise.all([1, 2, 3, 4, 5].map((value) => pool.run(TEST_JOB, { op: 'echo', value })));
  t.same(many, [1, 2, 3, 4, 5]);
  t.throws(() => new WorkerPool({ size: 0 }), RangeError);
  t.throws(() => new WorkerPool({ size: 1.5 }), RangeError);
});

t.test('an error crosses the thread with its class, code, system fields and cause', async (t) => {
  const pool = newPool(t, 1);
  const err = (await pool.run(TEST_JOB, { op: 'fail' }).catch((e: unknown) => e)) as Error & Record<string, unknown>;
  t.ok(err instanceof Error);
  t.match(err, { name: 'FrobError', message: 'the outer failure', code: 'EFAKE', errno: -99, syscall: 'frob', path: '/x/y' });
  t.match(String(err.stack), /test-job/, 'the stack is the worker side one');
  const cause = err.cause;
  t.ok(cause instanceof CairnError, 'a CairnError cause stays a CairnError');
  t.match(cause, { code: ErrorCodes.CORRUPTION, message: 'the inner failure', details: { path: '/x/000001.sst', offset: 42 } });
  const missing = jobKind<undefined, unknown>(new URL('./fixtures/no-such-job.ts', import.meta.url).href);
  await t.rejects(pool.run(missing, undefined), { message: /no-such-job/ }, 'a job module that does not load');
});

t.test('a queued job aborts at once, a running one once its thread has cleaned up', async (t) => {
  const pool = newPool(t, 1);
  const dir = t.testdir();
  const marker = nodePath.join(dir, 'marker');
  const controller = new AbortController();
  let waiting: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (waiting = resolve));
  const running = pool.run(TEST_JOB, { op: 'until-aborted', marker }, { signal: controller.signal, onProgress: () => waiting() });
  const queued = pool.run(TEST_JOB, { op: 'echo', value: 'never' }, { signal: controller.signal });
  const other = pool.run(TEST_JOB, { op: 'echo', value: 'after' });
  await started;
  controller.abort(new Error('the reason'));
  await t.rejects(queued, { code: ErrorCodes.ABORTED, name: 'AbortError' }, 'the queued job');
  const err = await running.catch((e: unknown) => e);
  t.match(err, { code: ErrorCodes.ABORTED, name: 'AbortError', cause: { message: 'the reason' } }, 'the running job');
  t.ok(await stat(marker), 'it rejected only after the thread had cleaned up');
  t.equal(await other, 'after', 'the next job runs');
  await t.rejects(pool.run(TEST_JOB, { op: 'echo', value: 1 }, { signal: AbortSignal.abort() }), { code: ErrorCodes.ABORTED }, 'an already-aborted signal');
});

t.test('close rejects what is queued and later calls, and waits for running jobs', async (t) => {
  const pool = newPool(t, 2);
  const running = [pool.run(TEST_JOB, { op: 'sleep', ms: 200 }), pool.run(TEST_JOB, { op: 'sleep', ms: 250 })];
  const queued = pool.run(TEST_JOB, { op: 'echo', value: 'never' });
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await t.rejects(queued, { code: ErrorCodes.CLOSED });
  t.same(await Promise.all(running), [200, 250], 'running jobs finish');
  await closing;
  t.ok(closed);
  await t.rejects(pool.run(TEST_JOB, { op: 'echo', value: 1 }), { code: ErrorCodes.CLOSED });
  await pool.close();
});

t.test('a thread that dies fails its job and is replaced', async (t) => {
  const pool = newPool(t, 1);
  t.equal(await pool.run(TEST_JOB, { op: 'echo', value: 'before' }), 'before');
  await t.rejects(pool.run(TEST_JOB, { op: 'exit', code: 7 }), { message: /exited with code 7/ }, 'process.exit in the thread');
  t.equal(await pool.run(TEST_JOB, { op: 'echo', value: 'after exit' }), 'after exit');
  await t.rejects(pool.run(TEST_JOB, { op: 'uncaught' }), { name: 'RangeError', message: 'thrown outside any job' }, 'an uncaught exception in the thread');
  t.equal(await pool.run(TEST_JOB, { op: 'echo', value: 'after uncaught' }), 'after uncaught');
});

t.test('one shared pool per process', async (t) => {
  t.equal(sharedWorkerPool(), sharedWorkerPool());
  t.ok(sharedWorkerPool().size >= 1 && sharedWorkerPool().size <= 4);
});

t.test('from dist/ (compiled entry), the shared pool, never closed, does not keep its process alive', async (t) => {
  const dir = t.testdir();
  const file = nodePath.join(dir, 'data');
  await writeFile(file, 'some bytes to hash');
  const child = spawnDist(scriptPath(import.meta.url, 'fixtures/idle-pool-child.mjs'), [file]);
  t.equal(await firstLine(child), createHash('sha256').update('some bytes to hash').digest('hex'));
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 60_000)));
  t.equal(await Promise.race([exited(child).then(() => 'exited'), hung]), 'exited');
  clearTimeout(timer);
  t.equal(child.exitCode, 0);
});

t.test('urgent jobs run ahead of queued ones, on a spare thread when every thread is busy', async (t) => {
  const pool = newPool(t, 1);
  const order: string[] = [];
  const controller = new AbortController();
  const marker = nodePath.join(t.testdir(), 'marker');
  const long = pool.run(TEST_JOB, { op: 'until-aborted', marker }, { signal: controller.signal }).catch(() => order.push('long'));
  const normal = pool.run(TEST_JOB, { op: 'echo', value: 'normal' }).then(() => order.push('normal'));
  // The long job holds the only thread until aborted: the urgent one can finish only on a spare.
  await pool.run(TEST_JOB, { op: 'echo', value: 'urgent' }, { priority: 'urgent' });
  order.push('urgent');
  controller.abort();
  await Promise.all([long, normal]);
  t.same(order, ['urgent', 'long', 'normal'], 'the urgent job did not wait for the long one, the normal one did');
});

t.test('transferred buffers move to the thread (detached here) and arrive whole', async (t) => {
  const pool = newPool(t, 1);
  const bytes = new Uint8Array(1 << 20).fill(7);
  const length = await pool.run(TEST_JOB, { op: 'length', bytes }, { transfer: [bytes.buffer] });
  t.equal(length, 1 << 20);
  t.equal(bytes.byteLength, 0, 'the sender no longer holds the buffer');
});
