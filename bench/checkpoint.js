// The `checkpoint` benchmark (issue 5): backupTo latency against segment count and data
// volume, beside the C link+fsync floor, cp -al, a full copy and lmdb's backup() in the
// same run; then the write pause a flat-out writer and reader see while checkpoints are
// taken. Sequential by design: one measurement at a time, in this process.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { VALUE_BYTES, buildKeyspace, buildLmdb, mirrorDirs, planLayout, treeBytes, walkTree } from './lib/keyspace-builder.js';
import { LatencyRecorder, summarize } from './lib/latency.js';
import { machineInfo } from './lib/machine.js';
import { benchDir, importDist, removeScratch, repoRoot, scratchDir } from './lib/paths.js';
import { ensurePeers } from './lib/peers.js';
import { Report, median } from './lib/report.js';
import { buildFloor, hrMs, runFloor, syncAll, timeCopy } from './lib/shell-baselines.js';
import { lineChartSvg } from './lib/svg-chart.js';

const FLOOR = 'floor: C link(2) + dir fsync';
const BACKUP_TO = 'ks.backupTo()';
const CP_AL = 'cp -al + sync';
const CP_A = 'cp -a (full copy) + sync';
const LMDB = 'lmdb backup() + sync';
const PARTITIONS = 10;
// FIFO never rewrites a segment and this budget is never reached, so the segments built
// stay exactly as built while they are measured.
const NO_MERGES = { strategy: 'fifo', maxBytes: 2 ** 50 };
const MB = 1e6;

const GOAL_FLOOR_RATIO = 1.25;
const GOAL_VOLUME_RATIO = 1.2;
const GOAL_FULL_COPY_SPEEDUP = 50;
const GOAL_P999_RATIO = 1.5;
const GOAL_PAUSE_US = 1000;

const formatCount = (n) => n.toLocaleString('en-US');
const formatBytes = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.round(n / MB)} MB`);

function cases(quick) {
  const bySegments = (quick ? [100, 1000] : [100, 1000, 10000]).map((segments) => ({
    kind: 'segments',
    group: `${formatCount(segments)} segments`,
    plan: planLayout({ segments, partitions: PARTITIONS, totalBytes: segments * VALUE_BYTES }),
  }));
  const volumes = quick ? [20 * MB, 200 * MB] : [100 * MB, 2000 * MB];
  const byVolume = volumes.map((totalBytes, i) => ({
    kind: i === 0 ? 'small' : 'large',
    group: `${formatBytes(totalBytes)}, 1,000 segments`,
    plan: planLayout({ segments: 1000, partitions: PARTITIONS, totalBytes }),
  }));
  return [...bySegments, ...byVolume];
}

/**
 * What a checkpoint of a quiet keyspace links (every segment and journal file) and the
 * directories it has: the floor's work, in the same layout.
 */
async function linkableFiles(ksDir) {
  const tree = await walkTree(ksDir);
  return { files: tree.files.filter((f) => f.rel.endsWith('.sst') || f.rel.endsWith('.jnl')), dirs: tree.dirs };
}

/** The variants of one case; each `measure(serial)` returns { ms, extra? } and leaves nothing behind. */
function variants(c, work, floorBinary) {
  const dest = (serial) => path.join(work, `dest-${serial}`);
  return [
    {
      name: FLOOR,
      async measure(serial) {
        // Listed afresh each time: every backupTo seals the active journal, and journal GC
        // deletes the sealed one once it is released.
        const { files, dirs } = await linkableFiles(c.ksDir);
        const root = dest(serial);
        await mirrorDirs(dirs, c.ksDir, root);
        const pairs = files.map((f) => `${path.join(c.ksDir, f.rel)}\t${path.join(root, f.rel)}\n`).join('');
        const pairsFile = `${root}.pairs`;
        const dirsFile = `${root}.dirs`;
        await writeFile(pairsFile, pairs);
        await writeFile(dirsFile, dirs.map((d) => `${path.join(root, path.relative(c.ksDir, d))}\n`).join(''));
        syncAll();
        const ms = runFloor(floorBinary, pairsFile, dirsFile, files.length);
        await rm(root, { recursive: true });
        await rm(pairsFile);
        await rm(dirsFile);
        return { ms };
      },
    },
    {
      name: BACKUP_TO,
      async measure(serial) {
        syncAll();
        const start = process.hrtime.bigint();
        const result = await c.ks.backupTo(dest(serial));
        const ms = hrMs(start);
        await rm(dest(serial), { recursive: true });
        if (result.filesCopied !== 0) throw new Error(`backupTo copied ${result.filesCopied} files: scratch and keyspace on different devices?`);
        return { ms, extra: { writePauseUs: result.writePauseMicros, files: result.filesLinked } };
      },
    },
    {
      name: CP_AL,
      async measure(serial) {
        syncAll();
        const ms = timeCopy('-al', c.ksDir, dest(serial));
        await rm(dest(serial), { recursive: true });
        return { ms };
      },
    },
    {
      name: CP_A,
      async measure(serial) {
        syncAll();
        const ms = timeCopy('-a', c.ksDir, dest(serial));
        await rm(dest(serial), { recursive: true });
        return { ms };
      },
    },
    {
      name: LMDB,
      async measure(serial) {
        // lmdb's env copy writes <dir>/data.mdb into an existing directory.
        await mkdir(dest(serial));
        syncAll();
        const start = process.hrtime.bigint();
        await c.lmdb.backup(dest(serial));
        syncAll();
        const ms = hrMs(start);
        await rm(dest(serial), { recursive: true });
        return { ms };
      },
    },
  ];
}

async function measureCase(report, c, ctx) {
  const { work, floorBinary, Keyspace, lmdbOpen } = ctx;
  const { plan } = c;
  c.ksDir = path.join(work, 'ks');
  const lmdbDir = path.join(work, 'lmdb');
  process.stdout.write(`  ${c.group}: building (${formatCount(plan.partitions)} partitions × ${formatCount(plan.rounds)} flushes, ${formatCount(plan.entries)} values of ${plan.valueBytes} B)\n`);
  const buildStart = process.hrtime.bigint();
  c.ks = await buildKeyspace(Keyspace, c.ksDir, plan, { compaction: NO_MERGES });
  const buildMs = hrMs(buildStart);
  try {
    c.lmdb = lmdbOpen === undefined ? undefined : await buildLmdb(lmdbOpen, lmdbDir, plan);
    try {
      const tree = await walkTree(c.ksDir);
      const ksBytes = tree.files.reduce((n, f) => n + f.bytes, 0);
      const lmdbBytes = c.lmdb === undefined ? undefined : await treeBytes(lmdbDir);
      const all = variants(c, work, floorBinary).filter((v) => v.name !== LMDB || c.lmdb !== undefined);
      // A full copy of gigabytes per run dominates the suite's time; three runs suffice there.
      const runs = plan.valueBytesTotal >= 1e9 ? Math.min(ctx.runs, 3) : ctx.runs;
      const samples = new Map(all.map((v) => [v.name, []]));
      let serial = 0;
      for (let r = 0; r <= runs; r++) {
        for (let k = 0; k < all.length; k++) {
          const v = all[(k + r) % all.length];
          const measured = await v.measure(serial++);
          if (r > 0) samples.get(v.name).push(measured);
        }
        process.stdout.write(`  ${c.group}: run ${r === 0 ? 'warm-up' : `${r}/${runs}`} done\n`);
      }
      const floorMs = samples.get(FLOOR).map((m) => m.ms);
      for (const v of all) {
        const s = samples.get(v.name);
        const times = s.map((m) => m.ms);
        const pauses = s.map((m) => m.extra?.writePauseUs).filter((x) => x !== undefined);
        const lmdbRow = v.name === LMDB;
        report.add(c.group, v.name, {
          metrics: {
            totalMs: median(times),
            rangeMs: `${Math.min(...times).toFixed(1)}–${Math.max(...times).toFixed(1)}`,
            pairedRatio: median(times.map((t, i) => t / floorMs[i])),
            files: lmdbRow ? 1 : (s[0].extra?.files ?? (await linkableFiles(c.ksDir)).files.length),
            diskMB: (lmdbRow ? lmdbBytes : ksBytes) / MB,
            pauseUs: pauses.length > 0 ? median(pauses) : undefined,
          },
          samples: { ms: times, ...(pauses.length > 0 ? { writePauseUs: pauses } : {}) },
          note: v.name === BACKUP_TO ? `keyspace built in ${(buildMs / 1e3).toFixed(1)} s` : '',
        });
      }
      if (c.lmdb === undefined) report.addUnavailable(c.group, LMDB, ctx.lmdbReason);
    } finally {
      await c.lmdb?.close();
      await rm(lmdbDir, { recursive: true, force: true });
    }
  } finally {
    await c.ks.close();
    await rm(c.ksDir, { recursive: true, force: true });
  }
}

/**
 * Awaited operations flat out, one after another, each timed: the latency a caller sees,
 * recorded under whichever label is current when the operation starts. Each starts from
 * its own macrotask, as a request handler's would: a buffered put can resolve in a
 * microtask, and a bare `while (…) await put()` then starves timers and I/O callbacks
 * (the checkpoint's among them) for seconds. The yield is not timed.
 * Returns a stop() that resolves once the loop has finished its current operation.
 */
function startLoop(operation, labels, currentLabel) {
  const recorders = Object.fromEntries(labels.map((l) => [l, new LatencyRecorder()]));
  let running = true;
  const done = (async () => {
    let i = 0;
    while (running) {
      const recorder = recorders[currentLabel()];
      const start = performance.now();
      await operation(i++);
      recorder?.push((performance.now() - start) * 1e3);
      await setImmediate();
    }
  })();
  return {
    recorders,
    async stop() {
      running = false;
      await done;
    },
  };
}

const PAUSE_KEYS = 1_000_000;
const PRELOAD_KEYS = 200_000;
const pauseKey = (n) => `key${String(n).padStart(10, '0')}`;

/**
 * A writer and a reader at full speed for the whole measurement, which alternates
 * slices: one backupTo call ("with"), then as long without one, and the other way round
 * in the next pair. Interleaving spreads the flushes and compactions the writer causes
 * evenly over both labels (run back to back, the later phase meets a bigger tree); the
 * alternation puts a checkpoint's after-effects (unpinning, journal GC) on either label
 * equally often.
 */
async function measurePause(Keyspace, work, checkpoints) {
  const dir = path.join(work, 'pause-ks');
  // Default options (leveled compaction, 16 MiB memtables): flushes and compactions run
  // during the measurement, as they would in a real service.
  const ks = await Keyspace.open(dir);
  const value = Buffer.alloc(100, 'v');
  let seed = 12345;
  // A fixed-seed LCG: every run draws the same key sequence, no Math.random state.
  const nextRandom = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const labels = ['warm-up', 'with', 'without'];
  let label = 'warm-up';
  const elapsed = { with: 0, without: 0 };
  const results = [];
  let lastCheckpointMs = 0;
  try {
    const p = await ks.partition('data');
    for (let i = 0; i < PRELOAD_KEYS; i += 1000) {
      const batch = ks.batch();
      for (let k = i; k < i + 1000; k++) batch.put(p, pauseKey(k * (PAUSE_KEYS / PRELOAD_KEYS)), value);
      await batch.commit();
    }
    await ks.flush();
    const writer = startLoop(() => p.put(pauseKey(nextRandom() % PAUSE_KEYS), value), labels, () => label);
    const reader = startLoop(() => p.get(pauseKey((nextRandom() % PRELOAD_KEYS) * (PAUSE_KEYS / PRELOAD_KEYS))), labels, () => label);
    try {
      await sleep(1000);
      for (let i = 0; i < checkpoints; i++) {
        const checkpoint = async () => {
          label = 'with';
          const start = performance.now();
          results.push(await ks.backupTo(path.join(work, `pause-cp-${i}`)));
          lastCheckpointMs = performance.now() - start;
          elapsed.with += lastCheckpointMs;
          return lastCheckpointMs;
        };
        const quiet = async (ms) => {
          label = 'without';
          await sleep(ms);
          elapsed.without += ms;
        };
        if (i % 2 === 0) await quiet(await checkpoint());
        else {
          // The quiet slice comes first, as long as the previous checkpoint took.
          await quiet(lastCheckpointMs);
          await checkpoint();
        }
      }
    } finally {
      label = 'warm-up';
      await writer.stop();
      await reader.stop();
    }
    const stats = ks.stats();
    const side = (l) => ({ writer: writer.recorders[l].sorted(), reader: reader.recorders[l].sorted(), ms: elapsed[l] });
    return {
      with: side('with'),
      without: side('without'),
      pauses: Float64Array.from(results.map((r) => r.writePauseMicros)).sort(),
      durations: results.map((r) => r.durationMs),
      segmentsAtEnd: Object.values(stats.partitions).reduce((n, st) => n + st.segments, 0),
    };
  } finally {
    await ks.close();
    await rm(dir, { recursive: true, force: true });
    for (let i = 0; i < checkpoints; i++) await rm(path.join(work, `pause-cp-${i}`), { recursive: true, force: true });
  }
}

function addPauseRows(table, pause, checkpoints) {
  const withName = `${checkpoints} checkpoints in a row`;
  for (const [group, key] of [
    ['writer: awaited put', 'writer'],
    ['reader: awaited get', 'reader'],
  ]) {
    for (const [variant, data] of [
      ['no checkpoints', pause.without],
      [withName, pause.with],
    ]) {
      const s = summarize(data[key]);
      table.add(group, variant, {
        metrics: { ops: s.count, seconds: data.ms / 1e3, p50: s.p50, p99: s.p99, p999: s.p999, max: s.max },
        samples: { summary: s },
      });
    }
  }
  const s = summarize(pause.pauses);
  table.add('backupTo writePauseMicros', withName, {
    metrics: { ops: s.count, seconds: pause.with.ms / 1e3, p50: s.p50, p99: s.p99, p999: s.p999, max: s.max },
    samples: { writePauseUs: [...pause.pauses], durationMs: pause.durations },
    note: `median backupTo ${median(pause.durations).toFixed(1)} ms; ${pause.segmentsAtEnd} segment${pause.segmentsAtEnd === 1 ? '' : 's'} in the tree at the end`,
  });
  return withName;
}

async function loadLmdb() {
  try {
    ensurePeers();
    const { open } = await import('lmdb');
    return { open };
  } catch (error) {
    return { reason: `lmdb could not load (${error.message})` };
  }
}

export async function run(options) {
  const quick = options.quick;
  const runs = options.runs ?? (quick ? 3 : 5);
  const checkpoints = quick ? 50 : 100;
  const all = cases(quick);
  const work = await scratchDir('checkpoint');
  let Keyspace;
  try {
    ({ Keyspace } = await importDist('index.js'));
  } catch (error) {
    process.stdout.write(`!! checkpoint suite UNAVAILABLE: ${error.message}\n`);
    await removeScratch(work);
    return { ok: false };
  }
  const lmdb = await loadLmdb();
  if (lmdb.reason !== undefined) process.stdout.write(`!! ${LMDB} UNAVAILABLE: ${lmdb.reason}\n`);
  const floorBinary = buildFloor(work);
  const command = `npm run bench -- checkpoint${quick ? ' --quick' : ''}${options.runs ? ` --runs ${options.runs}` : ''}`;
  const small = all.find((c) => c.kind === 'small');
  const large = all.find((c) => c.kind === 'large');
  const report = new Report({
    suite: 'checkpoint',
    title: 'online checkpoint (ks.backupTo) latency and the write pause it causes',
    command,
    baseline: FLOOR,
    primary: 'totalMs',
    ratioLabel: '× floor (lower is better)',
    columns: [
      { key: 'totalMs', label: 'median ms', digits: 1 },
      { key: 'rangeMs', label: 'min–max ms' },
      { key: 'pairedRatio', label: 'paired × floor', digits: 2 },
      { key: 'files', label: 'files', digits: 0 },
      { key: 'diskMB', label: 'MB on disk', digits: 1 },
      { key: 'pauseUs', label: 'write pause µs', digits: 0 },
    ],
    options: { quick, runs, warmupRuns: 1, partitions: PARTITIONS, checkpoints, cases: all.map((c) => ({ group: c.group, ...c.plan })) },
    footnotes: [
      `Keyspaces are built through the public API: ${PARTITIONS} partitions, one batch of puts per partition and an explicit ks.flush() per round, so each round adds exactly one segment per partition (the count is checked). Compaction is FIFO with a 1 PB budget (it never rewrites a segment, and never drops one below that budget), and the memtable limit is raised above a round's data, so nothing merges or flushes on its own while measuring. Values are ${VALUE_BYTES} random bytes (lmdb stores 4,096-byte values on two pages).`,
      `Median of ${runs} runs (3 for cases of 1 GB or more) after 1 discarded warm-up; variants interleave in a rotating order; \`sync\` runs before each timed measurement. “paired × floor” is the median over runs of (variant ÷ floor in the same run).`,
      'The floor (bench/floor.c, timed inside the C program) links every segment and journal file of the keyspace into the same directory layout, created before its clock starts, then fsyncs every directory. backupTo also creates those directories, writes a manifest and CURRENT per partition and keyspace.json, fsyncs them, renames the staging directory and fsyncs the parent.',
      'cp -al / cp -a copy the whole keyspace directory, followed by a whole-system `sync`: the only way a shell user makes the result durable. lmdb: the same entries (same keys, same values) in one lmdb environment, `db.backup(dir)` (a consistent env copy) followed by `sync`. The sources are warm in the page cache, which favours the copies.',
      `Write pause: one partition preloaded with ${formatCount(PRELOAD_KEYS)} keys (100-byte values, default options: leveled compaction, 16 MiB memtables); a writer doing awaited puts of random keys and a reader doing awaited gets of preloaded keys run flat out in this process throughout, while ${checkpoints} backupTo calls run one after another, each followed (or, every other one, preceded) by a quiet slice as long as the checkpoint took; each operation counts under the slice it started in, so both columns cover the same total time and the same background flushes and compactions. A 1 s warm-up of both loops comes first. Every operation starts from its own macrotask (setImmediate between operations, untimed; a bare awaited-put loop starves timers and I/O callbacks). Latencies are per operation (performance.now()), µs.`,
    ],
  });
  const pauseTable = report.table({
    title: 'Write pause: put/get latency with and without checkpoints (µs)',
    baseline: 'no checkpoints',
    primary: 'p999',
    ratioLabel: 'p99.9 × without (lower is better)',
    columns: [
      { key: 'ops', label: 'ops', digits: 0 },
      { key: 'seconds', label: 's', digits: 1 },
      { key: 'p50', label: 'p50', digits: 1 },
      { key: 'p99', label: 'p99', digits: 1 },
      { key: 'p999', label: 'p99.9', digits: 1 },
      { key: 'max', label: 'max', digits: 0 },
    ],
  });

  process.stdout.write(`checkpoint benchmark: ${all.map((c) => c.group).join('; ')}; ${runs} runs + 1 warm-up; scratch ${path.relative(repoRoot, work)}\n`);
  const ctx = { work, floorBinary, Keyspace, lmdbOpen: lmdb.open, lmdbReason: lmdb.reason, runs };
  let pause;
  try {
    for (const c of all) await measureCase(report, c, ctx);
    if (quick) report.addUnavailable(`${formatBytes(2000 * MB)}, 1,000 segments`, BACKUP_TO, 'not run with --quick (its stand-in is the largest case above)', 'SKIPPED');
    process.stdout.write(`  write pause: ${checkpoints} checkpoints under a writer and a reader\n`);
    pause = await measurePause(Keyspace, work, checkpoints);
  } finally {
    await removeScratch(work);
  }
  const withName = addPauseRows(pauseTable, pause, checkpoints);
  judgeGoals(report, pauseTable, { all, small, large, pause, withName, quick });
  await writeChart(report, all);
  await report.finish(machineInfo(path.join(benchDir, '.work'), repoRoot));
  return { ok: lmdb.reason === undefined };
}

function judgeGoals(report, pauseTable, { all, small, large, pause, withName, quick }) {
  const bySegments = all.filter((c) => c.kind === 'segments');
  const most = bySegments[bySegments.length - 1];
  const fewest = bySegments[0];
  const atMost = report.value(most.group, BACKUP_TO) / report.value(most.group, FLOOR);
  const overhead = report.value(fewest.group, BACKUP_TO) - report.value(fewest.group, FLOOR);
  report.addGoal(
    `backupTo ≤ ${GOAL_FLOOR_RATIO}× the floor at ${most.group}${quick ? ' (10,000 with the full run)' : ''}`,
    atMost <= GOAL_FLOOR_RATIO,
    `${atMost.toFixed(2)}×; fixed overhead at ${fewest.group}: ${overhead.toFixed(1)} ms over the floor's ${report.value(fewest.group, FLOOR).toFixed(1)} ms`,
  );
  const volumeRatio = report.value(large.group, BACKUP_TO) / report.value(small.group, BACKUP_TO);
  report.addGoal(
    `backupTo time at ${large.group} within ${GOAL_VOLUME_RATIO}× of ${small.group}${quick ? ' (2 GB vs 100 MB with the full run)' : ''}`,
    volumeRatio <= GOAL_VOLUME_RATIO,
    `${volumeRatio.toFixed(2)}×`,
  );
  const speedup = report.value(large.group, CP_A) / report.value(large.group, BACKUP_TO);
  report.addGoal(`backupTo ≥ ${GOAL_FULL_COPY_SPEEDUP}× faster than a full copy at ${large.group}`, speedup >= GOAL_FULL_COPY_SPEEDUP, `${speedup.toFixed(1)}×`);
  const writerRatio = pauseTable.value('writer: awaited put', withName) / pauseTable.value('writer: awaited put', 'no checkpoints');
  report.addGoal(`writer put p99.9 with checkpoints ≤ ${GOAL_P999_RATIO}× without`, writerRatio <= GOAL_P999_RATIO, `${writerRatio.toFixed(2)}×`);
  const maxPause = pause.pauses[pause.pauses.length - 1];
  report.addGoal(`every write pause < ${GOAL_PAUSE_US / 1000} ms`, maxPause < GOAL_PAUSE_US, `max ${maxPause.toFixed(0)} µs, p99 ${summarize(pause.pauses).p99.toFixed(0)} µs over ${pause.pauses.length} checkpoints`);
  const readerRatio = pauseTable.value('reader: awaited get', withName) / pauseTable.value('reader: awaited get', 'no checkpoints');
  const readerMax = [pauseTable.value('reader: awaited get', withName, 'max'), pauseTable.value('reader: awaited get', 'no checkpoints', 'max')];
  report.addGoal(
    `readers never wait: reader get p99.9 with checkpoints ≤ ${GOAL_P999_RATIO}× without`,
    readerRatio <= GOAL_P999_RATIO,
    `${readerRatio.toFixed(2)}×; max ${readerMax[0].toFixed(0)} µs with vs ${readerMax[1].toFixed(0)} µs without`,
  );
}

async function writeChart(report, all) {
  const bySegments = all.filter((c) => c.kind === 'segments');
  const series = [BACKUP_TO, FLOOR, CP_AL].map((name) => ({
    name,
    points: bySegments.map((c) => [c.plan.segments, report.value(c.group, name)]).filter(([, y]) => y !== undefined),
  }));
  const svg = lineChartSvg({ title: 'Checkpoint latency against segment count (median)', xLabel: 'segments (log scale)', yLabel: 'milliseconds', series });
  await mkdir(path.join(benchDir, 'results'), { recursive: true });
  await writeFile(path.join(benchDir, 'results', 'checkpoint-latency.svg'), svg);
  report.addArtifact('results/checkpoint-latency.svg', 'backupTo, the floor and cp -al + sync against segment count');
}
