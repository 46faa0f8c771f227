// Hashing on worker threads for backup and restore: digests equal node:crypto's, copies
// hash what they write, errors keep their system codes, aborts reject with CAIRN_ABORTED.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { copyHashedOnWorker, hashOnWorker } from '../../lib/backup/hash-job.js';
import { WorkerPool } from '../../lib/workers/worker-pool.js';
import { ErrorCodes } from '../../lib/errors.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('hash and copyHashed agree with node:crypto; progress adds up to the size', async (t) => {
  const dir = t.testdir();
  const pool = new WorkerPool({ size: 2 });
  t.teardown(() => pool.close());
  // Over one 4 MiB chunk, not a multiple of it; and an empty file.
  const big = Buffer.alloc(9 * 1024 * 1024 + 7);
  for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
  await writeFile(nodePath.join(dir, 'big'), big);
  await writeFile(nodePath.join(dir, 'empty'), '');
  let seen = 0;
  t.same(await hashOnWorker(nodePath.join(dir, 'big'), { onBytes: (n) => (seen += n), pool }), { sha256: sha256(big), size: big.length });
  t.equal(seen, big.length);
  t.same(await hashOnWorker(nodePath.join(dir, 'empty'), { pool }), { sha256: sha256(Buffer.alloc(0)), size: 0 });
  const copied = await copyHashedOnWorker(nodePath.join(dir, 'big'), nodePath.join(dir, 'copy'), { pool });
  t.same(copied, { sha256: sha256(big), size: big.length });
  t.ok((await readFile(nodePath.join(dir, 'copy'))).equals(big), 'the copy holds the bytes');
  const all = await Promise.all(Array.from({ length: 6 }, () => hashOnWorker(nodePath.join(dir, 'big'), { pool })));
  t.ok(all.every((r) => r.sha256 === sha256(big)), 'more jobs than threads queue and all finish');
});

t.test('errors keep their codes; an abort rejects CAIRN_ABORTED', async (t) => {
  const dir = t.testdir({ a: 'alpha', b: 'bravo' });
  const pool = new WorkerPool({ size: 1 });
  t.teardown(() => pool.close());
  await t.rejects(hashOnWorker(nodePath.join(dir, 'missing'), { pool }), { code: 'ENOENT', syscall: 'open' });
  await t.rejects(copyHashedOnWorker(nodePath.join(dir, 'a'), nodePath.join(dir, 'b'), { pool }), { code: 'EEXIST' }, 'never overwrites');
  t.equal(await readFile(nodePath.join(dir, 'b'), 'utf8'), 'bravo');
  await t.rejects(hashOnWorker(nodePath.join(dir, 'a'), { signal: AbortSignal.abort(), pool }), { code: ErrorCodes.ABORTED });
  const controller = new AbortController();
  const running = hashOnWorker(nodePath.join(dir, 'a'), { signal: controller.signal, pool });
  const queued = hashOnWorker(nodePath.join(dir, 'b'), { signal: controller.signal, pool });
  controller.abort();
  await t.rejects(queued, { code: ErrorCodes.ABORTED }, 'a queued job');
  await t.rejects(running, { code: ErrorCodes.ABORTED }, 'a running job, once its thread is done');
  t.same(await hashOnWorker(nodePath.join(dir, 'a'), { pool }), { sha256: sha256(Buffer.from('alpha')), size: 5 }, 'the pool still works');
});
