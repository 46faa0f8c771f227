// `cairn list <store-url>`: the backups in a store, oldest first. Read-only; one run per process.
import { openBackupEngine } from '../backup-store-access.js';
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
    'listed until its manifest is. A manifest that cannot be read is listed as DAMAGED',
    '(the others still list; `cairn prune` with a rule deletes it). A store URL where no',
    'backup was ever made is exit status 8; nothing is created.',
    '',
    'Options:',
    '  --json   print an array of { id, createdAt, seqno, label, keyspaceId, partitions,',
    '           files, bytes }, then { id, key, problem, code, damaged: true } per damaged',
    '           manifest',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['store-url'],
  async run({ values, positionals }, context) {
    const engine = await openBackupEngine(positionals[0], context);
    let backups;
    try {
      backups = await engine.list();
    } finally {
      await engine.close();
    }
    if (values.json === true) {
      // Damaged manifests follow the backups as { id, key, problem, code, damaged: true }.
      context.stdout.write(`${JSON.stringify([...backups, ...backups.damaged.map((d) => ({ ...d, damaged: true }))], null, 2)}\n`);
    } else if (backups.length === 0 && backups.damaged.length === 0) {
      context.stdout.write('no backups\n');
    } else {
      for (const b of backups) {
        context.stdout.write(`${b.id}  ${b.createdAt}  seqno ${b.seqno}  ${b.files} files  ${formatBytes(b.bytes)}${b.label === undefined ? '' : `  ${b.label}`}\n`);
      }
      for (const d of backups.damaged) context.stdout.write(`${d.id}  DAMAGED: ${d.problem}\n`);
    }
    return ExitCode.OK;
  },
};
