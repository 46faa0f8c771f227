// `cairn compact <dir>`: manual compaction of a closed keyspace (ks.compact), for
// reclaiming space after large deletes. One run per process.
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatDuration } from '../human-units.js';
import { existingPartition, openExisting } from '../keyspace-access.js';
import { ProgressBar } from '../progress-bar.js';

export const compactCommand: Command = {
  name: 'compact',
  summary: 'compact a closed keyspace into its bottom levels (reclaims deleted space)',
  usage: 'cairn compact <dir> [--partition P] [--json]',
  description: [
    'Opens the keyspace (taking its LOCK: exit status 3 while it is open in any process),',
    'flushes it and rewrites every segment of each partition into its bottom level,',
    'dropping overwritten versions and deleted keys, then prints the segment bytes before',
    'and after. For a keyspace open in your process, call keyspace.compact() instead.',
    '',
    'Options:',
    '  --partition P  only this partition (exit status 8 when it does not exist)',
    '  --json         print { partitions, bytesBefore, bytesAfter, durationMs }',
  ].join('\n'),
  options: { partition: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['dir'],
  async run({ values, positionals }, context) {
    const started = performance.now();
    const ks = await openExisting(context, positionals[0]);
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    let result;
    try {
      const names = typeof values.partition === 'string' ? [values.partition] : ks.partitionNames();
      const partitions = [];
      for (const name of names) partitions.push(await existingPartition(ks, name));
      const bytes = (): number => names.reduce((n, name) => n + ks.stats().partitions[name].segmentBytes + ks.stats().partitions[name].memtables.bytes, 0);
      const bytesBefore = bytes();
      for (let i = 0; i < partitions.length; i++) {
        bar?.step(`compacting ${partitions[i].name}`, i, partitions.length, 'partitions');
        await ks.compact(partitions[i]);
      }
      bar?.step('done', partitions.length, partitions.length, 'partitions');
      result = { partitions: names, bytesBefore, bytesAfter: bytes(), durationMs: performance.now() - started };
    } finally {
      bar?.clear();
      await ks.close();
    }
    if (values.json === true) context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      context.stdout.write(
        `compacted ${result.partitions.length === 1 ? result.partitions[0] : `${result.partitions.length} partitions`}: ` +
          `${formatBytes(result.bytesBefore)} -> ${formatBytes(result.bytesAfter)} in ${formatDuration(result.durationMs)}\n`,
      );
    }
    return ExitCode.OK;
  },
};
