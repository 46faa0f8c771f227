// `cairn verify <store-url> <backup-id|latest>`: checks a backup is complete (and with
// --full, that every object's content matches its SHA-256). Read-only; one run per process.
import { openBackupEngine } from '../backup-store-access.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, plural } from '../human-units.js';
import { ProgressBar } from '../progress-bar.js';
import { positiveInteger } from './backup.js';
import { checkBackupRef } from './info.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check that a backup is complete (--full: re-hash its content)',
  usage: 'cairn verify <store-url> <backup-id|latest> [--full [--report-only]] [--concurrency N] [--json]',
  description: [
    'Without --full, checks that every object the backup references exists with the right',
    'size; with --full, downloads each one and compares its SHA-256. Every problem is',
    'printed as <kind> <path> <key>, kind being missing, size or checksum. Exit status 0',
    'when the backup is sound, 6 when a problem was found.',
    '',
    'With --full, each damaged object is moved to quarantine/ in the store (kept, never',
    'read again) and the backups that referenced it are named: they restore again once',
    'a backup of a keyspace that still has the file has uploaded it anew (the next',
    '`cairn backup` does). --report-only leaves damaged objects where they are.',
    '',
    'Options:',
    '  --full           download and re-hash every object; quarantine damaged ones',
    '  --report-only    with --full: report damage, move nothing',
    '  --concurrency N  objects checked at once (default 4)',
    '  --json           print { id, ok, full, objects, bytesRead, problems: [{ path, key, kind }],',
    '                   quarantined: [{ key, to }], brokenBackups }',
  ].join('\n'),
  options: { full: { type: 'boolean' }, 'report-only': { type: 'boolean' }, concurrency: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['store-url', 'backup-id'],
  async run({ values, positionals }, context) {
    const [url, id] = positionals;
    checkBackupRef(id);
    const concurrency = values.concurrency === undefined ? undefined : positiveInteger(values.concurrency as string, '--concurrency');
    const engine = await openBackupEngine(url, context);
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    let result;
    try {
      result = await engine.verify(id, {
        full: values.full === true,
        quarantine: values['report-only'] !== true,
        concurrency,
        signal: context.signal,
        onProgress: bar === undefined ? undefined : (p) => bar.update(p),
      });
    } finally {
      bar?.clear();
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      for (const p of result.problems) context.stdout.write(`${p.kind} ${p.path} ${p.key}\n`);
      for (const q of result.quarantined) context.stdout.write(`quarantined ${q.key} -> ${q.to}\n`);
      if (result.brokenBackups.length > 0) {
        context.stdout.write(`backups that cannot be restored until the next backup uploads the content again: ${result.brokenBackups.join(' ')}\n`);
      }
      context.stdout.write(
        `backup ${result.id}: ${result.ok ? 'ok' : plural(result.problems.length, 'problem')} ` +
          `(${plural(result.objects, 'object')} checked${result.full ? `, ${formatBytes(result.bytesRead)} re-hashed` : ', sizes only'})\n`,
      );
    }
    return result.ok ? ExitCode.OK : ExitCode.CORRUPTION;
  },
};
