// `cairn check <dir>`: a deep, read-only check of every checksum of a closed keyspace or a
// checkpoint: each block of every segment and each record of every journal, every file
// read once on the worker threads. Holds the LOCK while it reads. One run per process.
import { checkKeyspaceFiles } from '../../keyspace/content-check.js';
import { lockPath } from '../../layout/file-names.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, plural } from '../human-units.js';
import { requireKeyspace } from '../keyspace-access.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'check every checksum of a closed keyspace or a checkpoint (read-only)',
  usage: 'cairn check <dir> [--json]',
  description: [
    'Reads every segment and journal of the keyspace once and checks each block trailer',
    "and each journal record's CRC-32; nothing is written or repaired. Takes the LOCK",
    'while it reads (exit status 3 while the keyspace is open anywhere: check a live',
    'keyspace with keyspace.check() in its process). The newest journal may end in a',
    'torn record (a crash mid-append, which the next open drops). Exit status 0 when',
    'every checksum holds, 6 naming the first damaged file and offset otherwise.',
    '',
    'Options:',
    '  --json   print { segments, journals, bytes }',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['dir'],
  async run({ values, positionals }, context) {
    const root = await requireKeyspace(context, positionals[0]);
    const fs = context.fileSystem();
    const lock = await fs.lock(lockPath(root));
    let result;
    try {
      result = await checkKeyspaceFiles(fs, root, { newestMayBeTorn: true, injected: false });
    } finally {
      await lock.unlock();
    }
    if (values.json === true) context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else context.stdout.write(`ok: ${plural(result.segments, 'segment')} and ${plural(result.journals, 'journal')} (${formatBytes(result.bytes)}) checked\n`);
    return ExitCode.OK;
  },
};
