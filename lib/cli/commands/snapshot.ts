// `cairn snapshot <keyspace-dir> <dest>`: an offline checkpoint of a closed keyspace
// (lib/checkpoint/offline-snapshot.ts does the work). One run per process.
import * as path from 'node:path';
import { snapshotKeyspace } from '../../checkpoint/offline-snapshot.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatBytes, formatDuration, plural } from '../human-units.js';
import { ProgressBar } from '../progress-bar.js';

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'checkpoint a closed keyspace into a new directory',
  usage: 'cairn snapshot <keyspace-dir> <dest> [--json]',
  description: [
    'Takes the keyspace\'s LOCK (refusing with exit status 3 if the keyspace is open in any',
    'process), then builds <dest>, which must not exist, beside it as <dest>.tmp-<id> and',
    'renames it into place once durable. Segments and sealed journals are hard-linked',
    '(copied when <dest> is on another file system); the newest journal, CURRENT, the live',
    'manifests and keyspace.json are copied. Debris (temp files, unreferenced segments and',
    'manifests) is left out. The result opens with Keyspace.open(). For a keyspace that is',
    'open, use keyspace.backupTo() from the owning process instead.',
    '',
    'Options:',
    '  --json   print the result as JSON: { path, seqno, partitions, filesLinked,',
    '           filesCopied, bytesLinked, bytesCopied, durationMs }',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['keyspace-dir', 'dest'],
  async run({ values, positionals }, context) {
    const [source, dest] = positionals;
    const root = path.resolve(source);
    const rel = path.relative(root, path.resolve(dest));
    if (rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))) {
      throw new UsageError(`<dest> must lie outside the keyspace directory ${root}`);
    }
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    let result;
    try {
      result = await snapshotKeyspace(context.fileSystem(), source, dest, {
        signal: context.signal,
        onProgress: bar === undefined ? undefined : (p) => bar.update(p),
      });
    } finally {
      bar?.clear();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      context.stdout.write(
        `snapshot ${result.path}: seqno ${result.seqno}, ${plural(result.partitions.length, 'partition')}` +
          `${result.partitions.length > 0 ? ` (${result.partitions.join(', ')})` : ''}\n` +
          `  linked ${plural(result.filesLinked, 'file')} (${formatBytes(result.bytesLinked)}), ` +
          `copied ${plural(result.filesCopied, 'file')} (${formatBytes(result.bytesCopied)}) in ${formatDuration(result.durationMs)}\n`,
      );
    }
    return ExitCode.OK;
  },
};
