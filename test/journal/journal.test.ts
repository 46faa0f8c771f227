// The Journal manager: automatic and explicit rotation under concurrent appends keep
// order and per-file seqno ranges; a sealed file is durable before the next file gets
// data; rotation failures poison; sealed files can be removed.
import t from 'tap';
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { Journal, type JournalFileInfo } from '../../lib/journal/journal.js';
import { putRecord, readBack, tick } from './journal-helpers.js';

async function readAll(fs: NodeFileSystem | FaultFileSystem, files: JournalFileInfo[]): Promise<{ all: number[]; perFile: number[][] }> {
  const perFile: number[][] = [];
  for (let i = 0; i < files.length; i++) perFile.push((await readBack(fs, files[i].path, i === files.length - 1)).seqnos);
  return { all: perFile.flat(), perFile };
}

t.test('automatic rotation under concurrent appends keeps order and seqno ranges', async (t) => {
  const fs = new NodeFileSystem();
  const dir = t.testdir();
  const journal = await Journal.open(fs, dir, { maxFileBytes: 4096, firstFileNumber: 7 });
  const applied: number[] = [];
  let next = 1;
  // Four writers, each awaiting its own appends, mixing sync and buffered, so rotations
  // happen while other appends are in flight and queue.
  const writer = async (n: number, sync: boolean) => {
    for (let i = 0; i < n; i++) {
      const seqno = next++;
      await journal.append(putRecord(seqno, 50), { sync: sync && i % 10 === 0 }, () => applied.push(seqno));
    }
  };
  await Promise.all([writer(300, false), writer(300, true), writer(300, false), writer(300, true)]);
  const total = next - 1;
  t.same(applied, Array.from({ length: total }, (_, i) => i + 1), 'onWritten order = append order');
  const files = [...journal.sealedFiles(), journal.activeFile()];
  await journal.close();
  t.ok(files.length > 10, `rotated into ${files.length} files`);
  t.same(files.map((f) => f.fileNumber), files.map((_, i) => 7 + i), 'consecutive file numbers');
  t.same(readdirSync(dir).sort(), files.map((f) => f.path.slice(dir.length + 1)).sort(), 'default names, no stray files');
  const { all, perFile } = await readAll(fs, files);
  t.same(all, Array.from({ length: total }, (_, i) => i + 1), 'files read back in append order');
  for (let i = 0; i < files.length; i++) {
    const seqnos = perFile[i];
    t.same([files[i].firstSeqno, files[i].lastSeqno], [seqnos[0], seqnos[seqnos.length - 1]], `file ${files[i].fileNumber} range`);
    if (i < files.length - 1) t.ok(files[i].bytes >= 4096, 'sealed only once over the limit');
  }
});

t.test('explicit rotate: sealed holds everything before the call, durably, before the new file gets data', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const dir = t.testdir();
  const journal = await Journal.open(fs, dir, { maxFileBytes: 1 << 30, firstFileNumber: 1 });
  for (let s = 1; s <= 5; s++) await journal.append(putRecord(s), { sync: false }, () => {});
  const pending6 = journal.append(putRecord(6), { sync: false }, () => {});
  fs.clearTrace();
  const rotation = journal.rotate();
  const later = [7, 8, 9].map((s) => journal.append(putRecord(s), { sync: s === 9 }, () => {}));
  const { sealed } = await rotation;
  await Promise.all([pending6, ...later]);
  t.match(sealed, { fileNumber: 1, firstSeqno: 1, lastSeqno: 6, path: join(dir, '000001.jnl') });
  t.match(journal.activeFile(), { fileNumber: 2, firstSeqno: 7, lastSeqno: 9 });
  const trace = fs.trace();
  const sealSync = trace.findIndex((l) => l.startsWith('datasync') && l.includes('000001.jnl'));
  const writesToNew = trace.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('write') && l.includes('000002.jnl'));
  t.ok(sealSync >= 0, 'the sealed file was fdatasynced');
  t.equal(writesToNew.length, 2, 'header, then one group of the queued appends');
  t.ok(writesToNew[1][1] > sealSync, 'queued appends reach the new file only after the old one is durable');
  t.ok(trace.some((l) => l.startsWith('syncDir')), 'the new file name is made durable');
  t.same((await readBack(fs, sealed.path, false)).seqnos, [1, 2, 3, 4, 5, 6]);
  await journal.close();
  t.same((await readBack(fs, join(dir, '000002.jnl'))).seqnos, [7, 8, 9]);
});

t.test('back-to-back rotations each seal a file and keep order', async (t) => {
  const fs = new NodeFileSystem();
  const journal = await Journal.open(fs, t.testdir(), { maxFileBytes: 1 << 30, firstFileNumber: 1 });
  const appends: Promise<void>[] = [];
  const rotations: Promise<{ sealed: JournalFileInfo }>[] = [];
  let seqno = 0;
  for (let round = 0; round < 5; round++) {
    appends.push(journal.append(putRecord(++seqno), { sync: false }, () => {}));
    rotations.push(journal.rotate());
    appends.push(journal.append(putRecord(++seqno), { sync: false }, () => {}));
  }
  const sealed = (await Promise.all(rotations)).map((r) => r.sealed);
  await Promise.all(appends);
  t.same(sealed.map((s) => s.fileNumber), [1, 2, 3, 4, 5]);
  t.same(journal.sealedFiles().map((s) => s.fileNumber), [1, 2, 3, 4, 5]);
  const files = [...journal.sealedFiles(), journal.activeFile()];
  await journal.close();
  const { all } = await readAll(fs, files);
  t.same(all, Array.from({ length: seqno }, (_, i) => i + 1));
  // Round i appends 2i+1, rotates, appends 2i+2: each rotation seals exactly what came
  // between it and the previous rotate() call, even though all five were requested at once.
  t.same(
    sealed.map((s) => [s.firstSeqno, s.lastSeqno]),
    [[1, 1], [2, 3], [4, 5], [6, 7], [8, 9]],
  );
  t.match(files[files.length - 1], { firstSeqno: 10, lastSeqno: 10 });
});

t.test('a failed rotation poisons the journal: queued and later appends reject', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const dir = t.testdir();
  const journal = await Journal.open(fs, dir, { maxFileBytes: 1 << 30, firstFileNumber: 1 });
  await journal.append(putRecord(1), { sync: false }, () => {});
  fs.inject({ op: 'open', path: '000002.jnl', code: 'ENOSPC' });
  const rotation = journal.rotate();
  const queued = journal.append(putRecord(2), { sync: false }, () => t.fail('must not be applied'));
  await t.rejects(rotation, { code: 'CAIRN_POISONED', cause: { code: 'ENOSPC' } });
  await t.rejects(queued, { code: 'CAIRN_POISONED' });
  await t.rejects(journal.append(putRecord(3), { sync: false }, () => {}), { code: 'CAIRN_POISONED' });
  t.ok(journal.poisoned);
  t.notOk(existsSync(join(dir, '000002.jnl')));
  await journal.close();
});

t.test('an fdatasync failure while sealing poisons the journal', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const journal = await Journal.open(fs, t.testdir(), { maxFileBytes: 1 << 30, firstFileNumber: 1 });
  await journal.append(putRecord(1), { sync: false }, () => {});
  fs.inject({ op: 'sync', path: '000001.jnl', code: 'EIO' });
  await t.rejects(journal.rotate(), { code: 'CAIRN_POISONED', cause: { code: 'EIO' } });
  await t.rejects(journal.append(putRecord(2), { sync: true }, () => {}), { code: 'CAIRN_POISONED' });
  await journal.close();
});

t.test('sealed files from recovery are tracked; removeSealed deletes them', async (t) => {
  const fs = new NodeFileSystem();
  const dir = t.testdir({ '000003.jnl': 'old' });
  await t.rejects(
    Journal.open(fs, dir, { maxFileBytes: 4096, firstFileNumber: 3, sealed: [{ fileNumber: 3, firstSeqno: 1, lastSeqno: 9, bytes: 3 }] }),
    RangeError,
  );
  await t.rejects(Journal.open(fs, dir, { maxFileBytes: 4096, firstFileNumber: 3 }), { code: 'EEXIST' });
  const journal = await Journal.open(fs, dir, {
    maxFileBytes: 4096,
    firstFileNumber: 4,
    sealed: [{ fileNumber: 3, firstSeqno: 1, lastSeqno: 9, bytes: 3 }],
  });
  t.match(journal.sealedFiles(), [{ fileNumber: 3, path: join(dir, '000003.jnl'), lastSeqno: 9 }]);
  await t.rejects(journal.removeSealed(4), { code: 'CAIRN_NOT_FOUND' }, 'the active file is not removable');
  await journal.removeSealed(3);
  t.same(journal.sealedFiles(), []);
  t.notOk(existsSync(join(dir, '000003.jnl')));
  await journal.close();
  await t.rejects(journal.append(putRecord(1), { sync: false }, () => {}), { code: 'CAIRN_CLOSED' });
  await t.rejects(journal.rotate(), { code: 'CAIRN_CLOSED' });
});

t.test('arguments are validated before any I/O', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  const dir = t.testdir();
  await t.rejects(Journal.open(fs, dir, { maxFileBytes: 0, firstFileNumber: 1 }), RangeError);
  await t.rejects(Journal.open(fs, dir, { maxFileBytes: 10, firstFileNumber: -1 }), RangeError);
  await t.rejects(Journal.open(fs, '', { maxFileBytes: 10, firstFileNumber: 1 }), TypeError);
  await tick();
  t.same(fs.trace(), []);
});
