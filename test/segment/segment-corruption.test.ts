// Integrity: a flipped byte anywhere in a segment is caught (CAIRN_CORRUPTION at open
// or at the first read of the damaged block), never returned as wrong data.
import t from 'tap';
import path from 'node:path';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { hasCode } from '../../lib/errors.js';
import { MAX_SEQNO, type Entry } from '../../lib/codec/entry.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import { modelGet, randomEntries, rng, show } from './segment-model.js';

const fs = new NodeFileSystem();

/** Runs `read`; a CAIRN_CORRUPTION counts as detected, any other error fails the test. */
function detectOrRead<T>(read: () => T): T | 'corrupt' {
  try {
    return read();
  } catch (err) {
    if (hasCode(err, 'CAIRN_CORRUPTION')) return 'corrupt';
    throw err;
  }
}

/** Reads everything through the reader; every answer must be right or a detected corruption. */
function checkReader(reader: SegmentReader, entries: Entry[]): { wrong: string[]; detected: boolean } {
  const wrong: string[] = [];
  let detected = false;
  const expectedAll = show(entries);
  for (const reverse of [false, true]) {
    const cursor = reader.cursor({ reverse });
    const got: Entry[] = [];
    for (;;) {
      const e = detectOrRead(() => cursor.next());
      if (e === 'corrupt') {
        detected = true;
        break;
      }
      if (e === undefined) break;
      got.push(e);
    }
    const want = reverse ? show([...entries].sort((x, y) => Buffer.compare(y.key, x.key) || y.seqno - x.seqno)) : expectedAll;
    const shown = show(got);
    if (shown.some((s, i) => s !== want[i])) wrong.push(`${reverse ? 'reverse' : 'forward'} scan returned a wrong entry`);
    if (!detected && shown.length !== want.length) wrong.push(`${reverse ? 'reverse' : 'forward'} scan ended early without an error`);
  }
  for (const e of entries) {
    for (const readSeqno of [e.seqno, MAX_SEQNO]) {
      const got = detectOrRead(() => reader.get(e.key, readSeqno));
      if (got === 'corrupt') {
        detected = true;
        continue;
      }
      const [g] = show([got]);
      const [w] = show([modelGet(entries, e.key, readSeqno)]);
      if (g !== w) wrong.push(`get ${e.key.toString('hex')}@${readSeqno}: ${g} instead of ${w}`);
    }
  }
  return { wrong, detected };
}

t.test('every single flipped byte is detected or harmless', async (t) => {
  const entries = randomEntries(rng(11), { keys: 40, maxVersions: 3, maxValue: 60, largeValue: 300 });
  const dir = t.testdir();
  const original = path.join(dir, 'original.sst');
  const meta = await writeSegment(fs, original, entries, { blockSize: 128 });
  const bytes = readFileSync(original);
  const damaged = path.join(dir, 'damaged.sst');
  let atOpen = 0;
  let atRead = 0;
  let undetected = 0;
  const wrong: string[] = [];
  for (let at = 0; at < bytes.length; at++) {
    const copy = Buffer.from(bytes);
    copy[at] ^= 1 << (at % 8);
    writeFileSync(damaged, copy);
    let reader: SegmentReader;
    try {
      reader = await SegmentReader.open(fs, damaged, { fileNumber: at, cache: new BlockCache() });
    } catch (err) {
      if (!hasCode(err, 'CAIRN_CORRUPTION')) throw err;
      const details = (err as { details?: { path?: unknown; offset?: unknown } }).details;
      if (details?.path !== damaged || typeof details.offset !== 'number') wrong.push(`flip at ${at}: error details ${JSON.stringify(details)}`);
      atOpen++;
      continue;
    }
    try {
      if (JSON.stringify(reader.meta) !== JSON.stringify(meta)) wrong.push(`flip at ${at}: meta differs`);
      const result = checkReader(reader, entries);
      wrong.push(...result.wrong.map((w) => `flip at ${at}: ${w}`));
      if (result.detected) atRead++;
      else undetected++;
    } finally {
      await reader.close();
    }
  }
  t.comment(`${bytes.length} flips: ${atOpen} caught at open, ${atRead} at first read of the block, ${undetected} not caught`);
  t.same(wrong, [], 'no read ever returned wrong data; every open error carried {path, offset}');
  t.equal(atOpen + atRead, bytes.length, 'every flip was detected: every byte of the file is covered by a check');
  t.ok(atRead > bytes.length / 2, 'most of the file is data blocks, checked lazily');
});

t.test('truncated and foreign files are rejected at open', async (t) => {
  const entries = randomEntries(rng(12), { keys: 30, maxVersions: 2, maxValue: 40, largeValue: 100 });
  const dir = t.testdir();
  const file = path.join(dir, 'seg.sst');
  const meta = await writeSegment(fs, file, entries, { blockSize: 128 });
  const bytes = readFileSync(file);
  for (const length of [0, 10, 55, 56, 57, meta.fileSize - 1, Math.floor(meta.fileSize / 2)]) {
    writeFileSync(file, bytes);
    truncateSync(file, length);
    await t.rejects(SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache() }), { code: 'CAIRN_CORRUPTION' }, `truncated to ${length}`);
  }
  writeFileSync(file, Buffer.concat([bytes, Buffer.from('appended')]));
  await t.rejects(SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache() }), { code: 'CAIRN_CORRUPTION' }, 'bytes after the footer');
  writeFileSync(file, Buffer.alloc(4096, 0x41));
  await t.rejects(SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache() }), { code: 'CAIRN_CORRUPTION' }, 'not a segment');
});
