// The hashing threads of backup and restore: digests equal node:crypto's, copies hash what
// they write, errors keep their system codes, aborts reject with CAIRN_ABORTED.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { HashPool } from '../../lib/backup/hash-pool.js';
import { ErrorCodes } from '../../lib/errors.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('hash and copyHashed agree with node:crypto; progress adds up to the size', async (t) => {
  const dir = t.testdir();
  const pool = new HashPool(2);
  // Over one 4 MiB chunk, not a multiple of it; and an empty file.
  const big = Buffer.alloc(9 * 1024 * 1024 + 7);
  for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
  await writeFile(nodePath.join(dir, 'big'), big);
  await writeFile(nodePath.join(dir, 'empty'), '');
  let seen = 0;
  t.same(await pool.hash(nodePath.join(dir, 'big'), undefined, (n) => (seen += n)), { sha256: sha256(big), size: big.length });
  t.equal(seen, big.length);
  t.same(await pool.hash(nodePath.join(dir, 'empty')), { sha256: sha256(Buffer.alloc(0)), size: 0 });
  const copied = await pool.copyHashed(nodePath.join(dir, 'big'), nodePath.join(dir, 'copy'));
  t.same(copied, { sha256: sha256(big), size: big.length });
  t.ok((await readFile(nodePath.join(dir, 'copy'))).equals(big), 'the copy holds the bytes');
  const all = await Promise.all(Array.from({ length: 6 }, () => pool.hash(nodePath.join(dir, 'big'))));
  t.ok(all.every((r) => r.sha256 === sha256(big)), 'more jobs than threads queue and all finish');
});

t.test('errors keep their codes; an abort rejects CAIRN_ABORTED', async (t) => {
  const dir = t.testdir({ a: 'alpha', b: 'bravo' });
  const pool = new HashPool(1);
  await t.rejects(pool.hash(nodePath.join(dir, 'missing')), { code: 'ENOENT', syscall: 'open' });
  await t.rejects(pool.copyHashed(nodePath.join(dir, 'a'), nodePath.join(dir, 'b')), { code: 'EEXIST' }, 'never overwrites');
  t.equal(await readFile(nodePath.join(dir, 'b'), 'utf8'), 'bravo');
  await t.rejects(pool.hash(nodePath.join(dir, 'a'), AbortSignal.abort()), { code: ErrorCodes.ABORTED });
  const controller = new AbortController();
  const running = pool.hash(nodePath.join(dir, 'a'), controller.signal);
  const queued = pool.hash(nodePath.join(dir, 'b'), controller.signal);
  controller.abort();
  await t.rejects(queued, { code: ErrorCodes.ABORTED }, 'a queued job');
  await t.rejects(running, { code: ErrorCodes.ABORTED }, 'a running job, once its thread is done');
  t.same(await pool.hash(nodePath.join(dir, 'a')), { sha256: sha256(Buffer.from('alpha')), size: 5 }, 'the pool still works');
  t.throws(() => new HashPool(0), RangeError);
});
