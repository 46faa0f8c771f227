// `cairn prune <store-url>`: retention (keep the newest N, keep what is younger than an
// age) and garbage collection of unreferenced content. One run per process.
import { openBackupEngine } from '../backup-store-access.js';
import type { Command } from '../command.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatBytes, plural } from '../human-units.js';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'delete old backups and the content only they used',
  usage: 'cairn prune <store-url> [--keep-last N] [--max-age AGE] [--grace AGE] [--dry-run] [--yes] [--json]',
  description: [
    'Keeps the newest --keep-last backups and every backup younger than --max-age; deletes',
    'the other manifests, then every content object no remaining backup references and',
    'older than --grace. With neither rule, no backup is deleted (only garbage collected).',
    'Either rule also deletes damaged manifests (those `cairn list` reports as damaged).',
    'While a backup is running, backups are deleted but garbage collection is skipped',
    '(see docs/backups.md). AGE is a number with a unit: 90s, 30m, 12h, 30d, 2w.',
    '',
    'Options:',
    '  --keep-last N   keep the newest N backups',
    '  --max-age AGE   keep every backup younger than AGE',
    '  --grace AGE     never delete content younger than AGE (default 1h)',
    '  --dry-run       report what would be deleted; delete nothing',
    '  --yes           confirm --keep-last 0 (which deletes every backup)',
    '  --json          print { dryRun, kept, deleted, filesDeleted, bytesFreed,',
    '                  filesInGrace, gcSkipped, deletedDamaged }',
  ].join('\n'),
  options: {
    'keep-last': { type: 'string' },
    'max-age': { type: 'string' },
    grace: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: ['store-url'],
  async run({ values, positionals }, context) {
    const keepLastText = values['keep-last'] as string | undefined;
    if (keepLastText !== undefined && !/^\d+$/.test(keepLastText)) throw new UsageError(`--keep-last must be a non-negative integer, not '${keepLastText}'`);
    if (keepLastText !== undefined && Number(keepLastText) === 0 && values.yes !== true && values['dry-run'] !== true) {
      throw new UsageError('--keep-last 0 deletes every backup; add --yes to confirm (or --dry-run to see what it would delete)');
    }
    const maxAgeMs = parseAge(values['max-age'] as string | undefined, '--max-age');
    const graceMs = parseAge(values.grace as string | undefined, '--grace');
    const engine = await openBackupEngine(positionals[0], context);
    let result;
    try {
      result = await engine.prune({ keepLast: keepLastText === undefined ? undefined : Number(keepLastText), maxAgeMs, graceMs, dryRun: values['dry-run'] === true, signal: context.signal });
    } finally {
      await engine.close();
    }
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const verb = result.dryRun ? 'would delete' : 'deleted';
      context.stdout.write(
        `${verb} ${plural(result.deleted.length, 'backup')}, kept ${result.kept.length}\n` +
          (result.gcSkipped === undefined
            ? `${verb} ${plural(result.filesDeleted, 'object')} (${formatBytes(result.bytesFreed)}); ${result.filesInGrace} unreferenced within the grace period\n`
            : 'garbage collection skipped: a backup is running\n'),
      );
      for (const id of result.deleted) context.stdout.write(`  ${verb} ${id}\n`);
      for (const id of result.deletedDamaged) context.stdout.write(`  ${verb} damaged manifest ${id}\n`);
    }
    return ExitCode.OK;
  },
};

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** '90s', '30m', '12h', '30d', '2w' in milliseconds; undefined when absent. */
export function parseAge(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (m === null) throw new UsageError(`${option} must be a number with a unit (s, m, h, d, w), e.g. 30d; not '${text}'`);
  return Number(m[1]) * UNIT_MS[m[2]];
}
