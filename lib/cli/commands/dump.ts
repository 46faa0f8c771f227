// `cairn dump <dir>`: every entry of a closed keyspace (or of one partition) as JSON lines,
// the input `cairn load` takes. One run per process.
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { encodeBytes, existingPartition, forTerminal, openExisting, parseEncoding, truncates } from '../keyspace-access.js';
import { ProgressBar } from '../progress-bar.js';

/** Entries between two progress frames. */
const PROGRESS_EVERY = 1000;

export const dumpCommand: Command = {
  name: 'dump',
  summary: 'print every entry as JSON lines (the input of cairn load)',
  usage: 'cairn dump <dir> [--partition P] [--encoding E] [--full] [--json]',
  description: [
    'Opens the keyspace (taking its LOCK: exit status 3 while it is open in any process)',
    'and prints one JSON object per entry, partitions by name and keys in order:',
    '  {"partition":"users","key":"alice","value":"…"}',
    'Keys and values are text in the --encoding (utf8 by default; hex or base64 for binary',
    'data: utf8 replaces invalid bytes). Piped into `cairn load <dir> <partition>` it copies',
    'a partition. On a terminal, long keys and values are cut unless --full; in a pipe or a',
    'file they never are. A progress bar is drawn on stderr when it is a terminal.',
    '',
    'Options:',
    '  --partition P  only this partition (exit status 8 when it does not exist)',
    '  --encoding E   utf8 (default), hex or base64',
    '  --full         never cut long keys or values',
    '  --json         accepted for uniformity: the output is always JSON lines',
  ].join('\n'),
  options: { partition: { type: 'string' }, encoding: { type: 'string' }, full: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: ['dir'],
  async run({ values, positionals }, context) {
    const encoding = parseEncoding(values.encoding);
    const cut = truncates(context, values.full);
    const ks = await openExisting(context, positionals[0]);
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    try {
      const names = typeof values.partition === 'string' ? [values.partition] : ks.partitionNames();
      const partitions = [];
      for (const name of names) partitions.push(await existingPartition(ks, name));
      // Entries in segments (old versions and tombstones included) bound the count from above.
      const stats = ks.stats();
      const estimate = names.reduce((n, name) => n + stats.partitions[name].levels.reduce((m, l) => m + l.entries, 0), 0);
      let done = 0;
      for (const p of partitions) {
        for await (const [k, v] of p.entries()) {
          const key = forTerminal(encodeBytes(k, encoding), !cut);
          const value = forTerminal(encodeBytes(v, encoding), !cut);
          context.stdout.write(`${JSON.stringify({ partition: p.name, key, value })}\n`);
          if (++done % PROGRESS_EVERY === 0) bar?.step('dumping', done, Math.max(estimate, done), 'entries');
        }
      }
      bar?.step('done', done, done, 'entries');
    } finally {
      bar?.clear();
      await ks.close();
    }
    return ExitCode.OK;
  },
};
