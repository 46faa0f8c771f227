// runMerge in-process: correctness against a model (random multi-version
// inputs, tombstones kept or dropped, size-based splitting), cleanup of every output on
// failure (FaultFileSystem), and argument checks before any I/O.
import t from 'tap';
import path from 'node:path';
import { EntryKind, type Entry } from '../../lib/codec/entry.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import { estimateOutputCount, runMerge, type MergeJob } from '../../lib/compaction/run-merge.js';
import { Rng } from '../helpers/rng.js';
import { modelMerge, plain, readAll, writeInputs } from './fixtures/merge-inputs.js';

const fs = new NodeFileSystem();
const shape = { count: 4, entriesPerInput: 600, keySpace: 900, valueBytes: [0, 120] as [number, number], tombstoneShare: 0.2 };

function faultFs(root: string): FaultFileSystem {
  return new FaultFileSystem(new NodeFileSystem(), { rewritePath: (p) => p.replace(root, '<root>') });
}

async function outputsIn(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((name) => !name.startsWith('input-'));
}

for (const dropTombstones of [false, true]) {
  t.test(`random multi-version inputs, dropTombstones ${dropTombstones}: outputs hold exactly the model, split in key order`, async (t) => {
    for (const seed of [1, 2, 3]) {
      const dir = t.testdir();
      const inputs = await writeInputs(fs, dir, new Rng(seed), shape);
      const job: MergeJob = { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51], targetFileBytes: 8 * 1024, dropTombstones };
      const outputs = await runMerge(fs, job);
      t.ok(outputs.length > 1, `seed ${seed}: the output was split (${outputs.length} files)`);
      t.same(outputs.map((s) => s.fileNumber), job.fileNumbers.slice(0, outputs.length), 'file numbers used in order');
      const written: Entry[] = [];
      for (const [i, s] of outputs.entries()) {
        const entries = await readAll(fs, path.join(dir, `0000${s.fileNumber}.sst`));
        written.push(...entries);
        t.equal(s.entryCount, entries.length);
        t.equal(s.tombstoneCount, entries.filter((e) => e.kind === EntryKind.Delete).length);
        t.same([s.minKey, s.maxKey], [entries[0].key, entries[entries.length - 1].key]);
        t.equal(s.fileSize, (await fs.stat(path.join(dir, `0000${s.fileNumber}.sst`))).size);
        if (i > 0) t.ok(Buffer.compare(outputs[i - 1].maxKey, s.minKey) < 0, 'outputs are disjoint and in key order');
      }
      const expected = modelMerge(inputs.entries, dropTombstones);
      t.same(plain(written), plain(expected), `seed ${seed}: newest version of every key, nothing else`);
      t.equal(expected.some((e) => e.kind === EntryKind.Delete), !dropTombstones, 'the model itself has tombstones exactly when they are kept');
    }
  });
}

t.test('a merge where only tombstones survive writes nothing when they are dropped', async (t) => {
  const dir = t.testdir();
  const inputs = await writeInputs(fs, dir, new Rng(9), { ...shape, count: 2, entriesPerInput: 50, tombstoneShare: 1 });
  t.same(await runMerge(fs, { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [7], targetFileBytes: 1, dropTombstones: true }), []);
  t.same(await outputsIn(dir), []);
});

t.test('a shadowed put under a dropped tombstone does not come back', async (t) => {
  const dir = t.testdir();
  const older = path.join(dir, 'input-1.sst');
  const newer = path.join(dir, 'input-2.sst');
  await writeSegment(fs, older, [{ key: Buffer.from('a'), seqno: 1, kind: EntryKind.Put, value: Buffer.from('old') }]);
  await writeSegment(fs, newer, [
    { key: Buffer.from('a'), seqno: 3, kind: EntryKind.Delete, value: Buffer.alloc(0) },
    { key: Buffer.from('a'), seqno: 2, kind: EntryKind.Put, value: Buffer.from('mid') },
    { key: Buffer.from('b'), seqno: 4, kind: EntryKind.Put, value: Buffer.from('b') },
  ]);
  const outputs = await runMerge(fs, { inputs: [{ path: newer }, { path: older }], outputDir: dir, fileNumbers: [5], targetFileBytes: 1 << 20, dropTombstones: true });
  t.same(plain(await readAll(fs, path.join(dir, '000005.sst'))), plain([{ key: Buffer.from('b'), seqno: 4, kind: EntryKind.Put, value: Buffer.from('b') }]));
  t.equal(outputs.length, 1);
});

t.test('when the pre-allocated numbers run out, the last output takes the rest', async (t) => {
  const dir = t.testdir();
  const inputs = await writeInputs(fs, dir, new Rng(4), shape);
  const outputs = await runMerge(fs, { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [8, 9], targetFileBytes: 4096, dropTombstones: false });
  t.same(outputs.map((s) => s.fileNumber), [8, 9]);
  t.equal(outputs[0].entryCount + outputs[1].entryCount, modelMerge(inputs.entries, false).length);
  t.ok(outputs[1].fileSize > outputs[0].fileSize * 3, 'the second file holds everything after the first split');
  t.ok(estimateOutputCount(inputs.bytes, 4096) > 2, 'the estimate would have allotted enough numbers');
});

t.test('the protocol: outputs created exclusively and fsynced, the directory fsynced once, at the end', async (t) => {
  const dir = t.testdir();
  const inputs = await writeInputs(fs, dir, new Rng(5), { ...shape, entriesPerInput: 300 });
  const ffs = faultFs(dir);
  const outputs = await runMerge(ffs, { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [20, 21, 22, 23, 24, 25, 26, 27], targetFileBytes: 8192, dropTombstones: false });
  const mutating = ffs.trace({ mutatingOnly: true });
  const expected: string[] = [];
  for (const s of outputs) expected.push(`open <root>/0000${s.fileNumber}.sst (wx)`, `write <root>/0000${s.fileNumber}.sst`, `sync <root>/0000${s.fileNumber}.sst`);
  expected.push('syncDir <root>');
  t.same(mutating.filter((line) => !line.startsWith('close')), expected);
});

for (const [what, rule] of [
  ['the second output fails to write (ENOSPC)', { op: 'write', path: '000031.sst', code: 'ENOSPC' }],
  ['the third output fails to fsync (EIO)', { op: 'sync', path: '000032.sst', code: 'EIO' }],
  ['the final directory fsync fails (EIO)', { op: 'syncDir', code: 'EIO' }],
  ['an input fails to open (EMFILE)', { op: 'open', path: 'input-2', code: 'EMFILE' }],
] as const) {
  t.test(`${what}: rejected with that code, every output removed, inputs intact`, async (t) => {
    const dir = t.testdir();
    const inputs = await writeInputs(fs, dir, new Rng(6), shape);
    const ffs = faultFs(dir);
    ffs.inject(rule);
    await t.rejects(runMerge(ffs, { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [30, 31, 32, 33, 34, 35, 36, 37, 38], targetFileBytes: 8192, dropTombstones: false }), { code: rule.code });
    t.same(await outputsIn(dir), [], 'no output left behind');
    t.equal((await fs.readdir(dir)).length, shape.count, 'the inputs are untouched');
  });
}

t.test('an output name that already exists is an error and the existing file is kept', async (t) => {
  const dir = t.testdir({ '000061.sst': 'not ours' });
  const inputs = await writeInputs(fs, dir, new Rng(7), shape);
  await t.rejects(runMerge(fs, { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [60, 61, 62, 63, 64, 65, 66, 67], targetFileBytes: 8192, dropTombstones: false }), { code: 'EEXIST' });
  t.same(await outputsIn(dir), ['000061.sst']);
  t.equal((await fs.readFile(path.join(dir, '000061.sst'))).toString(), 'not ours');
});

t.test('an abort removes every output and rejects with CAIRN_ABORTED', async (t) => {
  const dir = t.testdir();
  const inputs = await writeInputs(fs, dir, new Rng(8), shape);
  const controller = new AbortController();
  const ffs = faultFs(dir);
  // Abort once the second output is being written.
  const inner = ffs.open.bind(ffs);
  ffs.open = async (p, mode) => {
    if (p.endsWith('000071.sst')) controller.abort();
    return inner(p, mode);
  };
  await t.rejects(runMerge(ffs, { inputs: inputs.paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [70, 71, 72, 73, 74, 75, 76, 77, 78], targetFileBytes: 8192, dropTombstones: false, signal: controller.signal }), { code: 'CAIRN_ABORTED', name: 'AbortError' });
  t.same(await outputsIn(dir), []);
});

t.test('bad jobs are refused before any I/O', async (t) => {
  const dir = t.testdir();
  const ffs = faultFs(dir);
  const good: MergeJob = { inputs: [{ path: path.join(dir, 'x.sst') }], outputDir: dir, fileNumbers: [1], targetFileBytes: 10, dropTombstones: false };
  const bad: [Partial<MergeJob>, typeof TypeError | typeof RangeError][] = [
    [{ inputs: [] }, TypeError],
    [{ inputs: [{ path: '' }] }, TypeError],
    [{ outputDir: '' }, TypeError],
    [{ fileNumbers: [] }, TypeError],
    [{ fileNumbers: [1, 1] }, RangeError],
    [{ fileNumbers: [-1] }, RangeError],
    [{ targetFileBytes: 0 }, RangeError],
    [{ dropTombstones: 1 as unknown as boolean }, TypeError],
  ];
  for (const [change, type] of bad) await t.rejects(runMerge(ffs, { ...good, ...change }), type, JSON.stringify(change));
  t.same(ffs.trace(), []);
});
