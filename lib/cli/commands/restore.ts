// `cairn restore <store-url> <backup-id|latest> <dir>`: rebuilds a keyspace directory from
// a backup, every file checked against its SHA-256. One run per process.
import { openBackupEngine } from '../backup-store-access.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatDuration, plural } from '../human-units.js';
import { ProgressBar } from '../progress-bar.js';
import { positiveInteger } from './backup.js';
import { checkBackupRef } from './info.js';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a backup into a new (or empty) directory',
  usage: 'cairn restore <store-url> <backup-id|latest> <dir> [--partition P]... [--concurrency N] [--json]',
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
    '  --concurrency N  files downloaded at once (default 4)',
    '  --json           print { id, path, seqno, files, bytes, durationMs, partitions }',
  ].join('\n'),
  options: { concurrency: { type: 'string' }, partition: { type: 'string', multiple: true }, json: { type: 'boolean' } },
  positionals: ['store-url', 'backup-id', 'dir'],
  async run({ values, positionals }, context) {
    const [url, id, dir] = positionals;
    checkBackupRef(id);
    const concurrency = values.concurrency === undefined ? undefined : positiveInteger(values.concurrency as string, '--concurrency');
    const engine = await openBackupEngine(url, context);
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    let result;
    try {
      const partitions = (values as { partition?: string[] }).partition;
      result = await engine.restore(id, dir, { concurrency, partitions, signal: context.signal, onProgress: bar === undefined ? undefined : (p) => bar.update(p) });
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
