// `cairn backup <keyspace-dir> <store-url>`: an incremental backup of a closed keyspace
// (the command opens it, taking its LOCK) into a backup store. One run per process.
import { openBackupEngine } from '../backup-store-access.js';
import type { Command } from '../command.js';
import { openExisting } from '../keyspace-access.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatBytes, formatDuration, plural } from '../human-units.js';
import { ProgressBar } from '../progress-bar.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'back up a closed keyspace into a backup store (incremental)',
  usage: 'cairn backup <keyspace-dir> <store-url> [--label L] [--force] [--concurrency N] [--compression zstd|gzip|none] [--json]',
  description: [
    'Opens the keyspace (taking its LOCK: exit status 3 if it is open in any process),',
    'checkpoints it beside itself, uploads the content the store lacks and writes the',
    "backup's manifest last: an interrupted backup leaves no visible backup, and the next",
    'one skips what was already uploaded. <store-url> is file:///path, a plain absolute',
    'path, or s3://bucket/prefix?endpoint=…&region=…; see docs/backups.md. For a keyspace',
    'open in your process, use BackupEngine.backup() from cairn/backup instead.',
    'With CAIRN_BACKUP_KEY set (64 hex digits, or base64 of 32 bytes), a new store is',
    'created encrypted, and an encrypted store needs it (exit status 12 when missing or',
    'wrong); every other backup command reads it too.',
    '',
    'Options:',
    '  --label L        free text stored with the backup',
    '  --force          back up into a store that holds another keyspace\'s backups',
    '  --concurrency N  files hashed and uploaded at once (default 4)',
    '  --compression C  zstd, gzip or none (default: the store\'s; a new store gets zstd',
    '                   where Node has it, >= 22.15, else gzip)',
    '  --json           print the result as JSON: { id, seqno, files, filesUploaded,',
    '                   bytesUploaded, bytesTotal, bytesStored, durationMs }',
  ].join('\n'),
  options: { label: { type: 'string' }, force: { type: 'boolean' }, concurrency: { type: 'string' }, compression: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['keyspace-dir', 'store-url'],
  async run({ values, positionals }, context) {
    const [dir, url] = positionals;
    const concurrency = values.concurrency === undefined ? undefined : positiveInteger(values.concurrency as string, '--concurrency');
    // The store URL first: a mistyped one is a usage error before the keyspace is locked.
    const compression = values.compression as string | undefined;
    if (compression !== undefined && compression !== 'zstd' && compression !== 'gzip' && compression !== 'none') {
      throw new UsageError(`--compression must be zstd, gzip or none, not '${compression}'`);
    }
    const engine = await openBackupEngine(url, context, compression === undefined ? {} : { compression });
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    let result;
    try {
      const ks = await openExisting(context, dir);
      try {
        result = await engine.backup(ks, {
          label: values.label as string | undefined,
          force: values.force === true,
          concurrency,
          signal: context.signal,
          onProgress: bar === undefined ? undefined : (p) => bar.update(p),
        });
      } finally {
        bar?.clear();
        await ks.close();
      }
    } finally {
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      context.stdout.write(
        `backup ${result.id}: seqno ${result.seqno}, ${plural(result.files, 'file')} (${formatBytes(result.bytesTotal)})\n` +
          `  uploaded ${plural(result.filesUploaded, 'file')} (${formatBytes(result.bytesUploaded)}) in ${formatDuration(result.durationMs)}; ` +
          `the store holds ${formatBytes(result.bytesStored)} for it\n`,
      );
    }
    return ExitCode.OK;
  },
};

/** A positive integer option value, or a usage error naming the option. */
export function positiveInteger(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${option} must be a positive integer, not '${text}'`);
  return n;
}
