// `cairn scan <dir> <partition>`: the entries of a key range of a closed keyspace, in key
// order. One run per process.
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { decodeText, encodeBytes, existingPartition, forTerminal, openExisting, parseEncoding, truncates } from '../keyspace-access.js';
import { positiveInteger } from './backup.js';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'print the entries of a key range',
  usage: 'cairn scan <dir> <partition> [--gte K] [--gt K] [--lte K] [--lt K] [--limit N] [--reverse] [--keys-only] [--encoding E] [--full] [--json]',
  description: [
    'Opens the keyspace (taking its LOCK: exit status 3 while it is open in any process)',
    'and prints the entries of <partition> within the bounds, one per line as',
    '"<key> => <value>" (or the key alone with --keys-only), in key order.',
    '',
    'Options:',
    '  --gte K, --gt K, --lte K, --lt K   key bounds, in the --encoding',
    '  --limit N      at most N entries',
    '  --reverse      descending key order',
    '  --keys-only    print keys only',
    '  --encoding E   utf8 (default), hex or base64, for the bounds and the output',
    '  --full         never cut long keys or values (on a terminal they are cut at 64 characters)',
    '  --json         one JSON object per line: { "key": …, "value": … } (never cut)',
  ].join('\n'),
  options: {
    gte: { type: 'string' },
    gt: { type: 'string' },
    lte: { type: 'string' },
    lt: { type: 'string' },
    limit: { type: 'string' },
    reverse: { type: 'boolean' },
    'keys-only': { type: 'boolean' },
    encoding: { type: 'string' },
    full: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: ['dir', 'partition'],
  async run({ values, positionals }, context) {
    const [dir, name] = positionals;
    const encoding = parseEncoding(values.encoding);
    const bounds: Record<string, Buffer> = {};
    for (const bound of ['gte', 'gt', 'lte', 'lt'] as const) {
      const text = values[bound];
      if (typeof text === 'string') bounds[bound] = decodeText(text, encoding, `--${bound}`);
    }
    if (bounds.gt !== undefined && bounds.gte !== undefined) throw new UsageError('give at most one of --gt and --gte');
    if (bounds.lt !== undefined && bounds.lte !== undefined) throw new UsageError('give at most one of --lt and --lte');
    const limit = values.limit === undefined ? undefined : positiveInteger(values.limit as string, '--limit');
    const keysOnly = values['keys-only'] === true;
    const cut = truncates(context, values.full) && values.json !== true;
    const ks = await openExisting(context, dir);
    try {
      const p = await existingPartition(ks, name);
      for await (const [k, v] of p.entries({ ...bounds, limit, reverse: values.reverse === true })) {
        const key = encodeBytes(k, encoding);
        if (values.json === true) context.stdout.write(`${JSON.stringify(keysOnly ? { key } : { key, value: encodeBytes(v, encoding) })}\n`);
        else if (keysOnly) context.stdout.write(`${forTerminal(key, !cut)}\n`);
        else context.stdout.write(`${forTerminal(key, !cut)} => ${forTerminal(encodeBytes(v, encoding), !cut)}\n`);
      }
    } finally {
      await ks.close();
    }
    return ExitCode.OK;
  },
};
