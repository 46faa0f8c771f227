// Handles used after ks.close(): an iterator fails at once with CAIRN_CLOSED (it used to
// yield more entries from its pinned view, then fail with "the segment reader is closed"),
// and so does every read through a snapshot taken before the close.
import t from 'tap';
import * as nodePath from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { ErrorCodes } from '../../lib/errors.js';
import { scratchDir } from '../helpers/scratch.js';

async function filled(dir: string): Promise<Keyspace> {
  const ks = await Keyspace.open(dir, { memtableBytes: 64 * 1024 });
  const p = await ks.partition('p');
  // Some entries in segments, some only in the memtable.
  for (let i = 0; i < 2000; i++) await p.put(`k${String(i).padStart(5, '0')}`, 'x'.repeat(100));
  await ks.flush();
  for (let i = 2000; i < 2100; i++) await p.put(`k${String(i).padStart(5, '0')}`, 'y');
  return ks;
}

t.test('an iterator used after close rejects with CAIRN_CLOSED at once', async (t) => {
  const ks = await filled(nodePath.join(await scratchDir(t, 'after-close'), 'ks'));
  const p = await ks.partition('p');
  const iterators: AsyncIterableIterator<unknown>[] = [p.entries(), p.keys({ reverse: true }), p.values({ gte: 'k01000' }), p.entries({ snapshot: ks.snapshot() })];
  for (const it of iterators) t.equal((await it.next()).done, false, 'reads before the close');
  await ks.close();
  for (const it of iterators) {
    await t.rejects(it.next(), { code: ErrorCodes.CLOSED }, 'the next read after the close');
    await t.rejects(it.next(), { code: ErrorCodes.CLOSED }, 'and every one after it');
    t.same(await it.return!(), { done: true, value: undefined }, 'return() still ends it quietly');
  }
});

t.test('a for-await loop over an iterator ends with CAIRN_CLOSED when the keyspace closes under it', async (t) => {
  const ks = await filled(nodePath.join(await scratchDir(t, 'after-close'), 'ks'));
  const p = await ks.partition('p');
  let seen = 0;
  const err = await (async () => {
    for await (const entry of p.entries()) {
      void entry;
      if (++seen === 10) await ks.close();
    }
  })().catch((e: unknown) => e);
  t.match(err, { code: ErrorCodes.CLOSED });
  t.equal(seen, 10, 'no entry after the close');
});

t.test('a snapshot used after close: CAIRN_CLOSED', async (t) => {
  const ks = await filled(nodePath.join(await scratchDir(t, 'after-close'), 'ks'));
  const p = await ks.partition('p');
  const snap = ks.snapshot();
  t.same(await p.get('k00001', { snapshot: snap }), Buffer.from('x'.repeat(100)));
  await ks.close();
  await t.rejects(p.get('k00001', { snapshot: snap }), { code: ErrorCodes.CLOSED });
  await t.rejects(p.has('k00001', { snapshot: snap }), { code: ErrorCodes.CLOSED });
  t.throws(() => p.entries({ snapshot: snap }), { code: ErrorCodes.CLOSED });
  t.ok(snap.released, 'close released it');
  snap.release();
});
