// Benchmark runner: `npm run bench` runs every suite, `npm run bench -- fs` one of them.
// Suites run one after another in this process (each measures its own children).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { distDir } from './lib/paths.js';

const suites = {
  fs: { module: './fs.js', about: 'hard-link N files and fsync their directories (addon vs fs.promises vs cp -al vs a C floor)' },
  engine: { module: './engine.js', about: 'fillseq/fillrandom/readrandom/readseq: cairn vs classic-level vs lmdb; sustained mixed workload vs classic-level' },
  checkpoint: { module: './checkpoint.js', about: 'ks.backupTo latency vs segments and volume (floor, cp -al, cp -a, lmdb) and the write pause' },
  backup: { module: './backup.js', about: 'BackupEngine full backup/restore vs cp -a, incremental bytes, s3rver' },
  shipping: { module: './shipping.js', about: 'journal shipping: RPO lag (file://, s3rver), objects/min, put cost on vs off; restore to a time vs cp -a' },
  rangedel: { module: './range-delete.js', about: 'p.clear cost over 10 keys vs every key, and reads right after a big clear' },
};

function usage() {
  const names = Object.entries(suites).map(([name, s]) => `  ${name.padEnd(10)} ${s.about}`);
  return [
    'usage: npm run bench [-- <suite>...] [--quick] [--runs N] [--entries N] [--duration S]',
    '',
    'suites:',
    ...names,
    '',
    '  --quick       short smoke run (fewer sizes/entries, fewer repetitions)',
    '  --runs N      measured repetitions per case (fs, checkpoint, backup; default 5 / 5 / 3, quick 3 / 3 / 2), after one discarded warm-up',
    '  --entries N   entries for the engine workloads (default 1,000,000, quick 100,000)',
    '  --duration S  seconds of the engine\'s sustained mixed workload, or of the shipping writer (default 60, quick 10; at most 300)',
  ].join('\n');
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      entries: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  process.stderr.write(`${error.message}\n\n${usage()}\n`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`${usage()}\n`);
  process.exit(0);
}

function positiveInteger(name, text) {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

const selected = positionals.length > 0 ? positionals : Object.keys(suites);
const unknown = selected.filter((name) => !(name in suites));
if (unknown.length > 0) {
  process.stderr.write(`unknown suite: ${unknown.join(', ')}\n\n${usage()}\n`);
  process.exit(2);
}
if (!existsSync(distDir)) {
  process.stderr.write('dist/ does not exist: the benchmarks run the compiled library. Run `npm run build` first.\n');
  process.exit(2);
}

const options = {
  quick: values.quick,
  runs: positiveInteger('runs', values.runs),
  entries: positiveInteger('entries', values.entries),
  duration: positiveInteger('duration', values.duration),
};
if (options.duration !== undefined && options.duration > 300) {
  process.stderr.write(`--duration is at most 300 seconds, got ${options.duration}\n`);
  process.exit(2);
}

let failed = false;
for (const name of selected) {
  const suite = await import(suites[name].module);
  const outcome = await suite.run(options);
  if (!outcome.ok) failed = true;
}
if (failed) {
  process.stderr.write('\nsome rows could not run (see UNAVAILABLE above)\n');
  process.exitCode = 1;
}
