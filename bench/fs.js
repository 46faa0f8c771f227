// The `fs` benchmark (issue 2): hard-link N small files into a fresh tree, then fsync the
// destination directories; the addon against the pure-TS seam, fs.promises loops, cp -al
// and a C floor, all in one run. Sequential by design: one measurement at a time.
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { link, mkdir, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { machineInfo } from './lib/machine.js';
import { benchDir, importDist, removeScratch, repoRoot, scratchDir } from './lib/paths.js';
import { Report, median } from './lib/report.js';

const FLOOR = 'floor: C link(2) + fsync loop';
const FLOOR_WALL = 'floor: same, whole process (wall)';
// The addon fans a batch out over as many threads as libuv's pool has (default 4); this
// row shows what the same syscalls cost with that parallelism and nothing else.
const FLOOR_THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const FLOOR_PARALLEL = `floor: same on ${FLOOR_THREADS} threads`;
const NATIVE = 'NativeFileSystem (addon linkBatch + syncDirs)';
const BINDING = 'addon binding called directly';
const NODE_FS = 'NodeFileSystem (pure TS)';
const SEQUENTIAL = 'fs.promises.link, awaited one by one';
const PARALLEL = 'fs.promises.link, Promise.all';
const CP = 'cp -al SRC/. DST + sync';
const GOAL_RATIO = 1.2;

const hrMicros = (start) => Number(process.hrtime.bigint() - start) / 1e3;

// A dirty page cache left by the previous case would be flushed by whichever variant
// fsyncs first; start every timed measurement from a clean one.
function syncAll() {
  execFileSync('sync');
}

function buildFloor(work) {
  const binary = path.join(work, 'floor');
  execFileSync('cc', ['-O2', '-pthread', '-o', binary, path.join(benchDir, 'floor.c')], { stdio: 'inherit' });
  return binary;
}

function layoutDirs(root, dirCount) {
  if (dirCount === 1) return [root];
  return Array.from({ length: dirCount }, (_, d) => path.join(root, `d${String(d).padStart(2, '0')}`));
}

function fileName(i) {
  return `f${String(i).padStart(6, '0')}`;
}

async function createSources(root, count, dirCount) {
  const dirs = layoutDirs(root, dirCount);
  await mkdir(root, { recursive: true });
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  const files = Array.from({ length: count }, (_, i) => path.join(dirs[i % dirCount], fileName(i)));
  const chunk = 256;
  for (let i = 0; i < files.length; i += chunk) {
    await Promise.all(
      files.slice(i, i + chunk).map((file, j) => writeFile(file, `cairn fs benchmark source ${i + j}\n`)),
    );
  }
  return files;
}

async function syncDirWithPromises(dir) {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Loads the library's file systems from dist/; a missing piece becomes a reason string. */
async function loadFileSystems() {
  const loaded = { native: undefined, binding: undefined, node: undefined, reasons: {} };
  try {
    const { NodeFileSystem } = await importDist('fs/node-file-system.js');
    loaded.node = new NodeFileSystem();
  } catch (error) {
    loaded.reasons.node = error.message;
  }
  try {
    const bindingModule = await importDist('fs/native-binding.js');
    const binding = bindingModule.loadNative();
    if (binding === undefined) {
      const cause = bindingModule.nativeLoadError?.();
      const why =
        process.env.CAIRN_NATIVE === '0'
          ? 'CAIRN_NATIVE=0 is set'
          : `the addon failed to load${cause instanceof Error ? ` (${cause.message})` : ''}`;
      throw new Error(`${why}; build it with \`npm run build:native\` (or \`npm run prebuild\`)`);
    }
    loaded.binding = binding;
    const { NativeFileSystem } = await importDist('fs/native-file-system.js');
    loaded.native = new NativeFileSystem();
    if (loaded.native.kind !== 'native') throw new Error(`NativeFileSystem reports kind '${loaded.native.kind}'`);
  } catch (error) {
    loaded.reasons.native = error.message;
    if (loaded.binding === undefined) loaded.reasons.binding = error.message;
  }
  return loaded;
}

/**
 * The variants. Each `measure` gets the prepared case (pairs, destination dirs, list
 * files for the floor) and returns { rowName: { totalUs, linkUs, syncUs } }.
 */
function variants(fileSystems, floorBinary) {
  const viaSeam = (fs) => async (c) => {
    const start = process.hrtime.bigint();
    await fs.linkBatch(c.pairs);
    const linkUs = hrMicros(start);
    await fs.syncDirs(c.dirs);
    const totalUs = hrMicros(start);
    return { totalUs, linkUs, syncUs: totalUs - linkUs };
  };
  return [
    {
      rows: [FLOOR, FLOOR_WALL],
      async measure(c) {
        const start = process.hrtime.bigint();
        const out = execFileSync(floorBinary, [c.pairsFile, c.dirsFile], { encoding: 'utf8' });
        const wallUs = hrMicros(start);
        const inner = JSON.parse(out);
        if (inner.links !== c.pairs.length) throw new Error(`floor linked ${inner.links} of ${c.pairs.length}`);
        return {
          [FLOOR]: { totalUs: inner.totalUs, linkUs: inner.linkUs, syncUs: inner.syncUs },
          [FLOOR_WALL]: { totalUs: wallUs },
        };
      },
    },
    {
      rows: [FLOOR_PARALLEL],
      async measure(c) {
        const out = execFileSync(floorBinary, [c.pairsFile, c.dirsFile, String(FLOOR_THREADS)], { encoding: 'utf8' });
        const inner = JSON.parse(out);
        if (inner.links !== c.pairs.length) throw new Error(`floor linked ${inner.links} of ${c.pairs.length}`);
        return { [FLOOR_PARALLEL]: { totalUs: inner.totalUs, linkUs: inner.linkUs, syncUs: inner.syncUs } };
      },
    },
    {
      rows: [NATIVE],
      unavailable: fileSystems.native === undefined ? fileSystems.reasons.native : undefined,
      async measure(c) {
        return { [NATIVE]: await viaSeam(fileSystems.native)(c) };
      },
    },
    {
      rows: [BINDING],
      unavailable: fileSystems.binding === undefined ? fileSystems.reasons.binding : undefined,
      async measure(c) {
        const { binding } = fileSystems;
        const start = process.hrtime.bigint();
        await binding.linkBatch(c.froms, c.tos, false);
        const linkUs = hrMicros(start);
        await binding.syncDirs(c.dirs, false);
        const totalUs = hrMicros(start);
        return { [BINDING]: { totalUs, linkUs, syncUs: totalUs - linkUs } };
      },
    },
    {
      rows: [NODE_FS],
      unavailable: fileSystems.node === undefined ? fileSystems.reasons.node : undefined,
      async measure(c) {
        return { [NODE_FS]: await viaSeam(fileSystems.node)(c) };
      },
    },
    {
      rows: [SEQUENTIAL],
      async measure(c) {
        const start = process.hrtime.bigint();
        for (const [from, to] of c.pairs) await link(from, to);
        const linkUs = hrMicros(start);
        for (const dir of c.dirs) await syncDirWithPromises(dir);
        const totalUs = hrMicros(start);
        return { [SEQUENTIAL]: { totalUs, linkUs, syncUs: totalUs - linkUs } };
      },
    },
    {
      rows: [PARALLEL],
      async measure(c) {
        const start = process.hrtime.bigint();
        await Promise.all(c.pairs.map(([from, to]) => link(from, to)));
        const linkUs = hrMicros(start);
        await Promise.all(c.dirs.map(syncDirWithPromises));
        const totalUs = hrMicros(start);
        return { [PARALLEL]: { totalUs, linkUs, syncUs: totalUs - linkUs } };
      },
    },
    {
      rows: [CP],
      async measure(c) {
        const start = process.hrtime.bigint();
        const cp = spawnSync('cp', ['-al', `${c.srcRoot}/.`, c.dstRoot], { encoding: 'utf8' });
        if (cp.status !== 0) throw new Error(`cp -al failed: ${cp.stderr}`);
        const linkUs = hrMicros(start);
        syncAll();
        const totalUs = hrMicros(start);
        return { [CP]: { totalUs, linkUs, syncUs: totalUs - linkUs } };
      },
    },
  ];
}

/** Builds the destination tree (untimed) and the inputs every variant receives. */
async function prepareCase(work, serial, sources, srcRoot, dirCount) {
  const dstRoot = path.join(work, `dst-${serial}`);
  const dirs = layoutDirs(dstRoot, dirCount);
  await mkdir(dstRoot);
  for (const dir of dirs) if (dir !== dstRoot) await mkdir(dir);
  const tos = sources.map((from) => path.join(dstRoot, path.relative(srcRoot, from)));
  const pairs = sources.map((from, i) => [from, tos[i]]);
  const pairsFile = path.join(work, `pairs-${serial}.tsv`);
  const dirsFile = path.join(work, `dirs-${serial}.txt`);
  await writeFile(pairsFile, pairs.map(([from, to]) => `${from}\t${to}\n`).join(''));
  await writeFile(dirsFile, dirs.map((d) => `${d}\n`).join(''));
  return { srcRoot, dstRoot, dirs, pairs, froms: sources, tos, pairsFile, dirsFile };
}

async function discardCase(c) {
  await rm(c.dstRoot, { recursive: true, force: true });
  await rm(c.pairsFile, { force: true });
  await rm(c.dirsFile, { force: true });
}

function checkLinked(c) {
  const probe = c.tos[c.tos.length - 1];
  if (statSync(probe).ino !== statSync(c.froms[c.froms.length - 1]).ino) throw new Error(`${probe} is not a hard link`);
}

export async function run(options) {
  const quick = options.quick;
  const sizes = quick ? [1000] : [1000, 10000];
  const dirCounts = [1, 100];
  const runs = options.runs ?? (quick ? 3 : 5);
  const work = await scratchDir('fs');
  const floorBinary = buildFloor(work);
  const fileSystems = await loadFileSystems();
  const all = variants(fileSystems, floorBinary);
  const report = new Report({
    suite: 'fs',
    title: 'hard-link N files into a fresh tree, then fsync the destination directories',
    command: `npm run bench -- fs${quick ? ' --quick' : ''}${options.runs ? ` --runs ${options.runs}` : ''}`,
    baseline: FLOOR,
    primary: 'totalMs',
    ratioLabel: '× floor (lower is better)',
    columns: [
      { key: 'totalMs', label: 'median ms', digits: 2 },
      { key: 'usPerFile', label: 'µs/file', digits: 2 },
      { key: 'linkUsPerFile', label: 'link µs/file', digits: 2 },
      { key: 'syncMs', label: 'dir fsync ms', digits: 2 },
      { key: 'rangeMs', label: 'min–max ms', digits: 0 },
      { key: 'pairedRatio', label: 'paired × floor', digits: 2 },
    ],
    options: { quick, sizes, dirCounts, runs, warmupRuns: 1 },
    footnotes: [
      `Goal: the addon (NativeFileSystem) within ${GOAL_RATIO}× of the C floor and faster than both fs.promises loops and cp -al.`,
      `Median of ${runs} runs after 1 discarded warm-up; variants interleave within each run, in a rotating order. “paired × floor” is the median over runs of (this variant ÷ the floor in the same run): less sensitive to a busy machine than the ratio of medians, which the goals use.`,
      'Destination directories are created before timing, for every variant (cp -al merges into them); `sync` runs before each timed measurement so each starts with a clean page cache.',
      'Times cover the links plus the fsync of every destination directory (1, or the 100 subdirectories). The floor’s rows are timed inside the C program (bench/floor.c: clock_gettime around the syscall loops, single-threaded as the baseline, and on the addon’s thread count for reference); “whole process” adds exec and list parsing. cp -al is followed by a whole-system `sync`: the only way a shell user makes the links durable.',
      'Sources: small non-empty files (about 32 bytes), created once per case; links use absolute paths of the same length for every variant.',
    ],
  });

  process.stdout.write(`fs benchmark: sizes ${sizes.join(', ')}, ${runs} runs + 1 warm-up, scratch ${path.relative(repoRoot, work)}\n`);
  for (const v of all) if (v.unavailable !== undefined) process.stdout.write(`!! ${v.rows.join(', ')} UNAVAILABLE: ${v.unavailable}\n`);
  const runnable = all.filter((v) => v.unavailable === undefined);

  const groups = [];
  let serial = 0;
  try {
    for (const dirCount of dirCounts) {
      for (const count of sizes) {
        const group = `${count.toLocaleString('en-US')} files, ${dirCount === 1 ? '1 dir' : `${dirCount} dirs`}`;
        const srcRoot = path.join(work, `src-${count}-${dirCount}`);
        const sources = await createSources(srcRoot, count, dirCount);
        const samples = new Map();
        for (let r = 0; r <= runs; r++) {
          for (let k = 0; k < runnable.length; k++) {
            const variant = runnable[(k + r) % runnable.length];
            const c = await prepareCase(work, serial++, sources, srcRoot, dirCount);
            syncAll();
            const measured = await variant.measure(c);
            checkLinked(c);
            await discardCase(c);
            if (r === 0) continue;
            for (const [row, m] of Object.entries(measured)) {
              if (!samples.has(row)) samples.set(row, []);
              samples.get(row).push(m);
            }
          }
          process.stdout.write(`  ${group}: run ${r === 0 ? 'warm-up' : `${r}/${runs}`} done\n`);
        }
        for (const v of all) {
          for (const row of v.rows) {
            if (v.unavailable !== undefined) {
              report.addUnavailable(group, row, v.unavailable);
              continue;
            }
            const s = samples.get(row);
            const totals = s.map((m) => m.totalUs);
            const floorTotals = samples.get(FLOOR).map((m) => m.totalUs);
            const totalUs = median(totals);
            const linkUs = s[0].linkUs === undefined ? undefined : median(s.map((m) => m.linkUs));
            const syncUs = s[0].syncUs === undefined ? undefined : median(s.map((m) => m.syncUs));
            report.add(group, row, {
              metrics: {
                totalMs: totalUs / 1e3,
                usPerFile: totalUs / count,
                linkUsPerFile: linkUs === undefined ? undefined : linkUs / count,
                syncMs: syncUs === undefined ? undefined : syncUs / 1e3,
                rangeMs: `${(Math.min(...totals) / 1e3).toFixed(1)}–${(Math.max(...totals) / 1e3).toFixed(1)}`,
                pairedRatio: median(totals.map((t, run) => t / floorTotals[run])),
              },
              samples: { totalUs: totals, linkUs: s.map((m) => m.linkUs ?? null), syncUs: s.map((m) => m.syncUs ?? null) },
            });
          }
        }
        await rm(srcRoot, { recursive: true, force: true });
        groups.push(group);
      }
    }
  } finally {
    await removeScratch(work);
  }
  judgeGoals(report, groups);
  await report.finish(machineInfo(path.join(benchDir, '.work'), repoRoot));
  return { ok: runnable.length === all.length };
}

function judgeGoals(report, groups) {
  const goals = [
    { text: `addon ≤ ${GOAL_RATIO}× floor in every case`, other: FLOOR, limit: GOAL_RATIO, inclusive: true },
    { text: 'addon faster than the awaited fs.promises.link loop in every case', other: SEQUENTIAL, limit: 1 },
    { text: 'addon faster than the Promise.all fs.promises.link batch in every case', other: PARALLEL, limit: 1 },
    { text: 'addon faster than cp -al + sync in every case', other: CP, limit: 1 },
  ];
  for (const goal of goals) {
    const ratios = groups.map((group) => {
      const mine = report.value(group, NATIVE);
      const theirs = report.value(group, goal.other);
      return { group, ratio: mine === undefined || theirs === undefined ? undefined : mine / theirs };
    });
    if (ratios.length === 0 || ratios.some((r) => r.ratio === undefined)) {
      report.addGoal(goal.text, undefined, 'a row needed to judge it did not run');
      continue;
    }
    const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const pass = goal.inclusive ? worst.ratio <= goal.limit : worst.ratio < goal.limit;
    report.addGoal(goal.text, pass, `worst ${worst.ratio.toFixed(2)}× at ${worst.group}`);
  }
}
