// Recovery reading: a torn tail of the last journal is dropped at every possible cut, and
// reported; damage followed by valid records, or in a sealed journal, is CAIRN_CORRUPTION.
import t from 'tap';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { JournalWriter } from '../../lib/journal/journal-writer.js';
import { readJournal } from '../../lib/journal/journal-reader.js';
import { JOURNAL_HEADER_BYTES } from '../../lib/journal/record.js';
import { putRecord, readBack } from './journal-helpers.js';

const fs = new NodeFileSystem();

/** Writes records 1..n with the given value sizes; returns the bytes and each record's offset. */
async function makeJournal(dir: string, sizes: number[]): Promise<{ bytes: Buffer; offsets: number[] }> {
  const path = join(dir, 'source.jnl');
  const w = await JournalWriter.create(fs, path, { fileNumber: 3 });
  const offsets: number[] = [];
  for (let i = 0; i < sizes.length; i++) {
    offsets.push(w.size);
    await w.append(putRecord(i + 1, sizes[i]), { sync: false }, () => {});
  }
  await w.seal();
  return { bytes: readFileSync(path), offsets };
}

t.test('a torn tail at every byte of the last record is dropped and reported', async (t) => {
  const dir = t.testdir();
  const { bytes, offsets } = await makeJournal(dir, [5, 40, 7, 30]);
  const lastStart = offsets[3];
  const path = join(dir, 'torn.jnl');
  for (let cut = lastStart; cut < bytes.length; cut++) {
    writeFileSync(path, bytes.subarray(0, cut));
    const { seqnos, end } = await readBack(fs, path, true);
    if (seqnos.join() !== '1,2,3') t.fail(`cut ${cut}: read ${seqnos.join()}`);
    const expectedTail = cut === lastStart ? undefined : { offset: lastStart, bytes: cut - lastStart };
    t.same(end.tornTail, expectedTail, `cut at ${cut}`);
    t.equal(end.validBytes, lastStart);
    t.same([end.firstSeqno, end.lastSeqno], [1, 3]);
  }
  writeFileSync(path, bytes.subarray(0, lastStart + 3));
  await t.rejects(readBack(fs, path, false), { code: 'CAIRN_CORRUPTION', details: { path, offset: lastStart } }, 'a sealed journal may not be torn');
});

t.test('a torn header: empty file is valid anywhere, a partial header only when last', async (t) => {
  const dir = t.testdir();
  const { bytes } = await makeJournal(dir, [1]);
  const path = join(dir, 'h.jnl');
  writeFileSync(path, Buffer.alloc(0));
  for (const isLast of [true, false]) {
    const { seqnos, end } = await readBack(fs, path, isLast);
    t.same([seqnos, end.validBytes, end.tornTail, end.fileNumber], [[], 0, undefined, undefined]);
  }
  for (let cut = 1; cut < JOURNAL_HEADER_BYTES; cut++) {
    writeFileSync(path, bytes.subarray(0, cut));
    const { end } = await readBack(fs, path, true);
    t.same(end.tornTail, { offset: 0, bytes: cut });
    await t.rejects(readBack(fs, path, false), { code: 'CAIRN_CORRUPTION' });
  }
  writeFileSync(path, bytes.subarray(0, JOURNAL_HEADER_BYTES));
  t.same((await readBack(fs, path, false)).seqnos, [], 'a header alone is an empty journal');
});

t.test('a zero-filled tail (preallocated or lost pages at EOF) is a torn tail', async (t) => {
  const dir = t.testdir();
  const { bytes, offsets } = await makeJournal(dir, [5, 6]);
  const path = join(dir, 'z.jnl');
  writeFileSync(path, Buffer.concat([bytes, Buffer.alloc(4096)]));
  const { seqnos, end } = await readBack(fs, path, true);
  t.same(seqnos, [1, 2]);
  t.same(end.tornTail, { offset: bytes.length, bytes: 4096 });
  t.ok(offsets.length === 2);
});

t.test('a flipped byte with valid records after it is CAIRN_CORRUPTION, never a silent drop', async (t) => {
  const dir = t.testdir();
  const { bytes, offsets } = await makeJournal(dir, [10, 20, 30, 40, 50]);
  const path = join(dir, 'c.jnl');
  // Damage record 3 (length field, crc field, payload) in turn.
  for (const delta of [0, 5, 12, 30]) {
    const damaged = Buffer.from(bytes);
    damaged[offsets[2] + delta] ^= 0x40;
    writeFileSync(path, damaged);
    for (const isLast of [true, false]) {
      const seen: number[] = [];
      const reading = readJournal(fs, path, { isLast });
      const err = await (async () => {
        for await (const r of reading.records) seen.push(r.seqno);
      })().catch((e: unknown) => e);
      t.match(err, { code: 'CAIRN_CORRUPTION', details: { path, offset: offsets[2] } }, `byte +${delta}, isLast ${isLast}`);
      t.same(seen, [1, 2], 'records before the damage are yielded, none after');
      await t.rejects(reading.end, { code: 'CAIRN_CORRUPTION' }, 'end rejects the same way');
    }
  }
  // The same damage in the LAST record of the last journal is a torn tail.
  const damaged = Buffer.from(bytes);
  damaged[offsets[4] + 12] ^= 0x40;
  writeFileSync(path, damaged);
  const { seqnos, end } = await readBack(fs, path, true);
  t.same(seqnos, [1, 2, 3, 4]);
  t.same(end.tornTail, { offset: offsets[4], bytes: bytes.length - offsets[4] });
});

t.test('a damaged header is corruption; a wrong file number is caught when asked', async (t) => {
  const dir = t.testdir();
  const { bytes } = await makeJournal(dir, [1, 2]);
  const path = join(dir, 'x.jnl');
  const damaged = Buffer.from(bytes);
  damaged[3] ^= 1;
  writeFileSync(path, damaged);
  await t.rejects(readBack(fs, path, true), { code: 'CAIRN_CORRUPTION', details: { offset: 0 } });
  writeFileSync(path, bytes);
  const reading = readJournal(fs, path, { isLast: true, fileNumber: 4 });
  await t.rejects((async () => { for await (const _ of reading) void _; })(), { code: 'CAIRN_CORRUPTION' });
  const ok = readJournal(fs, path, { isLast: true, fileNumber: 3 });
  let n = 0;
  for await (const _ of ok) n++;
  t.equal(n, 2);
  t.equal((await ok.end).fileNumber, 3);
});

t.test('records larger than the read window and many records across window edges', async (t) => {
  const dir = t.testdir();
  const sizes = [3 * 1024 * 1024, 10, ...Array.from({ length: 3000 }, (_, i) => 500 + (i % 700))];
  const { bytes } = await makeJournal(dir, sizes);
  const path = join(dir, 'source.jnl');
  const { seqnos, end } = await readBack(fs, path, true);
  t.equal(seqnos.length, sizes.length);
  t.equal(end.validBytes, bytes.length);
  // Ops stay valid after the window moved on (fresh buffer per refill).
  const reading = readJournal(fs, path, { isLast: true });
  const kept = [];
  for await (const r of reading) kept.push(r);
  t.ok(kept.every((r) => r.ops[0].key.toString() === `key-${r.seqno}`), 'every kept view still reads its own key');
});

t.test('stopping early rejects end with CAIRN_CLOSED; arguments are validated', async (t) => {
  const dir = t.testdir();
  await makeJournal(dir, [1, 2, 3]);
  const reading = readJournal(fs, join(dir, 'source.jnl'), { isLast: true });
  for await (const _ of reading.records) break;
  await t.rejects(reading.end, { code: 'CAIRN_CLOSED' });
  t.throws(() => readJournal(fs, '', { isLast: true }), TypeError);
  t.throws(() => readJournal(fs, 'x', {} as { isLast: boolean }), TypeError);
});
