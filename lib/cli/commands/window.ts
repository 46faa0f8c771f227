// `cairn window <store-url>`: the range a point-in-time restore can reach (the oldest
// backup to the last shipped batch) and its gaps. Read-only; one run per process.
import { openBackupEngine } from '../backup-store-access.js';
import type { Command } from '../command.js';
import { ExitCode } from '../exit-codes.js';

export const windowCommand: Command = {
  name: 'window',
  summary: 'show the seqnos and times a point-in-time restore can reach',
  usage: 'cairn window <store-url> [--json]',
  description: [
    'From the oldest backup to the last shipped journal batch (docs/shipping.md): every seqno',
    'and moment between can be restored with `cairn restore … --to-seqno N | --to-time ISO`,',
    'except inside a gap (a missing shipped object no backup bridges). A store with no',
    'backup reports an empty window. Gaps are found from the listing; an object that is',
    'present but damaged is found by the restore that reads it.',
    '',
    'Options:',
    '  --json   print { from: { seqno, time }, to: { seqno, time }, gaps: [{ from, to }] }',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['store-url'],
  async run({ values, positionals }, context) {
    const engine = await openBackupEngine(positionals[0], context);
    let window;
    try {
      window = await engine.window();
    } finally {
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(window, null, 2)}\n`);
    } else if (window.from === undefined || window.to === undefined) {
      context.stdout.write('empty: the store holds no backup\n');
    } else {
      context.stdout.write(`from seqno ${window.from.seqno} (${window.from.time.toISOString()}) to seqno ${window.to.seqno} (${window.to.time.toISOString()})\n`);
      for (const g of window.gaps) context.stdout.write(`gap: seqnos ${g.from}-${g.to} cannot be restored\n`);
    }
    return ExitCode.OK;
  },
};
