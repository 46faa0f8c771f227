// Keyspace.open's modes (createIfMissing, errorIfExists; readOnly has its own file),
// getMany's one consistent view, and disposal with `using` /
// `await using` of keyspaces, snapshots and iterators.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace, ErrorCodes } from '../../lib/index.js';
import { scratchDir } from '../helpers/scratch.js';

t.test('createIfMissing: false refuses a missing or empty directory and creates nothing', async (t) => {
  const root = await scratchDir(t, 'open-modes');
  const missing = join(root, 'missing');
  await t.rejects(Keyspace.open(missing, { createIfMissing: false }), { code: ErrorCodes.NOT_FOUND });
  t.notOk(existsSync(missing), 'the directory was not created');
  const empty = join(root, 'empty');
  await mkdir(empty);
  await t.rejects(Keyspace.open(empty, { createIfMissing: false }), { code: ErrorCodes.NOT_FOUND });
  t.same(await readdir(empty), [], 'no LOCK or layout was left behind');

  const ks = await Keyspace.open(join(root, 'ks'));
  await (await ks.partition('p')).put('k', 'v');
  await ks.close();
  const again = await Keyspace.open(join(root, 'ks'), { createIfMissing: false });
  t.same(await (await again.partition('p')).get('k'), Buffer.from('v'), 'an existing keyspace opens');
  await again.close();
});

t.test('errorIfExists refuses an existing keyspace with EEXIST and leaves it intact', async (t) => {
  const root = await scratchDir(t, 'open-modes');
  const dir = join(root, 'ks');
  const ks = await Keyspace.open(dir, { errorIfExists: true });
  await (await ks.partition('p')).put('k', 'v');
  await ks.close();
  await t.rejects(Keyspace.open(dir, { errorIfExists: true }), { code: 'EEXIST', syscall: 'open', path: dir });
  const again = await Keyspace.open(dir);
  t.same(await (await again.partition('p')).get('k'), Buffer.from('v'));
  await again.close();
});

t.test('open-mode options are checked before any I/O', async (t) => {
  const root = await scratchDir(t, 'open-modes');
  const dir = join(root, 'ks');
  await t.rejects(Keyspace.open(dir, { readOnly: true, errorIfExists: true }), RangeError, 'readOnly with errorIfExists is a contradiction');
  await t.rejects(Keyspace.open(dir, { createIfMissing: 'no' } as never), TypeError);
  await t.rejects(Keyspace.open(dir, { errorIfExists: 1 } as never), TypeError);
  await t.rejects(Keyspace.open(dir, { maxOpenFiles: 3 }), RangeError);
  t.notOk(existsSync(dir));
});

t.test('getMany reads every key at one seqno, and through a snapshot', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'get-many'));
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  await p.put('b', '2');
  await ks.flush();
  await p.put('c', '3');
  await p.delete('b');
  const values = await p.getMany(['a', 'b', 'c', 'zz', Buffer.from('a')]);
  t.same(values, [Buffer.from('1'), undefined, Buffer.from('3'), undefined, Buffer.from('1')]);
  const snap = ks.snapshot();
  await p.put('a', 'new');
  t.same(await p.getMany(['a', 'b'], { snapshot: snap }), [Buffer.from('1'), undefined]);
  snap.release();
  t.same(await p.getMany([]), []);
  await t.rejects(p.getMany('a' as never), TypeError);
  await t.rejects(p.getMany([1] as never), TypeError);
  await t.rejects(p.getMany(['a'], { snapshot: snap }), { code: ErrorCodes.RELEASED });
});

t.test('await using closes a keyspace; using releases snapshots and ends iterators', async (t) => {
  const dir = join(await scratchDir(t, 'dispose'), 'ks');
  let kept: Keyspace;
  {
    await using ks = await Keyspace.open(dir);
    kept = ks;
    const p = await ks.partition('p');
    for (const k of ['a', 'b', 'c']) await p.put(k, k);
    {
      using snap = ks.snapshot();
      await p.put('a', 'changed');
      t.same(await p.get('a', { snapshot: snap }), Buffer.from('a'));
      t.equal(ks.stats().snapshots, 1);
    }
    t.equal(ks.stats().snapshots, 0, 'the snapshot was released at the end of its block');
    {
      await using it = p.keys();
      const first = await it.next();
      t.same(first.value, Buffer.from('a'));
      await ks.flush();
      t.equal(ks.stats().partitions.p.liveVersions, 2, 'the iterator holds the version before the flush');
    }
    t.equal(ks.stats().partitions.p.liveVersions, 1, 'disposing the iterator let go of its view');
    {
      using it = p.entries();
      await it.next();
      await p.put('d', 'd');
      await ks.flush();
      t.equal(ks.stats().partitions.p.liveVersions, 2);
    }
    t.equal(ks.stats().partitions.p.liveVersions, 1, 'using works as well as await using');
  }
  t.equal(kept.closed, true, 'the keyspace was closed at the end of its block');
  const again = await Keyspace.open(dir);
  t.same(await (await again.partition('p')).get('a'), Buffer.from('changed'));
  await again.close();
});
