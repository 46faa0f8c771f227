// keyspace.backupTo(): the public contract. A checkpoint reopens with exactly the writes up
// to its seqno across all partitions, shares segment inodes with the source, keeps the
// keyspace id; every error is coded and leaves neither dest nor staging behind.
import t from 'tap';
import { mkdir, stat, writeFile, readdir } from 'node:fs/promises';
import { mkdirSync as mkdirNow } from 'node:fs';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { defaultFileSystem } from '../../lib/fs/index.js';
import type { CheckpointProgress } from '../../lib/checkpoint/checkpoint.js';
import { dump, dumpDir, exists, fill, plain, stagingLeft, tempDir } from './fixtures/checkpoint-fixtures.js';

const SMALL = { memtableBytes: 8 * 1024 };

/** The source accepts a write and reads it back: a failed backupTo must not disturb it. */
async function stillWritable(ks: Keyspace, label: string): Promise<boolean> {
  const p = await ks.partition('health');
  await p.put(label, 'ok');
  return (await p.get(label))?.toString() === 'ok';
}

t.test('a checkpoint of flushed and unflushed data in several partitions', async (t) => {
  const root = await tempDir(t);
  const ks = await Keyspace.open(join(root, 'src'));
  await fill(ks, 'users', 300, 'u');
  await fill(ks, 'orders', 200, 'o');
  await (await ks.partition('users')).delete('u0007');
  await ks.flush();
  await fill(ks, 'users', 50, 'late');
  await (await ks.partition('orders')).delete('o0003');
  await ks.partition('empty');
  const expected = await dump(ks);
  const seqnoBefore = ks.seqno;

  const dest = join(root, 'backups', 'nested', 'one');
  const info = await ks.backupTo(dest);
  t.equal(info.path, dest);
  t.equal(info.seqno, seqnoBefore, 'seqno is the visible seqno at the cut');
  t.same([...info.partitions].sort(), ['empty', 'orders', 'users']);
  t.equal(info.filesCopied, 0, 'same file system: nothing copied');
  t.ok(info.filesLinked >= 3, `segments and the sealed journal linked (${info.filesLinked})`);
  t.ok(info.bytesLinked > 0);
  t.ok(info.writePauseMicros >= 0 && info.durationMs >= 0);
  t.same(await stagingLeft(dest), [], 'no staging left after success');

  // Writes after the cut stay out of the checkpoint.
  await (await ks.partition('users')).put('after', 'x');

  for (const part of ['users', 'orders']) {
    const segs = await readdir(join(dest, 'partitions', part, 'segments'));
    t.ok(segs.length > 0, `${part} has segments in the checkpoint`);
    for (const name of segs) {
      const [a, b] = await Promise.all([stat(join(root, 'src', 'partitions', part, 'segments', name)), stat(join(dest, 'partitions', part, 'segments', name))]);
      t.equal(b.ino, a.ino, `${part}/${name} is a hard link of the source file`);
    }
  }

  const cp = await dumpDir(dest);
  t.same(plain(cp.data), plain(expected), 'the checkpoint holds exactly the source as of the cut');
  t.equal(cp.seqno, info.seqno, 'the reopened checkpoint reports the cut seqno');
  t.equal(cp.id, ks.id, 'keyspace id preserved');
  t.equal((await (await ks.partition('users')).get('after'))?.toString(), 'x', 'source still writable');
  await ks.close();
});

t.test('a concurrent writer: the checkpoint holds exactly the writes up to its seqno', async (t) => {
  const root = await tempDir(t);
  const ks = await Keyspace.open(join(root, 'src'), SMALL);
  const parts = [await ks.partition('a'), await ks.partition('b')];
  const seqnoOf: number[] = [];
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      await parts[i % 2].put(`k${String(i).padStart(5, '0')}`, `v${i}-${'x'.repeat(i % 50)}`);
      seqnoOf[i] = ks.seqno;
    }
  })();
  while (seqnoOf.length < 300) await new Promise((r) => setImmediate(r));
  const info = await ks.backupTo(join(root, 'cp'));
  while (seqnoOf.length < 600) await new Promise((r) => setImmediate(r));
  stop = true;
  await writer;

  const expected = { a: {} as Record<string, string>, b: {} as Record<string, string> };
  for (let i = 0; i < seqnoOf.length; i++) {
    if (seqnoOf[i] <= info.seqno) (i % 2 === 0 ? expected.a : expected.b)[`k${String(i).padStart(5, '0')}`] = `v${i}-${'x'.repeat(i % 50)}`;
  }
  const included = seqnoOf.filter((s) => s <= info.seqno).length;
  t.ok(included >= 300 && included < seqnoOf.length, `the cut fell inside the write stream (${included} of ${seqnoOf.length})`);
  const cp = await dumpDir(join(root, 'cp'));
  t.same(plain(cp.data), expected, 'exactly the writes with seqno <= info.seqno');
  await ks.close();
});

t.test('cross-partition batches are all-or-nothing in the checkpoint', async (t) => {
  const root = await tempDir(t);
  const ks = await Keyspace.open(join(root, 'src'), SMALL);
  const [a, b, c] = [await ks.partition('a'), await ks.partition('b'), await ks.partition('c')];
  const lastSeqnoOf: number[] = [];
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const batch = ks.batch().put(a, `a${i}`, `A${i}`).put(b, `b${i}`, `B${i}`).put(c, `c${i}`, 'C'.repeat(100));
      if (i > 0) batch.delete(c, `c${i - 1}`);
      await batch.commit();
      lastSeqnoOf[i] = ks.seqno;
    }
  })();
  const infos = [];
  for (let k = 0; k < 4; k++) {
    const until = lastSeqnoOf.length + 100;
    while (lastSeqnoOf.length < until) await new Promise((r) => setImmediate(r));
    infos.push(await ks.backupTo(join(root, `cp${k}`)));
  }
  stop = true;
  await writer;

  for (const [k, info] of infos.entries()) {
    const ck = await Keyspace.open(join(root, `cp${k}`));
    const [ca, cb, cc] = [await ck.partition('a'), await ck.partition('b'), await ck.partition('c')];
    const committed = lastSeqnoOf.filter((s) => s <= info.seqno).length;
    const torn: number[] = [];
    for (let i = 0; i < lastSeqnoOf.length; i++) {
      const inCut = i < committed;
      const seen = [(await ca.get(`a${i}`))?.toString() === `A${i}`, (await cb.get(`b${i}`))?.toString() === `B${i}`];
      // c<i> is deleted by batch i+1: present only when batch i is the last one in the cut.
      const cExpected = inCut && i === committed - 1;
      if (seen.some((s) => s !== inCut) || ((await cc.get(`c${i}`)) !== undefined) !== cExpected) torn.push(i);
    }
    t.same(torn, [], `checkpoint ${k} (seqno ${info.seqno}, ${committed} batches): every batch whole or absent, exactly those up to the seqno`);
    t.equal(ck.seqno, info.seqno);
    await ck.close();
  }
  await ks.close();
});

t.test('errors', async (t) => {
  t.test('arguments are checked before any I/O', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    const bad: [unknown, unknown][] = [
      ['', undefined],
      [42, undefined],
      [join(root, 'x'), 'options'],
      [join(root, 'x'), { signal: 'no' }],
      [join(root, 'x'), { onProgress: 'no' }],
    ];
    for (const [dest, options] of bad) {
      await t.rejects(ks.backupTo(dest as string, options as object), TypeError, `rejects ${JSON.stringify([dest, options])}`);
    }
    t.notOk(await exists(join(root, 'x')));
    await ks.close();
  });

  t.test('an existing destination: EEXIST, destination untouched', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    await fill(ks, 'p', 10, 'k');
    await mkdir(join(root, 'dir'));
    await writeFile(join(root, 'dir', 'mine'), 'keep');
    await writeFile(join(root, 'file'), 'keep');
    for (const name of ['dir', 'file']) {
      await t.rejects(ks.backupTo(join(root, name)), { code: 'EEXIST', syscall: 'backupTo', path: join(root, name) });
      t.same(await stagingLeft(join(root, name)), [], `${name}: no staging`);
    }
    t.same(await readdir(join(root, 'dir')), ['mine']);
    t.ok(await stillWritable(ks, 'eexist'));
    await ks.close();
  });

  t.test('a closed keyspace: CAIRN_CLOSED', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    await ks.close();
    await t.rejects(ks.backupTo(join(root, 'cp')), { code: 'CAIRN_CLOSED' });
    t.notOk(await exists(join(root, 'cp')));
  });

  t.test('an aborted signal: AbortError before anything is made', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    await fill(ks, 'p', 10, 'k');
    const dest = join(root, 'new-parent', 'cp');
    await t.rejects(ks.backupTo(dest, { signal: AbortSignal.abort() }), { name: 'AbortError', code: 'CAIRN_ABORTED' });
    t.notOk(await exists(join(root, 'new-parent')), 'not even the parent was created');
    t.ok(await stillWritable(ks, 'abort-before'));
    await ks.close();
  });

  for (const phase of ['linking', 'writing', 'syncing'] as const) {
    t.test(`aborted from onProgress in phase ${phase}: nothing left behind`, async (t) => {
      const root = await tempDir(t);
      const ks = await Keyspace.open(join(root, 'src'));
      await fill(ks, 'p', 100, 'k');
      await ks.flush();
      await fill(ks, 'q', 20, 'k');
      const dest = join(root, 'cp');
      const controller = new AbortController();
      const reason = new Error('user gave up');
      await t.rejects(
        ks.backupTo(dest, { signal: controller.signal, onProgress: (p) => p.phase === phase && controller.abort(reason) }),
        { name: 'AbortError', code: 'CAIRN_ABORTED', cause: reason },
      );
      t.notOk(await exists(dest), 'no dest');
      t.same(await stagingLeft(dest), [], 'no staging');
      t.ok(await stillWritable(ks, `abort-${phase}`));
      // Pins and the checkpoint count were released: a partition can be deleted (it waits
      // for checkpoints in progress) and the next checkpoint succeeds.
      await ks.deletePartition('q');
      const info = await ks.backupTo(dest);
      t.same(info.partitions.sort(), ['health', 'p']);
      t.same(plain((await dumpDir(dest)).data), plain(await dump(ks)));
      await ks.close();
    });
  }

  t.test('an I/O failure midway: coded error, staging removed, source fine', async (t) => {
    const root = await tempDir(t);
    const fs = new FaultFileSystem(defaultFileSystem());
    const ks = await Keyspace.open(join(root, 'src'), { fs });
    await fill(ks, 'p', 100, 'k');
    await ks.flush();
    const fault = fs.inject({ op: 'link', nth: 1, code: 'EIO' });
    const dest = join(root, 'cp');
    await t.rejects(ks.backupTo(dest), { code: 'EIO', syscall: 'link' });
    t.equal(fault.hits, 1);
    t.notOk(await exists(dest));
    t.same(await stagingLeft(dest), []);
    t.ok(await stillWritable(ks, 'eio'));
    await ks.backupTo(dest);
    t.same(plain((await dumpDir(dest)).data), plain(await dump(ks)), 'a retry succeeds');
    await ks.close();
  });

  t.test('a poisoned keyspace: CAIRN_POISONED', async (t) => {
    const root = await tempDir(t);
    const fs = new FaultFileSystem(defaultFileSystem());
    const ks = await Keyspace.open(join(root, 'src'), { fs });
    const p = await ks.partition('p');
    await p.put('a', '1');
    fs.inject({ op: 'sync', code: 'EIO' });
    await t.rejects(p.put('b', '2', { durability: 'sync' }), { code: 'CAIRN_POISONED' });
    fs.clearFaults();
    await t.rejects(ks.backupTo(join(root, 'cp')), { code: 'CAIRN_POISONED' });
    t.notOk(await exists(join(root, 'cp')));
    t.same(await stagingLeft(join(root, 'cp')), []);
    await ks.close();
  });

  t.test('several calls racing for one destination: one wins, the others get EEXIST', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    await fill(ks, 'p', 100, 'k');
    await ks.flush();
    const dest = join(root, 'cp');
    const settled = await Promise.allSettled([1, 2, 3].map(() => ks.backupTo(dest)));
    t.equal(settled.filter((s) => s.status === 'fulfilled').length, 1, 'exactly one succeeds');
    for (const s of settled) if (s.status === 'rejected') t.match(s.reason, { code: 'EEXIST', path: dest });
    t.same(await stagingLeft(dest), []);
    t.same(plain((await dumpDir(dest)).data), plain(await dump(ks)));
    await ks.close();
  });

  t.test('a destination that appears while the checkpoint is built: EEXIST, not replaced', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    await fill(ks, 'p', 10, 'k');
    const dest = join(root, 'cp');
    await t.rejects(ks.backupTo(dest, { onProgress: (p) => p.phase === 'writing' && mkdirNow(dest) }), { code: 'EEXIST' });
    t.same(await readdir(dest), [], 'the directory someone else made is left as it was');
    t.same(await stagingLeft(dest), []);
    t.ok(await stillWritable(ks, 'appeared'));
    await ks.close();
  });

  t.test('a failure after the rename (onProgress throwing at done): dest removed again', async (t) => {
    const root = await tempDir(t);
    const ks = await Keyspace.open(join(root, 'src'));
    await fill(ks, 'p', 10, 'k');
    const dest = join(root, 'cp');
    const boom = new Error('observer failed');
    await t.rejects(ks.backupTo(dest, { onProgress: (p) => { if (p.phase === 'done') throw boom; } }), boom);
    t.notOk(await exists(dest), 'a rejected backupTo leaves no dest');
    t.same(await stagingLeft(dest), []);
    await ks.backupTo(dest);
    t.ok(await exists(dest), 'the retry succeeds');
    await ks.close();
  });
});

t.test('onProgress reports the phases in order with consistent counts', async (t) => {
  const root = await tempDir(t);
  const ks = await Keyspace.open(join(root, 'src'));
  await fill(ks, 'a', 200, 'k');
  await fill(ks, 'b', 200, 'k');
  await ks.flush();
  await fill(ks, 'a', 20, 'm');
  const events: CheckpointProgress[] = [];
  const info = await ks.backupTo(join(root, 'cp'), { onProgress: (p) => events.push({ ...p }) });
  t.same(events.map((e) => e.phase), ['linking', 'writing', 'syncing', 'done']);
  const total = info.filesLinked + info.filesCopied;
  for (const e of events) {
    t.equal(e.filesTotal, total, `${e.phase}: filesTotal`);
    t.equal(e.bytesTotal, info.bytesLinked + info.bytesCopied, `${e.phase}: bytesTotal`);
    t.ok(e.filesDone <= e.filesTotal && e.bytesDone <= e.bytesTotal, `${e.phase}: done <= total`);
  }
  for (let i = 1; i < events.length; i++) t.ok(events[i].filesDone >= events[i - 1].filesDone && events[i].bytesDone >= events[i - 1].bytesDone, 'counts never go back');
  t.same([events.at(-1)!.filesDone, events.at(-1)!.bytesDone], [total, info.bytesLinked], 'done: everything');
  await ks.close();
});

t.test('five concurrent backupTo calls beside a writer', async (t) => {
  const root = await tempDir(t);
  const ks = await Keyspace.open(join(root, 'src'), SMALL);
  const p = await ks.partition('p');
  const seqnoOf: number[] = [];
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      await p.put(`k${String(i).padStart(5, '0')}`, `v${i}`);
      seqnoOf[i] = ks.seqno;
    }
  })();
  while (seqnoOf.length < 100) await new Promise((r) => setImmediate(r));
  const infos = await Promise.all([0, 1, 2, 3, 4].map((i) => ks.backupTo(join(root, `cp${i}`))));
  stop = true;
  await writer;
  for (const [i, info] of infos.entries()) {
    const expected: Record<string, string> = {};
    for (let j = 0; j < seqnoOf.length; j++) if (seqnoOf[j] <= info.seqno) expected[`k${String(j).padStart(5, '0')}`] = `v${j}`;
    const cp = await dumpDir(join(root, `cp${i}`));
    t.same(plain(cp.data), { p: expected }, `checkpoint ${i} (seqno ${info.seqno})`);
    t.same(await stagingLeft(join(root, `cp${i}`)), []);
  }
  await ks.close();
});

t.test('a checkpoint of a checkpoint', async (t) => {
  const root = await tempDir(t);
  const ks = await Keyspace.open(join(root, 'src'));
  await fill(ks, 'a', 150, 'k');
  await ks.flush();
  await fill(ks, 'b', 30, 'k');
  const first = await ks.backupTo(join(root, 'cp1'));
  const expected = await dump(ks);
  await ks.close();

  const cp1 = await Keyspace.open(join(root, 'cp1'));
  t.equal(cp1.seqno, first.seqno);
  const second = await cp1.backupTo(join(root, 'cp2'));
  t.equal(second.seqno, first.seqno, 'nothing written in between');
  await (await cp1.partition('a')).put('only-in-cp1', 'x');
  await cp1.close();
  const cp2 = await dumpDir(join(root, 'cp2'));
  t.same(plain(cp2.data), plain(expected));
  t.equal(cp2.id, ks.id, 'still the same keyspace id');
});

t.test('right after a reopen: journals replayed but not flushed are carried over', async (t) => {
  const root = await tempDir(t);
  let ks = await Keyspace.open(join(root, 'src'));
  await fill(ks, 'a', 120, 'k');
  await ks.flush();
  await fill(ks, 'a', 40, 'j');
  await fill(ks, 'b', 40, 'j');
  await ks.close();
  ks = await Keyspace.open(join(root, 'src'));
  const expected = await dump(ks);
  const info = await ks.backupTo(join(root, 'cp'));
  t.equal(info.seqno, ks.seqno);
  const cp = await dumpDir(join(root, 'cp'));
  t.same(plain(cp.data), plain(expected));
  t.equal(cp.seqno, info.seqno);
  await ks.close();
});

