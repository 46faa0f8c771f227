// `cairn info <store-url> <backup-id|latest>`: one backup's manifest. Read-only; one run per process.
import { openBackupEngine } from '../backup-store-access.js';
import { isBackupId } from '../../backup/store-layout.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatBytes, plural } from '../human-units.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show one backup (its manifest)',
  usage: 'cairn info <store-url> <backup-id|latest> [--json]',
  description: [
    'Shows a backup: id, creation time, seqno, label, keyspace id, partitions, and its',
    "files with their sizes and SHA-256. 'latest' is the newest backup by creation time.",
    'Exit status 8 when there is no such backup.',
    '',
    'Options:',
    '  --json   print the manifest itself (the format is in docs/backups.md)',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['store-url', 'backup-id'],
  async run({ values, positionals }, context) {
    const [url, id] = positionals;
    checkBackupRef(id);
    const engine = await openBackupEngine(url, context);
    let m;
    try {
      m = await engine.info(id);
    } finally {
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    } else {
      context.stdout.write(
        [
          `backup ${m.id}`,
          `  created    ${m.createdAt}`,
          `  seqno      ${m.seqno}`,
          `  label      ${m.label ?? '-'}`,
          `  keyspace   ${m.keyspaceId}`,
          `  partitions ${m.partitions.join(', ') || '-'}`,
          `  files      ${plural(m.totals.files, 'file')}, ${formatBytes(m.totals.bytes)}`,
          `  cairn      ${m.cairnVersion}`,
          ...m.files.map((f) => `    ${f.path}  ${f.size}  ${f.sha256}`),
        ].join('\n') + '\n',
      );
    }
    return ExitCode.OK;
  },
};

/** A backup id or 'latest', else a usage error (before the store is opened). */
export function checkBackupRef(id: string): void {
  if (id !== 'latest' && !isBackupId(id)) throw new UsageError(`'${id}' is not a backup id (e.g. 20261121T171500Z-0a1b2c3d) or 'latest'`);
}
