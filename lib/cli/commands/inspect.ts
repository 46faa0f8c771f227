// `cairn inspect <dir>`: what a keyspace or checkpoint holds, read-only (no LOCK taken,
// nothing written), so it is safe on a keyspace open elsewhere. One run per process.
import { inspectKeyspace, firstProblem, type InspectReport, type LevelReport } from '../../inspect/inspect-keyspace.js';
import type { Command } from '../command.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import { formatBytes, plural } from '../human-units.js';
import { forTerminal, truncates } from '../keyspace-access.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show what a keyspace or checkpoint holds (read-only)',
  usage: 'cairn inspect <dir> [--full] [--json]',
  description: [
    'Prints the keyspace id and format, each partition\'s levels (segment counts, bytes,',
    'key ranges: text when printable, else 0x-prefixed hex) and persisted seqno, each',
    'journal\'s size, seqno range and torn tail (reported, never truncated), the last',
    'seqno, and crash debris that the next open would delete.',
    '',
    'Takes no lock and modifies nothing: segments and sealed journals are immutable and the',
    'active journal is append-only, so it may run while the keyspace is open elsewhere (a',
    '"torn tail" on the newest journal may then be an append in progress). If a part cannot',
    'be read, the report says so and the exit status is that of the first problem.',
    '',
    'Options:',
    '  --full   never cut long keys (on a terminal they are cut at 64 characters)',
    '  --json   print the report as JSON (never cut)',
  ].join('\n'),
  options: { full: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: ['dir'],
  async run({ values, positionals }, context) {
    const report = await inspectKeyspace(context.fileSystem(), positionals[0]);
    context.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, !truncates(context, values.full)));
    const problem = firstProblem(report);
    if (problem === undefined) return ExitCode.OK;
    context.stderr.write(`cairn: ${problem.message} (${problem.code})\n`);
    return exitCodeFor(problem);
  },
};

function formatReport(r: InspectReport, full: boolean): string {
  const lines = [`keyspace ${r.keyspaceId}  format ${r.format}  created ${r.createdAt}`, `  ${r.path}`, `partitions (${r.partitions.length})`];
  for (const p of r.partitions) {
    if (p.error !== undefined) {
      lines.push(`  ${p.name}  id ${p.id}  UNREADABLE: ${p.error.message} (${p.error.code})`);
      continue;
    }
    lines.push(`  ${p.name}  id ${p.id}  ${p.manifest}  persisted seqno ${p.persistedSeqno}`);
    for (const level of p.levels) lines.push(`    ${formatLevel(level, full)}`);
  }
  lines.push(`journals (${r.journals.length})`);
  for (const j of r.journals) lines.push(`  ${formatJournal(j)}`);
  lines.push(`last seqno ${r.lastSeqno}`);
  lines.push(r.debris.length === 0 ? 'debris: none' : `debris (${r.debris.length}; removed by the next open):`);
  for (const d of r.debris) lines.push(`  ${d}`);
  return `${lines.join('\n')}\n`;
}

function formatLevel(l: LevelReport, full: boolean): string {
  const head = `L${l.level}  ${plural(l.segments, 'segment')}`;
  if (l.segments === 0) return head;
  return `${head}  ${formatBytes(l.bytes)}  ${l.entries} ${l.entries === 1 ? 'entry' : 'entries'}  keys ${forTerminal(l.minKey ?? '', full)} .. ${forTerminal(l.maxKey ?? '', full)}`;
}

function formatJournal(j: InspectReport['journals'][number]): string {
  const parts = [j.file, formatBytes(j.bytes)];
  if (j.spare === true) parts.push('spare (no records)');
  else if (j.lastSeqno !== undefined) parts.push(`${plural(j.records, 'record')}  seqno ${j.firstSeqno}..${j.lastSeqno}`);
  else parts.push('no records');
  if (j.tornTail !== undefined) parts.push(`torn tail at ${j.tornTail.offset} (${formatBytes(j.tornTail.bytes)})`);
  if (j.error !== undefined) parts.push(`UNREADABLE: ${j.error.message} (${j.error.code})`);
  return parts.join('  ');
}
