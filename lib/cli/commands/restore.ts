// `cairn restore <store-url> <backup-id|latest> <dir>`: rebuilds a keyspace directory from
// a backup, every file checked against its SHA-256. One run per process.
import { openBackupEngine } from '../backup-store-access.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatBytes, formatDuration, plural } from '../human-units.js';
import { ProgressBar } from '../progress-bar.js';
import { positiveInteger } from './backup.js';
import { checkBackupRef } from './info.js';

function nonNegativeInteger(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${name} must be a non-negative integer (got ${JSON.stringify(text)})`);
  return n;
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a backup into a new (or empty) directory',
  usage: 'cairn restore <store-url> <backup-id|latest> <dir> [--partition P]... [--to-seqno N | --to-time ISO] [--dry-run] [--concurrency N] [--json]',
  description: [
    '<dir> must be missing or empty (exit status 5 otherwise). Files are downloaded into',
    '<dir>.tmp-<id> beside it, each checked against its SHA-256 as it streams (a mismatch',
    'exits 6 and leaves nothing), fsynced, and the directory is renamed into place. The',
    'result opens with Keyspace.open().',
    '',
    'Options:',
    '  --partition P    restore only partition P (repeatable): only its files are fetched,',
    '                   and the result opens with only the partitions named; an unknown',
    '                   name exits 8 before anything is fetched',
    '  --to-seqno N     point-in-time: every batch up to seqno N, from the newest backup at',
    '                   or below it and the shipped journal (`cairn window` shows the range)',
    '  --to-time ISO    point-in-time: every batch committed at or before that moment',
    '                   (ISO 8601, e.g. 2026-12-05T08:00:00Z); outside the window or behind',
    '                   a gap: exit status 8, nothing written',
    '  --dry-run        with --to-seqno/--to-time: print the plan (backup, objects, bytes,',
    '                   exact seqno and time) and write nothing',
    '  --concurrency N  files downloaded at once (default 4)',
    '  --json           print { id, path, seqno, files, bytes, durationMs, partitions }',
  ].join('\n'),
  options: {
    concurrency: { type: 'string' },
    partition: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    'to-seqno': { type: 'string' },
    'to-time': { type: 'string' },
    'dry-run': { type: 'boolean' },
  },
  positionals: ['store-url', 'backup-id', 'dir'],
  async run({ values, positionals }, context) {
    const [url, id, dir] = positionals;
    checkBackupRef(id);
    const concurrency = values.concurrency === undefined ? undefined : positiveInteger(values.concurrency as string, '--concurrency');
    const toSeqno = values['to-seqno'] === undefined ? undefined : nonNegativeInteger(values['to-seqno'] as string, '--to-seqno');
    const toTime = values['to-time'] as string | undefined;
    if (toTime !== undefined && Number.isNaN(Date.parse(toTime))) throw new UsageError(`--to-time must be an ISO 8601 time (got ${JSON.stringify(toTime)})`);
    if (toSeqno !== undefined && toTime !== undefined) throw new UsageError('--to-seqno and --to-time exclude each other');
    const dryRun = values['dry-run'] === true;
    if (dryRun && toSeqno === undefined && toTime === undefined) throw new UsageError('--dry-run needs --to-seqno or --to-time');
    const engine = await openBackupEngine(url, context);
    if (dryRun) {
      let plan;
      try {
        plan = await engine.restore(id, dir, { toSeqno, toTime, dryRun: true, signal: context.signal });
      } finally {
        await engine.close();
      }
      if (values.json === true) context.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      else {
        context.stdout.write(`would restore backup ${plan.backup.id} (seqno ${plan.backup.seqno}) and replay ${plural(plan.objects.length, 'shipped object')} (${formatBytes(plan.bytes)}): seqno ${plan.seqno}, ${plan.time.toISOString()}\n`);
      }
      return ExitCode.OK;
    }
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    let result;
    try {
      const partitions = (values as { partition?: string[] }).partition;
      result = await engine.restore(id, dir, { toSeqno, toTime, partitions, concurrency, signal: context.signal, onProgress: bar === undefined ? undefined : (p) => bar.update(p) });
    } finally {
      bar?.clear();
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      context.stdout.write(`restored ${result.id} into ${result.path}: seqno ${result.seqno}, ${plural(result.files, 'file')} (${formatBytes(result.bytes)}) in ${formatDuration(result.durationMs)}\n`);
    }
    return ExitCode.OK;
  },
};
