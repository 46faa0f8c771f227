// The engine benchmark (groundwork for issue 3): db_bench-style workloads for cairn,
// classic-level and lmdb. Each store × workload runs alone in a child process
// (bench/engine-child.js), one at a time, so RSS and disk writes are its own.
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './lib/machine.js';
import { ensurePeers } from './lib/peers.js';
import { benchDir, distDir, distHas, importDist, removeScratch, repoRoot, scratchDir } from './lib/paths.js';
import { Report } from './lib/report.js';

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine-child.js');
const USER_BYTES_PER_ENTRY = 16 + 100;
const BASELINE = 'classic-level';

// Writes each get a fresh store; reads run on the store fillbatch produced, so fillbatch
// must come before them.
const workloads = [
  { name: 'fillseq', title: 'fillseq: awaited puts, keys in order', fresh: true, keep: false },
  { name: 'fillrandom', title: 'fillrandom: awaited single puts, random order', fresh: true, keep: false },
  { name: 'fillbatch', title: 'fillrandom: batches of 1,000, random order', fresh: true, keep: true },
  { name: 'readrandom', title: 'readrandom: awaited gets (all hits)', fresh: false, keep: true },
  { name: 'readseq', title: 'readseq: one full forward iteration', fresh: false, keep: false },
];

/** Why the cairn row cannot run yet, or undefined when dist/index.js exports Keyspace. */
async function cairnUnavailable() {
  if (!distHas('index.js')) return 'dist/index.js does not exist (no public entry point built yet)';
  try {
    const entry = await importDist('index.js');
    if (typeof entry.Keyspace !== 'function') return 'dist/index.js does not export Keyspace yet';
    return undefined;
  } catch (error) {
    return `importing dist/index.js failed: ${error.message}`;
  }
}

function runChild(spec) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, JSON.stringify(spec)], {
      cwd: benchDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${spec.store}/${spec.workload} exited ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        reject(new Error(`${spec.store}/${spec.workload} printed no result: ${out.slice(-200)}`));
      }
    });
  });
}

export async function run(options) {
  const quick = options.quick;
  const entries = options.entries ?? (quick ? 100_000 : 1_000_000);
  ensurePeers();
  const cairnReason = await cairnUnavailable();
  const stores = ['classic-level', 'lmdb', 'cairn'];
  const work = await scratchDir('engine');
  const datasetMiB = (entries * USER_BYTES_PER_ENTRY) / 2 ** 20;
  const report = new Report({
    suite: 'engine',
    title: `db_bench-style workloads, ${entries.toLocaleString('en-US')} entries of 16-byte keys and 100-byte values`,
    command: `npm run bench -- engine${quick ? ' --quick' : ''}${options.entries ? ` --entries ${options.entries}` : ''}`,
    baseline: BASELINE,
    primary: 'opsPerSec',
    ratioLabel: '× classic-level ops/s (higher is better)',
    columns: [
      { key: 'opsPerSec', label: 'ops/s', digits: 0 },
      { key: 'usPerOp', label: 'µs/op', digits: 2 },
      { key: 'peakRssMiB', label: 'peak RSS MiB', digits: 1 },
      { key: 'writeMiB', label: 'disk writes MiB', digits: 1 },
      { key: 'writeAmp', label: 'written / user bytes', digits: 2 },
    ],
    options: { quick, entries, datasetMiB },
    footnotes: [
      `User data: ${entries.toLocaleString('en-US')} × (16 + 100) bytes = ${datasetMiB.toFixed(1)} MiB${datasetMiB > 64 ? ' (larger than 64 MiB, as readrandom requires)' : ' (smaller than the 64 MiB the real readrandom case must exceed: a smoke run)'}; values are incompressible random bytes.`,
      'One run per store × workload, each in its own child process; ops/s counts only the workload loop (not open or close).',
      'Peak RSS is the child’s process.resourceUsage().maxRSS (includes Node itself, about 40 MiB). Disk writes are the child’s /proc/self/io write_bytes from before open to after close, all threads included; “written / user bytes” divides them by the user data size above (for reads: writes caused by reading, e.g. compactions).',
      'readrandom and readseq run on the store fillbatch wrote. Durability: no store fsyncs per write (classic-level default sync: false; lmdb noSync: true; cairn defaults).',
      'Every store is called through the same thin adapter (bench/engine-child.js); the cairn row uses the public API (Keyspace.open, ks.partition, put/get, ks.batch, p.entries, ks.close).',
    ],
  });

  process.stdout.write(`engine benchmark: ${entries.toLocaleString('en-US')} entries, scratch ${path.relative(repoRoot, work)}\n`);
  if (cairnReason !== undefined) {
    process.stdout.write(`\n!!! SKIPPING the cairn row: ${cairnReason}.\n!!! The engine benchmark compares only classic-level and lmdb until lib/index.ts exports Keyspace.\n\n`);
  }
  let failures = 0;
  try {
    for (const store of stores) {
      const dir = path.join(work, store);
      for (const workload of workloads) {
        if (store === 'cairn' && cairnReason !== undefined) {
          report.addUnavailable(workload.title, store, cairnReason, 'SKIPPED');
          continue;
        }
        if (workload.fresh) {
          await rm(dir, { recursive: true, force: true });
          await mkdir(dir, { recursive: true });
        }
        process.stdout.write(`  ${store.padEnd(14)} ${workload.name.padEnd(11)} … `);
        try {
          const result = await runChild({
            store,
            workload: workload.name,
            entries,
            dir,
            seed: 0x5eed + workloads.indexOf(workload),
            cairnModule: path.join(distDir, 'index.js'),
          });
          const opsPerSec = result.ops / result.seconds;
          process.stdout.write(`${Math.round(opsPerSec).toLocaleString('en-US')} ops/s\n`);
          report.add(workload.title, store, {
            metrics: {
              opsPerSec,
              usPerOp: 1e6 / opsPerSec,
              peakRssMiB: result.maxRssKiB / 1024,
              writeMiB: result.writeBytes === null ? undefined : result.writeBytes / 2 ** 20,
              writeAmp: result.writeBytes === null ? undefined : result.writeBytes / (entries * USER_BYTES_PER_ENTRY),
            },
            samples: result,
          });
        } catch (error) {
          failures++;
          process.stdout.write(`FAILED\n`);
          report.addUnavailable(workload.title, store, error.message, 'FAILED');
        }
        if (!workload.keep) await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await removeScratch(work);
  }
  await report.finish(machineInfo(path.join(benchDir, '.work'), repoRoot));
  return { ok: failures === 0 };
}
