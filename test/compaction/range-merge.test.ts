// runMerge with range tombstones in its inputs: covered versions are dropped; above the
// bottom the tombstones go on, clipped to each output so outputs stay disjoint and together
// cover what the inputs did; at the bottom they are dropped.
import t from 'tap';
import path from 'node:path';
import { EntryKind, MAX_SEQNO, type Entry } from '../../lib/codec/entry.js';
import { RangeTombstones } from '../../lib/codec/range-tombstones.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import { runMerge } from '../../lib/compaction/run-merge.js';
import { segmentFileName } from '../../lib/layout/file-names.js';

const fs = new NodeFileSystem();
const k = (i: number): Buffer => Buffer.from(`k${String(i).padStart(5, '0')}`);

async function inputs(dir: string): Promise<string[]> {
  // Older input: keys 0..999 at seqnos 1..1000. Newer input: a tombstone over [100, 900)
  // at seqno 2000, puts of 500..509 at 3000+ (newer than it), and a tombstone past every
  // key of the older input, [5000, 6000).
  const older: Entry[] = Array.from({ length: 1000 }, (_, i) => ({ key: k(i), seqno: i + 1, kind: EntryKind.Put, value: Buffer.alloc(100, 1) }));
  const newer: Entry[] = Array.from({ length: 10 }, (_, i) => ({ key: k(500 + i), seqno: 3000 + i, kind: EntryKind.Put, value: Buffer.alloc(100, 2) }));
  const tombstones = new RangeTombstones();
  tombstones.add(k(100), k(900), 2000);
  tombstones.add(k(5000), k(6000), 2001);
  await writeSegment(fs, path.join(dir, 'input-old.sst'), older);
  await writeSegment(fs, path.join(dir, 'input-new.sst'), newer, { rangeTombstones: tombstones });
  return [path.join(dir, 'input-new.sst'), path.join(dir, 'input-old.sst')];
}

for (const dropTombstones of [false, true]) {
  t.test(`covered versions dropped; tombstones ${dropTombstones ? 'dropped at the bottom' : 'kept and clipped'}`, async (t) => {
    const dir = t.testdir();
    const paths = await inputs(dir);
    const outputs = await runMerge(fs, { inputs: paths.map((p) => ({ path: p })), outputDir: dir, fileNumbers: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], targetFileBytes: 8 * 1024, dropTombstones });
    t.ok(outputs.length > 1, `split into ${outputs.length} outputs`);
    t.equal(
      outputs.reduce((n, o) => n + o.entryCount, 0),
      100 + 10 + 100,
      'keys 0..99, the 10 newer puts, keys 900..999',
    );
    for (let i = 1; i < outputs.length; i++) t.ok(Buffer.compare(outputs[i - 1].maxKey, outputs[i].minKey) < 0, `outputs ${i - 1} and ${i} are disjoint`);
    const readers = await Promise.all(outputs.map((o, i) => SegmentReader.open(fs, path.join(dir, segmentFileName(o.fileNumber)), { fileNumber: i, cache: new BlockCache(0) })));
    t.teardown(() => Promise.all(readers.map((r) => r.close())));
    const covering = (key: Buffer): number => Math.max(-1, ...readers.map((r) => r.rangeTombstones?.coveringSeqno(key, MAX_SEQNO) ?? -1));
    if (dropTombstones) {
      t.ok(readers.every((r) => r.rangeTombstones === undefined), 'no output holds a tombstone');
    } else {
      let wrong = 0;
      for (const i of [100, 101, 499, 500, 650, 899, 5000, 5999]) if (covering(k(i)) !== (i < 5000 ? 2000 : 2001)) wrong++;
      for (const i of [99, 900, 4999, 6000]) if (covering(k(i)) !== -1) wrong++;
      t.equal(wrong, 0, 'the outputs together cover exactly what the input tombstones did');
      t.same(outputs.at(-1)!.maxKey.subarray(0, 6), k(6000).subarray(0, 6), 'the last output spans the tombstone past every key');
      for (const [i, r] of readers.entries()) {
        const span = outputs[i];
        for (const f of r.rangeTombstones?.fragments() ?? []) {
          t.ok(Buffer.compare(f.start, span.minKey) >= 0, `output ${i}: fragment inside its span`);
        }
      }
    }
  });
}
