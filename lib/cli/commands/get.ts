// `cairn get <dir> <partition> <key>`: one value of a closed keyspace. One run per process.
import { CairnError, ErrorCodes } from '../../errors.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { decodeText, encodeBytes, existingPartition, forTerminal, openExisting, parseEncoding, truncates } from '../keyspace-access.js';

export const getCommand: Command = {
  name: 'get',
  summary: 'print the value of one key',
  usage: 'cairn get <dir> <partition> <key> [--encoding E] [--full] [--json]',
  description: [
    'Opens the keyspace (taking its LOCK: exit status 3 while it is open in any process),',
    'prints the value of <key> in <partition> and closes it. A missing partition or key is',
    'exit status 8 (nothing is created).',
    '',
    'Options:',
    '  --encoding E  how <key> is given and the value printed: utf8 (default), hex, base64',
    '  --full        never cut a long value (on a terminal it is cut at 64 characters)',
    '  --json        print { "key": …, "value": … } (never cut)',
  ].join('\n'),
  options: { encoding: { type: 'string' }, full: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: ['dir', 'partition', 'key'],
  async run({ values, positionals }, context) {
    const [dir, name, keyText] = positionals;
    const encoding = parseEncoding(values.encoding);
    const key = decodeText(keyText, encoding, 'key');
    const ks = await openExisting(context, dir);
    try {
      const value = await (await existingPartition(ks, name)).get(key);
      if (value === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `No key '${keyText}' in partition '${name}'`, { details: { partition: name } });
      const text = encodeBytes(value, encoding);
      if (values.json === true) context.stdout.write(`${JSON.stringify({ key: keyText, value: text })}\n`);
      else context.stdout.write(`${forTerminal(text, !truncates(context, values.full))}\n`);
    } finally {
      await ks.close();
    }
    return ExitCode.OK;
  },
};
