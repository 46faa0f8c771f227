// Journal GC: sealed journals go once every partition's memtables have been flushed past
// them; a cold partition holding back old journals is flushed when they exceed the byte
// budget; nothing acknowledged is lost across reopen.
import t from 'tap';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { until } from '../helpers/until.js';

async function journalBytes(dir: string): Promise<{ files: number; bytes: number }> {
  const names = (await readdir(join(dir, 'journal'))).filter((n) => n.endsWith('.jnl'));
  let bytes = 0;
  let files = 0;
  for (const n of names) {
    // The GC may delete a file between the listing and the stat.
    const s = await stat(join(dir, 'journal', n)).catch(() => undefined);
    if (s === undefined) continue;
    files++;
    bytes += s.size;
  }
  return { files, bytes };
}

t.test('flushed journals are deleted and the data survives reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-jgc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const options = { journalFileBytes: 16 * 1024, memtableBytes: 64 * 1024 };
  const ks = await Keyspace.open(dir, options);
  const p = await ks.partition('p');
  for (let i = 0; i < 4000; i++) await p.put(`k${i}`, `v${i}`.padEnd(60, '.'));
  // 4,000 × ~90 bytes is ~22 journal files' worth; the automatic flushes have let GC take
  // most already, and the unflushed memtable still spans a few.
  const names = async () => (await readdir(join(dir, 'journal'))).filter((n) => n.endsWith('.jnl')).sort();
  const { activeFile } = ks.stats().journal;
  const sealedBefore = (await names()).filter((n) => Number.parseInt(n, 10) < activeFile);
  t.ok(sealedBefore.length >= 1, `sealed journals before the flush: ${sealedBefore.join(', ')}`);
  await ks.flush();
  // Once the GC the flush starts has run, every one of them is gone.
  await until('the flushed journals are deleted', async () => {
    const now = new Set(await names());
    return sealedBefore.every((n) => !now.has(n));
  });
  t.ok((await journalBytes(dir)).files <= 3, 'only the active file (and perhaps its spare, or a file just sealed) remains');
  await ks.close();
  const again = await Keyspace.open(dir, options);
  const q = await again.partition('p');
  for (let i = 0; i < 4000; i += 97) t.equal((await q.get(`k${i}`))?.toString(), `v${i}`.padEnd(60, '.'));
  await again.close();
});

t.test('a cold partition is flushed when sealed journals exceed the budget', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-jgc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const options = { journalFileBytes: 16 * 1024, memtableBytes: 32 * 1024, maxJournalBytes: 64 * 1024 };
  const ks = await Keyspace.open(dir, options);
  const cold = await ks.partition('cold');
  const hot = await ks.partition('hot');
  await cold.put('only', 'one write, never enough to fill a memtable');
  for (let i = 0; i < 6000; i++) await hot.put(`k${i}`, `v${i}`.padEnd(60, '.'));
  const coldSegments = () => readdir(join(dir, 'partitions', 'cold', 'segments'));
  await until('the cold partition is flushed and the old journals go', async () => (await coldSegments()).length === 1 && (await journalBytes(dir)).bytes < 64 * 1024 + 3 * 16 * 1024);
  const { bytes } = await journalBytes(dir);
  t.ok(bytes < 64 * 1024 + 3 * 16 * 1024, `journals hold ${bytes} bytes, near the 64 KiB budget (without GC they would hold ~${6000 * 90})`);
  t.equal((await coldSegments()).length, 1, 'the cold partition was flushed to release the old journals');
  await ks.close();
  const again = await Keyspace.open(dir, options);
  t.equal((await (await again.partition('cold')).get('only'))?.toString(), 'one write, never enough to fill a memtable');
  t.equal((await (await again.partition('hot')).get('k5999'))?.toString(), 'v5999'.padEnd(60, '.'));
  await again.close();
});
