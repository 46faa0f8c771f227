// inspectKeyspace called directly (test/cli/inspect.test.ts runs it through `cairn
// inspect`): journals as recovery would read them — trailing header-only files reported as
// spares, other names as debris — and a keyspace missing its journal directory still
// reported, all without changing a byte.
import t from 'tap';
import { copyFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { inspectKeyspace } from '../../lib/inspect/inspect-keyspace.js';
import { JOURNAL_HEADER_BYTES } from '../../lib/journal/record.js';
import { fingerprint } from '../helpers/keyspace-content.js';

const fs = new NodeFileSystem();

async function smallKeyspace(dir: string): Promise<number> {
  const ks = await Keyspace.open(dir);
  const p = await ks.partition('p');
  for (let i = 0; i < 10; i++) await p.put(`k${i}`, `v${i}`);
  const seqno = ks.seqno;
  await ks.close();
  return seqno;
}

t.test('spares and stray journal names are reported, not touched', async (t) => {
  const dir = t.testdir();
  const seqno = await smallKeyspace(dir);
  const journal = join(dir, 'journal');
  const [only] = await readdir(journal);
  t.equal(only, '000001.jnl');
  await writeFile(join(journal, '000002.jnl'), Buffer.alloc(JOURNAL_HEADER_BYTES));
  await copyFile(join(journal, only!), join(journal, '0000003.jnl'));
  const before = await fingerprint(dir);
  const report = await inspectKeyspace(fs, dir);
  t.match(report.journals, [
    // The partition's create record (journal format 2 journals registry changes) and 10 puts.
    { file: 'journal/000001.jnl', records: 11, firstSeqno: 1, lastSeqno: seqno },
    { file: 'journal/000002.jnl', bytes: JOURNAL_HEADER_BYTES, records: 0, spare: true },
  ]);
  t.equal(report.journals.length, 2);
  t.equal(report.journals[0].spare, undefined, 'the file holding data is no spare');
  t.same(report.debris, ['journal/0000003.jnl'], 'a non-canonical name is debris');
  t.equal(report.lastSeqno, seqno);
  t.same(await fingerprint(dir), before, 'nothing changed');
});

t.test('a keyspace without a journal directory is still reported', async (t) => {
  const dir = t.testdir();
  await smallKeyspace(dir);
  await rm(join(dir, 'journal'), { recursive: true });
  const report = await inspectKeyspace(fs, dir);
  t.same(report.journals, []);
  t.same(report.partitions.map((p) => p.name), ['p']);
});
