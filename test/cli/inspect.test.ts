// `cairn inspect` run as a child process: the report (text and --json) matches what the
// manifests and journals hold, torn tails and debris are reported but never repaired,
// it works on a keyspace open in this process without disturbing it, and unreadable parts
// turn into exit status 6 while the rest is still printed.
import t from 'tap';
import { appendFile, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import type { InspectReport } from '../../lib/inspect/inspect-keyspace.js';
import { runCairn } from './cli-helpers.js';
import { buildKeyspace, fingerprint } from '../helpers/keyspace-content.js';

const scratch = await mkdtemp(join(tmpdir(), 'cairn-cli-inspect-'));
t.teardown(() => rm(scratch, { recursive: true, force: true }));

const KEYS = 60;
/**
 * buildKeyspace creates two partitions (each a journaled registry record since journal
 * format 2) and writes 2 * keys puts, 40 late puts and one delete: one seqno each.
 */
const LAST_SEQNO = 2 + 2 * KEYS + 41;
let serial = 0;

async function fresh(): Promise<string> {
  const dir = join(scratch, `ks-${++serial}`);
  await buildKeyspace(dir, { keys: KEYS });
  return dir;
}

async function inspectJson(dir: string): Promise<{ code: number; report: InspectReport; stderr: string }> {
  const run = await runCairn(['inspect', dir, '--json']);
  return { code: run.code, report: JSON.parse(run.stdout) as InspectReport, stderr: run.stderr };
}

async function journalFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'journal'))).sort();
}

t.test('--json matches the manifests and the journal files', async (t) => {
  const dir = await fresh();
  const before = await fingerprint(dir);
  const { code, report, stderr } = await inspectJson(dir);
  t.equal(code, ExitCode.OK, stderr);
  const meta = JSON.parse(await readFile(join(dir, 'keyspace.json'), 'utf8')) as { id: string; format: number };
  t.equal(report.keyspaceId, meta.id);
  t.equal(report.format, meta.format);
  t.same(report.partitions.map((p) => p.name), ['audit', 'users']);
  for (const p of report.partitions) {
    const { manifestNumber, state } = await readCurrentManifest(new NodeFileSystem(), join(dir, 'partitions', p.name));
    t.equal(p.manifest, `MANIFEST-${String(manifestNumber).padStart(6, '0')}`);
    t.equal(p.persistedSeqno, state.persistedSeqno);
    t.same(p.levels.map((l) => l.segments), state.levels.map((l) => l.length), `${p.name}: segments per level`);
    t.same(p.levels.map((l) => l.bytes), state.levels.map((l) => l.reduce((n, s) => n + s.fileSize, 0)), `${p.name}: bytes per level`);
    t.equal(p.levels[0].minKey, `${p.name}:00000`);
    t.equal(p.levels[0].maxKey, `${p.name}:${String(KEYS - 1).padStart(5, '0')}`);
    t.equal(p.levels[0].entries, KEYS);
  }
  const files = await journalFiles(dir);
  t.ok(files.length >= 2, 'several journals');
  t.same(report.journals.map((j) => j.file), files.map((f) => join('journal', f)));
  for (const j of report.journals) t.equal(j.bytes, (await stat(join(dir, j.file))).size, `${j.file} size`);
  for (let i = 1; i < report.journals.length; i++) {
    t.ok(report.journals[i].firstSeqno! > report.journals[i - 1].lastSeqno!, 'seqno ranges ascend across files');
  }
  t.equal(report.journals[report.journals.length - 1].lastSeqno, LAST_SEQNO);
  t.equal(report.lastSeqno, LAST_SEQNO);
  t.same(report.debris, []);
  t.same(await fingerprint(dir), before, 'nothing was written, not even a LOCK');
});

t.test('the text report lists partitions, levels, journals and the last seqno', async (t) => {
  const dir = await fresh();
  const run = await runCairn(['inspect', dir]);
  t.equal(run.code, ExitCode.OK, run.stderr);
  t.match(run.stdout, /^keyspace [0-9a-f-]{36} {2}format 1/);
  t.match(run.stdout, /partitions \(2\)\n {2}audit {2}id 2 {2}MANIFEST-\d{6} {2}persisted seqno \d+\n {4}L0 {2}1 segment /);
  t.match(run.stdout, /keys users:00000 \.\. users:00059/);
  t.match(run.stdout, new RegExp(`journals \\(${(await journalFiles(dir)).length}\\)`));
  t.match(run.stdout, /journal\/\d{6}\.jnl {2}[\d.]+ (B|KiB) {2}\d+ records {2}seqno \d+\.\.\d+/);
  t.match(run.stdout, new RegExp(`last seqno ${LAST_SEQNO}\\n`));
  t.match(run.stdout, /debris: none\n$/);
});

t.test('a torn tail is reported, not truncated', async (t) => {
  const dir = await fresh();
  const files = await journalFiles(dir);
  const newest = join(dir, 'journal', files[files.length - 1]);
  const size = (await stat(newest)).size;
  await appendFile(newest, Buffer.from([0x40, 0, 0, 0, 9, 9, 9]));
  const { code, report } = await inspectJson(dir);
  t.equal(code, ExitCode.OK);
  t.same(report.journals[report.journals.length - 1].tornTail, { offset: size, bytes: 7 });
  t.equal(report.lastSeqno, LAST_SEQNO);
  t.equal((await stat(newest)).size, size + 7, 'the file keeps its tail');
  const text = await runCairn(['inspect', dir]);
  t.match(text.stdout, new RegExp(`torn tail at ${size} \\(7 B\\)`));
});

t.test('debris is listed and left in place', async (t) => {
  const dir = await fresh();
  const users = join(dir, 'partitions', 'users');
  const [segment] = await readdir(join(users, 'segments'));
  await copyFile(join(users, 'segments', segment), join(users, 'segments', '999990.sst'));
  await writeFile(join(users, 'MANIFEST-000001'), 'old');
  await writeFile(join(dir, 'keyspace.json.tmp-0a0b0c'), 'half');
  await writeFile(join(dir, 'journal', '000099.jnl.tmp-0a0b0c'), 'half');
  await mkdir(join(dir, 'partitions', 'orphan'));
  const before = await fingerprint(dir);
  const { code, report } = await inspectJson(dir);
  t.equal(code, ExitCode.OK);
  t.same([...report.debris].sort(), [
    'journal/000099.jnl.tmp-0a0b0c',
    'keyspace.json.tmp-0a0b0c',
    'partitions/orphan',
    'partitions/users/MANIFEST-000001',
    'partitions/users/segments/999990.sst',
  ]);
  t.same(await fingerprint(dir), before, 'nothing removed');
});

t.test('inspect runs while the keyspace is open here, and does not disturb it', async (t) => {
  const dir = await fresh();
  const ks = await Keyspace.open(dir);
  try {
    const p = await ks.partition('users');
    await p.put('while-open', 'yes');
    const { code, report } = await inspectJson(dir);
    t.equal(code, ExitCode.OK);
    t.equal(report.lastSeqno, LAST_SEQNO + 1, 'the buffered write is in the active journal');
    await p.put('after-inspect', 'still writable');
    t.equal((await p.get('after-inspect'))?.toString(), 'still writable');
  } finally {
    await ks.close();
  }
});

t.test('binary keys are shown as hex', async (t) => {
  const dir = join(scratch, 'binary');
  const ks = await Keyspace.open(dir);
  const p = await ks.partition('bin');
  await p.put(Buffer.from([0x00, 0xff]), 'a');
  await p.put(Buffer.from('0x41'), 'text that looks like hex');
  await ks.flush();
  await ks.close();
  const { report } = await inspectJson(dir);
  const level = report.partitions[0].levels[0];
  t.equal(level.minKey, '0x00ff');
  t.equal(level.minKeyHex, '00ff');
  t.equal(level.maxKey, '0x30783431', 'printable text starting with 0x is shown as hex too');
});

t.test('not a keyspace: exit 4', async (t) => {
  const plain = join(scratch, 'plain');
  await mkdir(plain);
  const run = await runCairn(['inspect', plain]);
  t.equal(run.code, ExitCode.NOT_A_KEYSPACE);
  t.match(run.stderr, /^cairn: .*\(CAIRN_NOT_A_KEYSPACE\)\n$/);
  t.same(await readdir(plain), [], 'no LOCK created');
  t.equal((await runCairn(['inspect', join(scratch, 'missing')])).code, ExitCode.NOT_A_KEYSPACE);
});

t.test('corruption: the report is still printed, the exit status is 6', async (t) => {
  const dir = await fresh();
  const [sealed] = await journalFiles(dir);
  const path = join(dir, 'journal', sealed);
  const bytes = await readFile(path);
  bytes[40] ^= 0xff;
  await writeFile(path, bytes);
  const { code, report, stderr } = await inspectJson(dir);
  t.equal(code, ExitCode.CORRUPTION);
  t.match(stderr, /\(CAIRN_CORRUPTION\)\n$/);
  t.equal(report.journals[0].error?.code, 'CAIRN_CORRUPTION');
  t.same(report.partitions.map((p) => p.error), [undefined, undefined], 'the partitions are still reported');

  const other = await fresh();
  await writeFile(join(other, 'partitions', 'audit', 'CURRENT'), 'MANIFEST-000003 00000000\n');
  const text = await runCairn(['inspect', other]);
  t.equal(text.code, ExitCode.CORRUPTION);
  t.match(text.stdout, /audit {2}id 2 {2}UNREADABLE: .*\(CAIRN_CORRUPTION\)/);
  t.match(text.stdout, /users {2}id 1 {2}MANIFEST-/);
});
