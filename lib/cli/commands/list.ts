// `cairn list <store-url>`: the backups in a store, oldest first. Read-only; one run per process.
import { BackupEngine } from '../../backup/backup-engine.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes } from '../human-units.js';

export const listCommand: Command = {
  name: 'list',
  summary: 'list the backups in a backup store',
  usage: 'cairn list <store-url> [--json]',
  description: [
    'Lists every backup whose manifest is in the store, oldest first (by creation time):',
    'id, creation time, seqno, files, size and label. A backup still being written is not',
    'listed until its manifest is.',
    '',
    'Options:',
    '  --json   print an array of { id, createdAt, seqno, label, keyspaceId, partitions,',
    '           files, bytes }',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['store-url'],
  async run({ values, positionals }, context) {
    const engine = await BackupEngine.open(positionals[0], { fs: context.fileSystem() });
    let backups;
    try {
      backups = await engine.list();
    } finally {
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(backups, null, 2)}\n`);
    } else if (backups.length === 0) {
      context.stdout.write('no backups\n');
    } else {
      for (const b of backups) {
        context.stdout.write(`${b.id}  ${b.createdAt}  seqno ${b.seqno}  ${b.files} files  ${formatBytes(b.bytes)}${b.label === undefined ? '' : `  ${b.label}`}\n`);
      }
    }
    return ExitCode.OK;
  },
};
