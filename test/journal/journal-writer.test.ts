// JournalWriter: group commit (one write per tick), shared fdatasyncs with leader/follower,
// onWritten order, and the failure rules: a failed write is undone by truncation, a failed
// truncate or fdatasync poisons the writer forever.
import t from 'tap';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { JournalWriter } from '../../lib/journal/journal-writer.js';
import { JOURNAL_HEADER_BYTES } from '../../lib/journal/record.js';
import type { FileHandle } from '../../lib/fs/file-system.js';
import { gate, overrideHandles, putRecord, readBack, tick } from './journal-helpers.js';

const count = (lines: string[], prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;

t.test('round trip: appended records read back, in order, after seal', async (t) => {
  const fs = new NodeFileSystem();
  const path = join(t.testdir(), '000001.jnl');
  const w = await JournalWriter.create(fs, path, { fileNumber: 1 });
  for (let s = 1; s <= 50; s++) await w.append(putRecord(s, s * 3), { sync: false }, () => {});
  await w.seal();
  t.equal(statSync(path).size, w.size);
  const { seqnos, end } = await readBack(fs, path);
  t.same(seqnos, Array.from({ length: 50 }, (_, i) => i + 1));
  t.equal(end.validBytes, w.size);
  t.equal(end.tornTail, undefined);
  t.equal(end.fileNumber, 1);
  await t.rejects(w.append(putRecord(51), { sync: false }, () => {}), { code: 'CAIRN_CLOSED' });
  await t.rejects(JournalWriter.create(fs, path), { code: 'EEXIST' }, 'create is exclusive');
});

t.test('group commit: 1,000 appends in one tick are one write, onWritten in append order', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const path = join(t.testdir(), 'j.jnl');
  const w = await JournalWriter.create(fs, path);
  fs.clearTrace();
  const order: number[] = [];
  const resolvedBeforeWritten: number[] = [];
  const all: Promise<void>[] = [];
  for (let s = 1; s <= 1000; s++) {
    const p = w.append(putRecord(s), { sync: false }, () => order.push(s));
    all.push(p.then(() => { if (!order.includes(s)) resolvedBeforeWritten.push(s); }));
  }
  t.equal(order.length, 0, 'nothing is written synchronously inside append');
  await Promise.all(all);
  t.same(order, Array.from({ length: 1000 }, (_, i) => i + 1));
  t.same(resolvedBeforeWritten, [], 'every append resolves after its onWritten ran');
  t.equal(count(fs.trace(), 'write'), 1, 'one write call for the whole group');
  t.equal(count(fs.trace(), 'datasync'), 0, 'buffered appends do not fdatasync');
  await w.seal();
  t.equal((await readBack(fs, path)).seqnos.length, 1000);
});

t.test('sync appends share fdatasyncs; later ones wait for the next (leader/follower)', async (t) => {
  const gates: ReturnType<typeof gate>[] = [];
  let syncs = 0;
  const inner = new NodeFileSystem();
  const fs = overrideHandles(inner, /\.jnl$/, {
    sync: async (h: FileHandle, dataOnly?: boolean) => {
      syncs++;
      const g = gate();
      gates.push(g);
      await g.promise;
      await h.sync(dataOnly);
    },
  });
  const w = await JournalWriter.create(fs, join(t.testdir(), 'j.jnl'));
  const done: string[] = [];
  const written: string[] = [];
  const a = Array.from({ length: 100 }, (_, i) => w.append(putRecord(i + 1), { sync: true }, () => written.push('a')).then(() => done.push('a')));
  await tick();
  t.equal(syncs, 1, 'one fdatasync for the first 100 sync appends');
  // Two more ticks of sync appends while the first fdatasync is in flight.
  const b = w.append(putRecord(101), { sync: true }, () => written.push('b')).then(() => done.push('b'));
  await tick();
  const c = w.append(putRecord(102), { sync: true }, () => written.push('c')).then(() => done.push('c'));
  const d = w.append(putRecord(103), { sync: false }, () => written.push('d')).then(() => done.push('d'));
  await tick();
  t.equal(syncs, 1, 'no second fdatasync while one is in flight');
  t.equal(written.length, 103, 'followers are written (and visible) before their fdatasync');
  t.same(done, ['d'], 'only the buffered append has resolved');
  gates[0].open();
  await Promise.all(a);
  await tick();
  t.equal(syncs, 2, 'one fdatasync covers both waiting followers');
  t.equal(done.filter((x) => x === 'a').length, 100);
  t.notOk(done.includes('b') || done.includes('c'), 'followers wait for their own fdatasync');
  gates[1].open();
  await Promise.all([b, c, d]);
  t.equal(syncs, 2);
  const sealing = w.seal();
  await tick();
  t.equal(syncs, 2, 'seal skips the fdatasync when everything written is already synced');
  await sealing;
});

t.test('a failed write (ENOSPC) rejects the group, is truncated away, and later appends work', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const path = join(t.testdir(), 'j.jnl');
  const w = await JournalWriter.create(fs, path);
  await w.append(putRecord(1), { sync: false }, () => {});
  fs.inject({ op: 'write', nth: 1, code: 'ENOSPC' });
  const applied: number[] = [];
  const failing = [2, 3, 4].map((s) => w.append(putRecord(s), { sync: s === 3 }, () => applied.push(s)));
  for (const p of failing) await t.rejects(p, { code: 'ENOSPC' });
  t.same(applied, [], 'onWritten never runs for a failed write');
  await w.append(putRecord(5), { sync: true }, () => applied.push(5));
  t.same(applied, [5]);
  await w.seal();
  const { seqnos, end } = await readBack(fs, path);
  t.same(seqnos, [1, 5]);
  t.equal(end.tornTail, undefined);
});

t.test('a torn (partial) write is truncated back so no garbage stays mid-journal', async (t) => {
  let tear = false;
  const fs = overrideHandles(new NodeFileSystem(), /\.jnl$/, {
    writeSync: (h, buffer, offset = 0, length = buffer.byteLength, position = null) => {
      if (!tear) return h.writeSync(buffer, offset, length, position);
      tear = false;
      h.writeSync(buffer, offset, Math.floor(length / 2), position);
      throw Object.assign(new Error('no space'), { code: 'ENOSPC', syscall: 'write' });
    },
  });
  const path = join(t.testdir(), 'j.jnl');
  const w = await JournalWriter.create(fs, path);
  await w.append(putRecord(1, 100), { sync: false }, () => {});
  const sizeBefore = w.size;
  tear = true;
  await t.rejects(w.append(putRecord(2, 1000), { sync: false }, () => {}), { code: 'ENOSPC' });
  t.equal(statSync(path).size, sizeBefore, 'file truncated back to the last whole record');
  await w.append(putRecord(3, 10), { sync: false }, () => {});
  await w.seal();
  t.same((await readBack(fs, path)).seqnos, [1, 3]);
});

t.test('a failed truncate after a failed write poisons the writer', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const w = await JournalWriter.create(fs, join(t.testdir(), 'j.jnl'));
  fs.inject({ op: 'write', nth: 1, code: 'ENOSPC' });
  fs.inject({ op: 'truncate', code: 'EIO' });
  const err = await w.append(putRecord(1), { sync: false }, () => {}).catch((e: unknown) => e);
  t.match(err, { code: 'CAIRN_POISONED', cause: { code: 'ENOSPC' }, details: { truncateError: { code: 'EIO' } } });
  t.ok(w.poisoned);
  fs.clearFaults();
  await t.rejects(w.append(putRecord(2), { sync: false }, () => {}), { code: 'CAIRN_POISONED' });
  await t.rejects(w.seal(), { code: 'CAIRN_POISONED' });
});

t.test('a failed fdatasync poisons the writer forever and is never retried', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const w = await JournalWriter.create(fs, join(t.testdir(), 'j.jnl'));
  await w.append(putRecord(1), { sync: false }, () => {});
  fs.clearTrace();
  fs.inject({ op: 'sync', nth: 1, code: 'EIO' });
  const results = await Promise.allSettled([
    w.append(putRecord(2), { sync: true }, () => {}),
    w.append(putRecord(3), { sync: true }, () => {}),
    w.append(putRecord(4), { sync: false }, () => {}),
  ]);
  t.match(results[0], { status: 'rejected', reason: { code: 'CAIRN_POISONED', cause: { code: 'EIO' } } });
  t.match(results[1], { status: 'rejected', reason: { code: 'CAIRN_POISONED' } });
  t.match(results[2], { status: 'fulfilled' }, 'a buffered append in the same group was written before the sync failed');
  for (const sync of [false, true]) {
    await t.rejects(w.append(putRecord(5), { sync }, () => t.fail('must not be written')), { code: 'CAIRN_POISONED', cause: { code: 'EIO' } });
  }
  await t.rejects(w.seal(), { code: 'CAIRN_POISONED' });
  t.equal(count(fs.trace(), 'datasync'), 1, 'the failed fdatasync was not retried');
});

t.test('an onWritten that throws poisons the writer (memory and journal disagree)', async (t) => {
  const w = await JournalWriter.create(new NodeFileSystem(), join(t.testdir(), 'j.jnl'));
  const ran: number[] = [];
  const results = await Promise.allSettled([
    w.append(putRecord(1), { sync: false }, () => { throw new Error('boom'); }),
    w.append(putRecord(2), { sync: false }, () => ran.push(2)),
  ]);
  t.same(ran, [2], 'later callbacks of the group still run');
  t.match(results[0], { status: 'rejected', reason: { code: 'CAIRN_POISONED', cause: { message: 'boom' } } });
  await t.rejects(w.append(putRecord(3), { sync: false }, () => {}), { code: 'CAIRN_POISONED' });
  await w.close();
});

t.test('seal writes pending appends, fdatasyncs, and closes', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const path = join(t.testdir(), 'j.jnl');
  const w = await JournalWriter.create(fs, path);
  fs.clearTrace();
  const p = w.append(putRecord(1), { sync: false }, () => {});
  await w.seal();
  await p;
  t.same(fs.trace().map((l) => l.split(' ')[0]), ['write', 'datasync', 'close']);
  t.ok(statSync(path).size > JOURNAL_HEADER_BYTES);
  await t.rejects(w.seal(), { code: 'CAIRN_CLOSED' });
});

t.test('close during seal waits for the seal and closes once', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const w = await JournalWriter.create(fs, join(t.testdir(), 'j.jnl'));
  void w.append(putRecord(1), { sync: false }, () => {});
  fs.clearTrace();
  const sealing = w.seal();
  await w.close();
  await sealing;
  t.same(fs.trace().map((l) => l.split(' ')[0]), ['write', 'datasync', 'close']);
});
