// listJournalFiles, the one reading of a journal directory (recovery, the offline snapshot
// and inspect all use it): journal files oldest first, the trailing spares (at most a
// header), and every other name, without touching anything.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { listJournalFiles } from '../../lib/journal/journal-files.js';
import { JOURNAL_HEADER_BYTES } from '../../lib/journal/record.js';

const fs = new NodeFileSystem();
const header = Buffer.alloc(JOURNAL_HEADER_BYTES);
const data = Buffer.alloc(JOURNAL_HEADER_BYTES + 10);

t.test('journals in number order, trailing header-only files as spares, the rest as others', async (t) => {
  const root = t.testdir({
    journal: {
      '000010.jnl': data,
      '000002.jnl': data,
      // A header-only file in the middle (a switch made before any write) is a journal, not a spare.
      '000003.jnl': header,
      '000011.jnl': header,
      '000012.jnl': Buffer.alloc(0),
      '000001.jnl.tmp-0123': data,
      '0000013.jnl': data,
      'notes.txt': 'x',
    },
  });
  const before = (await readdir(join(root, 'journal'))).sort();
  const listing = await listJournalFiles(fs, root);
  t.same(listing.files.map((f) => f.fileNumber), [2, 3, 10]);
  t.same(listing.files.map((f) => f.bytes), [data.length, header.length, data.length]);
  t.equal(listing.files[0].path, join(root, 'journal', '000002.jnl'));
  t.same(listing.spares.map((f) => [f.fileNumber, f.bytes]), [[11, JOURNAL_HEADER_BYTES], [12, 0]]);
  t.same(listing.others.sort(), ['000001.jnl.tmp-0123', '0000013.jnl', 'notes.txt'], 'a non-canonical spelling is not a journal');
  t.same((await readdir(join(root, 'journal'))).sort(), before, 'nothing was changed');
});

t.test('only spares, or nothing at all', async (t) => {
  t.same(await listJournalFiles(fs, t.testdir({ journal: { '000001.jnl': header } })), {
    files: [],
    spares: [{ fileNumber: 1, path: join(t.testdirName, 'journal', '000001.jnl'), bytes: JOURNAL_HEADER_BYTES }],
    others: [],
  });
  t.same(await listJournalFiles(fs, t.testdir({ journal: {} })), { files: [], spares: [], others: [] });
  await t.rejects(listJournalFiles(fs, t.testdir()), { code: 'ENOENT' }, 'a missing journal directory is ENOENT');
});
