// A journal rotation as a golden trace of FileSystem calls (testdata/journal-rotation.trace),
// beside the checkpoint protocols' (test/checkpoint/testdata): the old file's last group
// written and fdatasynced, the next file created (header, directory fsync), and the
// appends queued meanwhile written to it. Sealing and creating run concurrently, so the
// trace is listed per file, in file order; the order across files is asserted apart.
// CAIRN_UPDATE_GOLDEN=1 rewrites the file.
import t from 'tap';
import { Journal } from '../../lib/journal/journal.js';
import { goldenTracer, matchesGolden } from '../helpers/golden-trace.js';
import { putRecord } from './journal-helpers.js';

/** The lines grouped per journal file, in file order; a syncDir belongs to the file created just before it. */
function perFile(lines: readonly string[]): string[] {
  const byFile = new Map<string, string[]>();
  let lastCreated = '';
  for (const line of lines) {
    const file = /<root>\/journal\/\d+\.jnl/.exec(line)?.[0];
    if (file !== undefined && / \(wx\)$/.test(line)) lastCreated = file;
    const key = file ?? lastCreated;
    byFile.set(key, [...(byFile.get(key) ?? []), line]);
  }
  return [...byFile.keys()].sort().flatMap((k) => [`## ${k}`, ...byFile.get(k)!]);
}

t.test('rotate() seals and switches files with exactly the golden sequence of file-system calls', async (t) => {
  const root = t.testdir({ journal: {} });
  const tracer = goldenTracer(root);
  const journal = await Journal.open(tracer.fs, `${root}/journal`, { maxFileBytes: 1 << 30, firstFileNumber: 1 });
  for (let s = 1; s <= 5; s++) await journal.append(putRecord(s), { sync: false }, () => {});
  await tracer.start();

  // One append still pending when the rotation starts, three queued behind it (the last
  // a sync append, which resolves only once its file is durable).
  const pending = journal.append(putRecord(6), { sync: false }, () => {});
  const rotation = journal.rotate();
  const queued = [7, 8, 9].map((s) => journal.append(putRecord(s), { sync: s === 9 }, () => {}));
  const { sealed } = await rotation;
  await Promise.all([pending, ...queued]);
  const lines = await tracer.lines();
  await matchesGolden(t, new URL('testdata/journal-rotation.trace', import.meta.url), perFile(lines));

  // The order across files that per-file listing hides: the old file is durable before the
  // new one gets any record (its header aside), and the new name is durable before that.
  const at = (line: string) => lines.indexOf(line);
  const firstRecordWrite = lines.findIndex((l, i) => l === 'write <root>/journal/000002.jnl' && i > at('write <root>/journal/000002.jnl'));
  t.ok(at('datasync <root>/journal/000001.jnl') >= 0 && at('datasync <root>/journal/000001.jnl') < firstRecordWrite, 'the sealed file is fdatasynced before the new one gets records');
  t.ok(at('syncDir <root>/journal') < firstRecordWrite, 'the new file name is durable before it gets records');
  t.match(sealed, { fileNumber: 1, firstSeqno: 1, lastSeqno: 6 });
  t.match(journal.activeFile(), { fileNumber: 2, firstSeqno: 7, lastSeqno: 9 });
  await journal.close();
});
