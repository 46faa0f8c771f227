// The `backup` benchmark (issue 6): BackupEngine full backup and full restore of a keyspace
// to a file:// store on the same disk against `cp -a` + sync of the same files, the bytes
// an incremental backup uploads after 1% of the keys change, and a full backup to s3rver
// on loopback. Sequential by design: one measurement at a time, in this process.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildKeyspace, planLayout, treeBytes, valueFor } from './lib/keyspace-builder.js';
import { machineInfo } from './lib/machine.js';
import { benchDir, importDist, removeScratch, repoRoot, scratchDir } from './lib/paths.js';
import { Report, median } from './lib/report.js';
import { startS3Server } from './lib/s3-server.js';
import { hrMs, syncAll, timeCopy } from './lib/shell-baselines.js';

const CP_A = 'cp -a + sync';
const BACKUP = 'BackupEngine.backup → file:// (zstd)';
const RESTORE = 'BackupEngine.restore ← file:// (zstd)';
const BACKUP_ENC = 'BackupEngine.backup → file:// (zstd + AES-256-GCM)';
const RESTORE_ENC = 'BackupEngine.restore ← file:// (zstd + AES-256-GCM)';
const PARTIAL = 'restore of 1 of 4 partitions (zstd)';
const FULL_RESTORE_TIME = 'full restore (zstd)';
const S3_BACKUP = 'BackupEngine.backup → s3rver (loopback)';
const NEW_FILES = 'new files (manifest 2 − manifest 1)';
const INCREMENTAL = 'incremental backup: uploaded';
const PARTITIONS = 4;
// FIFO with a budget never reached: segments are neither merged nor dropped, so the
// files of the first backup are still the keyspace's files at the second, and only what
// the 1% change flushed is new.
const NO_MERGES = { strategy: 'fifo', maxBytes: 2 ** 50 };
const MB = 1e6;
const CHANGED_FRACTION = 0.01;

const GOAL_THROUGHPUT_RATIO = 0.7;
const GOAL_ENCRYPTED_RATIO = 0.6;
const GOAL_STORED_RATIO = 0.6;
const GOAL_PARTIAL_RATIO = 0.35;
/** Half of every value is one repeated byte: the data compresses about 2:1. */
const COMPRESSIBLE = 0.5;
const GOAL_INCREMENTAL_RATIO = 1.2;

const formatBytes = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.round(n / MB)} MB`);

/** A full backup and a full restore into a fresh store with `options`; the store is kept only when asked. */
async function backupAndRestore(ctx, label, options, { keepStore = false, partial = false } = {}) {
  const { work, ks, BackupEngine } = ctx;
  const storeDir = path.join(work, `store-${label}`);
  const engine = await BackupEngine.open(pathToFileURL(storeDir).href, options);
  const out = {};
  try {
    syncAll();
    let start = process.hrtime.bigint();
    const backup = await engine.backup(ks);
    out.backup = { ms: hrMs(start), bytes: backup.bytesTotal, files: backup.files, stored: backup.bytesStored };
    if (backup.bytesUploaded !== backup.bytesStored) throw new Error(`a fresh store received ${backup.bytesUploaded} of ${backup.bytesStored} bytes`);

    const restoreDir = path.join(work, `restore-${label}`);
    syncAll();
    start = process.hrtime.bigint();
    const restored = await engine.restore(backup.id, restoreDir);
    out.restore = { ms: hrMs(start), bytes: restored.bytes, files: restored.files };
    await rm(restoreDir, { recursive: true });
    if (partial) {
      const partialDir = path.join(work, `partial-${label}`);
      syncAll();
      start = process.hrtime.bigint();
      const one = await engine.restore(backup.id, partialDir, { partitions: ['p000'] });
      out.partial = { ms: hrMs(start), bytes: one.bytes, files: one.files };
      await rm(partialDir, { recursive: true });
    }
    out.backupId = backup.id;
  } finally {
    await engine.close();
  }
  if (keepStore) out.storeDir = storeDir;
  else await rm(storeDir, { recursive: true });
  return out;
}

/** One timed run of each full-copy variant; each leaves nothing behind but what `keep` names. */
async function fullRun(ctx, serial, { keepStore = false } = {}) {
  const { work, ksDir } = ctx;
  const cpDest = path.join(work, `cp-${serial}`);
  syncAll();
  const cp = { ms: timeCopy('-a', ksDir, cpDest), bytes: await treeBytes(cpDest) };
  await rm(cpDest, { recursive: true });
  const plain = await backupAndRestore(ctx, `zstd-${serial}`, { compression: 'zstd' }, { keepStore, partial: true });
  const sealed = await backupAndRestore(ctx, `enc-${serial}`, { compression: 'zstd', encryption: { key: randomBytes(32) } });
  return { cp, ...plain, backupEnc: sealed.backup, restoreEnc: sealed.restore };
}

/** Overwrites every 1/CHANGED_FRACTION-th entry with a new value and flushes: a new segment per partition. */
async function changeOnePercent(ks, plan) {
  const partitions = [];
  for (let p = 0; p < plan.partitions; p++) partitions.push(await ks.partition(`p${String(p).padStart(3, '0')}`));
  const step = Math.round(1 / CHANGED_FRACTION);
  let changed = 0;
  let batch = ks.batch();
  for (let round = 0; round < plan.rounds; round++) {
    for (let p = 0; p < plan.partitions; p++) {
      for (let i = 0; i < plan.perSegment; i += step) {
        const key = `p${String(p).padStart(3, '0')}-r${String(round).padStart(6, '0')}-${String(i).padStart(6, '0')}`;
        batch.put(partitions[p], key, valueFor(plan.entries + changed++, plan.valueBytes, plan.compressible));
        if (changed % 1000 === 0) {
          await batch.commit();
          batch = ks.batch();
        }
      }
    }
  }
  await batch.commit();
  await ks.flush();
  return changed;
}

async function incremental(ctx, report, table, plan, storeDir, firstId) {
  const { ks, BackupEngine } = ctx;
  const changed = await changeOnePercent(ks, plan);
  const engine = await BackupEngine.open(pathToFileURL(storeDir).href);
  try {
    syncAll();
    const start = process.hrtime.bigint();
    const second = await engine.backup(ks);
    const ms = hrMs(start);
    const before = await engine.info(firstId);
    const after = await engine.info(second.id);
    // What the second backup needs that the first did not hold, each content once.
    const known = new Set(before.files.map((f) => f.sha256));
    const fresh = new Map();
    for (const f of after.files) if (!known.has(f.sha256)) fresh.set(f.sha256, f);
    const newBytes = [...fresh.values()].reduce((n, f) => n + (f.stored ?? f.size), 0);
    const group = `${changed.toLocaleString('en-US')} of ${plan.entries.toLocaleString('en-US')} keys changed (1%), flushed`;
    table.add(group, NEW_FILES, {
      metrics: { files: fresh.size, mb: newBytes / MB, ms: undefined },
      samples: { files: [...fresh.values()].map((f) => ({ path: f.path, size: f.size })) },
    });
    table.add(group, INCREMENTAL, {
      metrics: { files: second.filesUploaded, mb: second.bytesUploaded / MB, ms },
      samples: { bytesUploaded: second.bytesUploaded, bytesTotal: second.bytesTotal },
      note: `backup holds ${second.files} files, ${formatBytes(second.bytesTotal)}`,
    });
    const ratio = second.bytesUploaded / newBytes;
    report.addGoal(`incremental backup uploads ≤ ${GOAL_INCREMENTAL_RATIO}× the bytes of the new files`, ratio <= GOAL_INCREMENTAL_RATIO, `${ratio.toFixed(2)}×: ${(second.bytesUploaded / MB).toFixed(1)} MB uploaded for ${(newBytes / MB).toFixed(1)} MB of new files`);
  } finally {
    await engine.close();
  }
}

async function s3Backup(ctx) {
  const { work, ks, BackupEngine } = ctx;
  const directory = path.join(work, 's3rver');
  await mkdir(directory);
  const server = await startS3Server(directory);
  try {
    const engine = await BackupEngine.open(server.url);
    try {
      syncAll();
      const start = process.hrtime.bigint();
      const backup = await engine.backup(ks);
      return { ms: hrMs(start), bytes: backup.bytesTotal, files: backup.files };
    } finally {
      await engine.close();
    }
  } finally {
    await server.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

function addRow(report, group, variant, samples) {
  const times = samples.map((s) => s.ms);
  const rates = samples.map((s) => s.bytes / MB / (s.ms / 1e3));
  report.add(group, variant, {
    metrics: {
      mbPerSecond: median(rates),
      seconds: median(times) / 1e3,
      rangeS: `${(Math.min(...times) / 1e3).toFixed(2)}–${(Math.max(...times) / 1e3).toFixed(2)}`,
      mb: samples[0].bytes / MB,
      runs: samples.length,
    },
    samples: { ms: times, bytes: samples.map((s) => s.bytes) },
  });
}

export async function run(options) {
  const quick = options.quick;
  const runs = options.runs ?? (quick ? 2 : 3);
  const totalBytes = quick ? 100 * MB : 1000 * MB;
  // About 16 MB per segment (the default memtable size), a few per partition.
  const segments = quick ? 8 : 64;
  const plan = planLayout({ segments, partitions: PARTITIONS, totalBytes, compressible: COMPRESSIBLE });
  const size = formatBytes(totalBytes);
  let Keyspace;
  let BackupEngine;
  try {
    ({ Keyspace } = await importDist('index.js'));
    ({ BackupEngine } = await importDist('backup/index.js'));
  } catch (error) {
    process.stdout.write(`!! backup suite UNAVAILABLE: ${error.message}\n`);
    return { ok: false };
  }
  const report = new Report({
    suite: 'backup',
    title: 'BackupEngine full backup and restore (zstd, and zstd + AES-256-GCM), stored bytes, partial restore, incremental upload volume, S3 over loopback',
    command: `npm run bench -- backup${quick ? ' --quick' : ''}${options.runs ? ` --runs ${options.runs}` : ''}`,
    baseline: CP_A,
    primary: 'mbPerSecond',
    ratioLabel: '× cp throughput (higher is better)',
    columns: [
      { key: 'mbPerSecond', label: 'median MB/s', digits: 1 },
      { key: 'seconds', label: 'median s', digits: 2 },
      { key: 'rangeS', label: 'min–max s' },
      { key: 'mb', label: 'MB', digits: 1 },
      { key: 'runs', label: 'runs', digits: 0 },
    ],
    options: { quick, runs, warmupRuns: 1, plan },
    footnotes: [
      `The keyspace: ${PARTITIONS} partitions, ${segments} segments of about ${formatBytes(plan.valueBytesTotal / segments)} (${plan.entries.toLocaleString('en-US')} ${plan.valueBytes}-byte values, each half random bytes and half one repeated byte: about 2:1 compressible), built through the public API with one explicit flush per round; FIFO compaction with a budget never reached, so nothing merges between the two backups of the incremental case.`,
      `Full backup and restore: median of ${runs} runs after 1 discarded warm-up, each into a fresh store directory (file:// on the same ext4 disk) and a fresh restore directory; concurrency 4 (the default). Throughput is the bytes of the keyspace's files (the backup's bytesTotal; for cp, the copied tree) over wall time. cp -a copies the keyspace directory and is followed by a whole-system \`sync\`; the file store fsyncs every object itself. \`sync\` runs before each timed step; sources are warm in the page cache. The cp row of each group is the same measurement.`,
      'Backup (store format 2) = checkpoint inside the keyspace (hard links), then ONE read per file on the worker threads that hashes it, checks its block/record checksums, compresses each 1 MiB frame (zstd level 3, raw when it does not shrink) and, for the encrypted rows, seals it with AES-256-GCM, writing the object beside its final name in the store; fsync, rename, manifest last. Restore = look up every object (a head-only verify), decode every object on the worker threads (decrypt, decompress, hash) straight into the restored file, then fsync every file in one batch and every directory, rename the staged directory into place. zstd needs Node >= 22.15: run this suite under Node 24 (on Node 20 the store falls back to gzip).',
      'Partial restore: the same backup restored with partitions: [p000] (one of four equal partitions: its segments and MANIFEST, keyspace.json and the journals); its row is compared by time with the full restore of the same run (lower is better).',
      'Incremental: after the full runs, every 100th key is overwritten with a new value and the keyspace flushed; a second backup goes into the store of the last full run. “new files” are the distinct contents the second manifest lists and the first does not (new segments, journals, MANIFEST files), from the two manifests.',
      's3rver: the same full backup into a fresh bucket of s3rver (a Node S3 emulator, in a child process, objects on the same disk) on 127.0.0.1; one run, report only: s3rver itself is the bottleneck, not a model of S3.',
    ],
  });
  const incrementalTable = report.table({
    title: 'Incremental backup after changing 1% of the keys',
    baseline: NEW_FILES,
    primary: 'mb',
    ratioLabel: '× new bytes (lower is better)',
    columns: [
      { key: 'files', label: 'files', digits: 0 },
      { key: 'mb', label: 'MB', digits: 2 },
      { key: 'ms', label: 'backup ms', digits: 0 },
    ],
  });

  const work = await scratchDir('backup');
  const ksDir = path.join(work, 'ks');
  process.stdout.write(`backup benchmark: ${size} keyspace, ${runs} runs + 1 warm-up; scratch ${path.relative(repoRoot, work)}\n`);
  let ks;
  let ok = true;
  try {
    const buildStart = process.hrtime.bigint();
    ks = await buildKeyspace(Keyspace, ksDir, plan, { compaction: NO_MERGES });
    process.stdout.write(`  built ${size} in ${(hrMs(buildStart) / 1e3).toFixed(1)} s\n`);
    const ctx = { work, ks, ksDir, BackupEngine };
    const samples = [];
    let last;
    for (let r = 0; r <= runs; r++) {
      last = await fullRun(ctx, r, { keepStore: r === runs });
      if (r > 0) samples.push(last);
      process.stdout.write(`  full backup/restore: run ${r === 0 ? 'warm-up' : `${r}/${runs}`} done\n`);
    }
    const backupGroup = `full backup, ${size}`;
    const restoreGroup = `full restore, ${size}`;
    addRow(report, backupGroup, CP_A, samples.map((s) => s.cp));
    addRow(report, backupGroup, BACKUP, samples.map((s) => s.backup));
    addRow(report, backupGroup, BACKUP_ENC, samples.map((s) => s.backupEnc));
    addRow(report, restoreGroup, CP_A, samples.map((s) => s.cp));
    addRow(report, restoreGroup, RESTORE, samples.map((s) => s.restore));
    addRow(report, restoreGroup, RESTORE_ENC, samples.map((s) => s.restoreEnc));
    const partialGroup = `restore of one of ${PARTITIONS} equal partitions, ${size}`;
    addRow(report, partialGroup, FULL_RESTORE_TIME, samples.map((s) => s.restore));
    addRow(report, partialGroup, PARTIAL, samples.map((s) => s.partial));

    const s3Group = `full backup to S3, ${size}`;
    try {
      process.stdout.write('  full backup to s3rver\n');
      const s3 = await s3Backup(ctx);
      addRow(report, s3Group, CP_A, samples.map((s) => s.cp));
      addRow(report, s3Group, S3_BACKUP, [s3]);
    } catch (error) {
      ok = false;
      report.addUnavailable(s3Group, S3_BACKUP, error.message);
    }

    process.stdout.write('  incremental backup after a 1% change\n');
    await incremental(ctx, report, incrementalTable, plan, last.storeDir, last.backupId);

    for (const [group, variant, what, goal] of [
      [backupGroup, BACKUP, 'full backup (zstd)', GOAL_THROUGHPUT_RATIO],
      [restoreGroup, RESTORE, 'full restore (zstd)', GOAL_THROUGHPUT_RATIO],
      [backupGroup, BACKUP_ENC, 'full backup (zstd + encryption)', GOAL_ENCRYPTED_RATIO],
      [restoreGroup, RESTORE_ENC, 'full restore (zstd + encryption)', GOAL_ENCRYPTED_RATIO],
    ]) {
      const ratio = report.value(group, variant) / report.value(group, CP_A);
      report.addGoal(`${what} throughput ≥ ${goal}× cp -a + sync`, ratio >= goal, `${ratio.toFixed(2)}×`);
    }
    const stored = median(samples.map((s) => s.backup.stored / s.backup.bytes));
    report.addGoal(`stored bytes ≤ ${GOAL_STORED_RATIO}× the keyspace (half-compressible values, zstd)`, stored <= GOAL_STORED_RATIO, `${stored.toFixed(2)}×: ${(samples[0].backup.stored / MB).toFixed(0)} MB stored for ${(samples[0].backup.bytes / MB).toFixed(0)} MB`);
    const partialRatio = median(samples.map((s) => s.partial.ms)) / median(samples.map((s) => s.restore.ms));
    report.addGoal(`partial restore of 1 of ${PARTITIONS} partitions ≤ ${GOAL_PARTIAL_RATIO}× the time of a full restore`, partialRatio <= GOAL_PARTIAL_RATIO, `${partialRatio.toFixed(2)}×`);
  } finally {
    await ks?.close();
    await removeScratch(work);
  }
  await report.finish(machineInfo(path.join(benchDir, '.work'), repoRoot));
  return { ok };
}
