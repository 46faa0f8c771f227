// The open-file budget on its own: least recently read files are closed synchronously
// beyond the budget and reopened on their next read (seen in a FaultFileSystem trace); a
// file system without openReadSync keeps every reader's file and has no budget.
import t from 'tap';
import * as path from 'node:path';
import { FaultFileSystem, NodeFileSystem, replaceRoot, type FileSystem } from '../../lib/fs/index.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { OpenFiles } from '../../lib/segment/open-files.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import { EntryKind } from '../../lib/codec/entry.js';

async function segments(dir: string, n: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `00000${i}.sst`);
    await writeSegment(new NodeFileSystem(), file, [{ key: Buffer.from(`k${i}`), seqno: i + 1, kind: EntryKind.Put, value: Buffer.from(`v${i}`) }]);
    files.push(file);
  }
  return files;
}

t.test('beyond the budget the least recently read file is closed, then reopened', async (t) => {
  const dir = t.testdir();
  const files = await segments(dir, 3);
  const fs = new FaultFileSystem(new NodeFileSystem(), { rewritePath: replaceRoot(dir) });
  const budget = new OpenFiles(fs, 2);
  const cache = new BlockCache(0);
  const readers = await Promise.all(files.map((f, i) => SegmentReader.open(fs, f, { fileNumber: i, cache, files: budget })));
  t.equal(budget.size, 0, 'opening reads the metadata and closes the file again');
  fs.clearTrace();
  for (const i of [0, 1, 0, 2, 1]) t.same(readers[i].get(Buffer.from(`k${i}`))?.value, Buffer.from(`v${i}`));
  t.same(
    fs.trace().filter((line) => !line.startsWith('read ')),
    ['open <root>/000000.sst (r, sync)', 'open <root>/000001.sst (r, sync)', 'open <root>/000002.sst (r, sync)', 'close <root>/000001.sst', 'open <root>/000001.sst (r, sync)', 'close <root>/000000.sst'],
  );
  t.equal(budget.size, 2);
  t.equal(budget.evictions, 2);
  fs.inject({ op: 'open', nth: 1, code: 'EMFILE' });
  t.throws(() => readers[0].get(Buffer.from('k0')), { code: 'EMFILE' }, 'a failed reopen throws from the read');
  t.same(readers[0].get(Buffer.from('k0'))?.value, Buffer.from('v0'), 'and the next read opens it');
  for (const r of readers) await r.close();
  t.equal(budget.size, 0);
});

t.test('without openReadSync the budget is unlimited and readers keep their files', async (t) => {
  const dir = t.testdir();
  const files = await segments(dir, 2);
  const node = new NodeFileSystem();
  const plain: FileSystem = { ...Object.fromEntries(Object.getOwnPropertyNames(NodeFileSystem.prototype).filter((n) => n !== 'constructor' && n !== 'openReadSync').map((n) => [n, (node as unknown as Record<string, (...a: unknown[]) => unknown>)[n].bind(node)])), kind: 'plain' } as FileSystem;
  const budget = new OpenFiles(plain, 1);
  t.equal(budget.capacity, Infinity);
  const readers = await Promise.all(files.map((f, i) => SegmentReader.open(plain, f, { fileNumber: i, cache: new BlockCache(0), files: budget })));
  t.equal(budget.size, 2);
  t.same(readers[1].get(Buffer.from('k1'))?.value, Buffer.from('v1'));
  for (const r of readers) await r.close();
  t.equal(budget.size, 0);
});
