// `cairn stats <dir>`: ks.stats() of a closed keyspace, opened for the purpose: levels,
// sizes, the live-data and pending-compaction estimates, the journal. One run per process.
import type { KeyspaceStats } from '../../index.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, plural } from '../human-units.js';
import { openExisting } from '../keyspace-access.js';

export const statsCommand: Command = {
  name: 'stats',
  summary: 'print the statistics of a closed keyspace (sizes, levels, estimates)',
  usage: 'cairn stats <dir> [--json]',
  description: [
    'Opens the keyspace (taking its LOCK: exit status 3 while it is open in any process;',
    'for an open keyspace read keyspace.stats() in its process, or use `cairn inspect`),',
    'prints what keyspace.stats() reports and closes it: per partition its levels, segment',
    'bytes and the journal replayed into memtables; the totals RocksDB calls',
    'estimate-live-data-size and estimate-pending-compaction-bytes; the journal. Cache',
    'figures are those of a keyspace just opened.',
    '',
    'Options:',
    '  --json   print keyspace.stats() as JSON',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['dir'],
  async run({ values, positionals }, context) {
    const ks = await openExisting(context, positionals[0]);
    let stats: KeyspaceStats;
    try {
      stats = ks.stats();
    } finally {
      await ks.close();
    }
    context.stdout.write(values.json === true ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
    return ExitCode.OK;
  },
};

function formatStats(s: KeyspaceStats): string {
  const lines = [`seqno ${s.seqno}`, `partitions (${Object.keys(s.partitions).length})`];
  for (const [name, p] of Object.entries(s.partitions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    lines.push(`  ${name}  ${plural(p.segments, 'segment')}  ${formatBytes(p.segmentBytes)}  memtables ${formatBytes(p.memtables.bytes)}  persisted seqno ${p.persistedSeqno}`);
    for (const l of p.levels) if (l.segments > 0) lines.push(`    L${l.level}  ${plural(l.segments, 'segment')}  ${formatBytes(l.bytes)}  ${l.entries} entries`);
  }
  const t = s.totals;
  lines.push(
    `segments ${formatBytes(t.segmentBytes)}  estimated live data ${formatBytes(t.estimatedLiveDataBytes)}  pending compaction ${formatBytes(t.pendingCompactionBytes)}  memtables ${formatBytes(t.memtableBytes)}`,
    `journal ${plural(s.journal.files, 'file')}  ${formatBytes(s.journal.bytes)}`,
  );
  return `${lines.join('\n')}\n`;
}
