// `cairn load <dir> <partition>`: writes the JSON lines read from stdin (what `cairn dump`
// prints) into a partition of a closed keyspace. One run per process.
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../keyspace/arguments.js';
import type { Command } from '../command.js';
import { ExitCode, InputError } from '../exit-codes.js';
import { decodeText, openExisting, parseEncoding, type TextEncoding } from '../keyspace-access.js';
import { ProgressBar } from '../progress-bar.js';

/** Entries per atomic batch: bounded journal records, and a bar that moves. */
const BATCH = 1000;

export const loadCommand: Command = {
  name: 'load',
  summary: 'write JSON lines from stdin into a partition',
  usage: 'cairn load <dir> <partition> [--encoding E] [--json] < file.jsonl',
  description: [
    'Reads JSON lines from stdin, each an object with "key" and "value" strings in the',
    '--encoding (other fields, such as the "partition" of `cairn dump`, are ignored), and',
    'puts them into <partition> (created when missing) of the keyspace in <dir>, in',
    `batches of ${BATCH}. Opens the keyspace, taking its LOCK (exit status 3 while it is open`,
    'in any process). The whole input is read and checked first: a malformed line is exit',
    'status 10, naming the line, and then nothing has been written.',
    '',
    'Options:',
    '  --encoding E  utf8 (default), hex or base64',
    '  --json        print { "partition": …, "entries": N }',
  ].join('\n'),
  options: { encoding: { type: 'string' }, json: { type: 'boolean' } },
  positionals: ['dir', 'partition'],
  async run({ values, positionals }, context) {
    const [dir, name] = positionals;
    const encoding = parseEncoding(values.encoding);
    const entries = await readEntries(context.stdin, encoding);
    const ks = await openExisting(context, dir);
    const bar = context.stderr.isTTY === true ? new ProgressBar(context.stderr) : undefined;
    try {
      const p = await ks.partition(name);
      for (let i = 0; i < entries.length; i += BATCH) {
        const batch = ks.batch();
        for (const [k, v] of entries.slice(i, i + BATCH)) batch.put(p, k, v);
        await batch.commit();
        bar?.step('loading', Math.min(i + BATCH, entries.length), entries.length, 'entries');
      }
    } finally {
      bar?.clear();
      await ks.close();
    }
    context.stdout.write(values.json === true ? `${JSON.stringify({ partition: name, entries: entries.length })}\n` : `loaded ${entries.length} entries into ${name}\n`);
    return ExitCode.OK;
  },
};

async function readEntries(input: AsyncIterable<Buffer | string>, encoding: TextEncoding): Promise<[Buffer, Buffer][]> {
  let text = '';
  for await (const chunk of input) text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  const entries: [Buffer, Buffer][] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new InputError(`line ${i + 1}: not JSON`);
    }
    const { key, value } = (typeof record === 'object' && record !== null ? record : {}) as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || typeof value !== 'string') throw new InputError(`line ${i + 1}: needs "key" and "value" strings`);
    let entry: [Buffer, Buffer];
    try {
      entry = [decodeText(key, encoding, 'key'), decodeText(value, encoding, 'value')];
    } catch (err) {
      throw new InputError(`line ${i + 1}: ${(err as Error).message}`);
    }
    if (entry[0].length > MAX_KEY_BYTES) throw new InputError(`line ${i + 1}: the key is ${entry[0].length} bytes; the limit is ${MAX_KEY_BYTES}`);
    if (entry[1].length > MAX_VALUE_BYTES) throw new InputError(`line ${i + 1}: the value is ${entry[1].length} bytes; the limit is ${MAX_VALUE_BYTES}`);
    entries.push(entry);
  }
  return entries;
}
