// The `shipping` benchmark (issue 11): a paced writer (awaited puts at a target rate) with
// journal shipping off, to file:// and to s3rver; the shipped lag (commit → in the store)
// per put, objects written per minute busy and idle, writer throughput and put p99.9 with
// shipping on ÷ off; and a restore to a time (base backup + replay) against `cp -a` +
// sync of the restored keyspace. Sequential: one configuration at a time, in this process.
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LatencyRecorder, summarize } from './lib/latency.js';
import { machineInfo } from './lib/machine.js';
import { benchDir, importDist, removeScratch, repoRoot, scratchDir } from './lib/paths.js';
import { Report } from './lib/report.js';
import { startS3Server } from './lib/s3-server.js';
import { hrMs, syncAll, timeCopy } from './lib/shell-baselines.js';
import { treeBytes } from './lib/keyspace-builder.js';

const OFF = 'shipping off';
const FILE = 'shipping → file://';
const S3 = 'shipping → s3rver';
const CP_A = 'cp -a + sync (restored keyspace)';
const RESTORE = 'restore toTime (backup + replay)';
const WRITERS = 8;
const VALUE_BYTES = 100;
const MB = 1e6;

const GOALS = { lagP99Ms: 1200, lagMaxMs: 2000, objectsPerMinute: 60, throughput: 0.9, p999: 1.5, restore: 0.5 };

function value(i) {
  return Buffer.from(`${i}:`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26))));
}

/**
 * WRITERS loops of awaited puts, paced to `rate` puts/s in total for `seconds`. Records
 * each put's latency (µs) and, per put, its seqno and the time it resolved (ms, performance.now).
 */
async function paced(ks, rate, seconds) {
  const p = await ks.partition('bench');
  const latency = new LatencyRecorder();
  const commits = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const interval = (WRITERS * 1000) / rate;
  let n = 0;
  const loop = async (w) => {
    for (let i = 0; ; i++) {
      const due = start + i * interval + (w * interval) / WRITERS;
      if (due >= end) return;
      const now = performance.now();
      if (due > now) await new Promise((resolve) => setTimeout(resolve, due - now));
      const id = n++;
      const t0 = performance.now();
      await p.put(`k${String(id % 200_000).padStart(8, '0')}`, value(id));
      const t1 = performance.now();
      latency.push((t1 - t0) * 1000);
      commits.push({ seqno: ks.seqno, at: t1 });
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => loop(w)));
  const elapsed = (performance.now() - start) / 1000;
  return { puts: n, elapsed, latency: summarize(latency.sorted()), commits };
}

/** Lag of each put: from its commit to the first 'shipped' event covering its seqno. */
function lags(commits, shipped) {
  const sorted = [...commits].sort((a, b) => a.seqno - b.seqno);
  const out = [];
  let e = 0;
  for (const c of sorted) {
    while (e < shipped.length && shipped[e].lastSeqno < c.seqno) e++;
    if (e === shipped.length) break;
    out.push(Math.max(0, shipped[e].at - c.at));
  }
  return out;
}

async function oneRun(ctx, variant, url) {
  const { Keyspace, BackupEngine, work, rate, seconds, idleSeconds } = ctx;
  const ksDir = path.join(work, `ks-${variant.replace(/\W+/g, '-')}`);
  const ks = await Keyspace.open(ksDir);
  let engine;
  let shipper;
  const shipped = [];
  try {
    if (url !== undefined) {
      engine = await BackupEngine.open(url);
      shipper = engine.ship(ks);
      shipper.on('shipped', (e) => shipped.push({ lastSeqno: e.lastSeqno, at: performance.now(), bytes: e.bytes }));
      shipper.on('error', () => undefined);
      await shipper.flush();
    }
    const startObjects = shipped.length;
    const run = await paced(ks, rate, seconds);
    let idle;
    if (shipper !== undefined) {
      await shipper.flush();
      const busyObjects = shipped.length - startObjects;
      const before = shipped.length;
      await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
      idle = { objects: shipped.length - before, busyObjects };
    }
    const lag = shipper === undefined ? undefined : summarize(lags(run.commits, shipped));
    const stats = shipper?.stats();
    await shipper?.stop();
    return { run, lag, idle, stats, ks, ksDir, engine };
  } catch (error) {
    await shipper?.stop().catch(() => undefined);
    await ks.close();
    await engine?.close();
    throw error;
  }
}

export async function run(options) {
  const quick = options.quick;
  const seconds = options.duration ?? (quick ? 10 : 60);
  const idleSeconds = quick ? 3 : 10;
  const rate = 10_000;
  let Keyspace;
  let BackupEngine;
  try {
    ({ Keyspace } = await importDist('index.js'));
    ({ BackupEngine } = await importDist('backup/index.js'));
  } catch (error) {
    process.stdout.write(`!! shipping suite UNAVAILABLE: ${error.message}\n`);
    return { ok: false };
  }
  const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const report = new Report({
    suite: 'shipping',
    title: 'Journal shipping: RPO lag, objects per minute, writer cost; restore to a time',
    command: `npm run bench -- shipping${quick ? ' --quick' : ''}${options.duration ? ` --duration ${options.duration}` : ''}`,
    baseline: OFF,
    primary: 'putsPerSecond',
    ratioLabel: '× throughput with shipping off',
    columns: [
      { key: 'putsPerSecond', label: 'puts/s', digits: 0 },
      { key: 'p50us', label: 'put p50 µs', digits: 0 },
      { key: 'p999us', label: 'put p99.9 µs', digits: 0 },
      { key: 'p999Ratio', label: 'p99.9 ÷ off', digits: 2 },
      { key: 'lagP99', label: 'lag p99 ms', digits: 0 },
      { key: 'lagMax', label: 'lag max ms', digits: 0 },
      { key: 'objectsPerMinute', label: 'objects/min busy', digits: 1 },
      { key: 'idleObjects', label: 'objects idle', digits: 0 },
    ],
    options: { quick, seconds, idleSeconds, rate, writers: WRITERS, valueBytes: VALUE_BYTES },
    footnotes: [
      `Writer: ${WRITERS} loops of awaited \`p.put\` (${VALUE_BYTES}-byte values, default durability) paced to ${rate.toLocaleString('en-US')} puts/s in total for ${seconds} s; latency is each put's own (µs). Shipping uses the default interval (1000 ms).`,
      "Lag: for every put, from the moment its put resolved to the 'shipped' event of the object holding its seqno (the object is then in the store). Objects/min busy: objects shipped during the writing, per minute; idle: objects shipped in the following idle seconds (goal 0).",
      's3rver: a Node S3 emulator in a child process on 127.0.0.1, objects on the same disk; it is slower than a real S3 endpoint and shares the 2 cores.',
      'Restore to a time: engine.restore(latest, dir, { toTime: window().to.time }) after the file:// run (the base backup the shipper took at its start, then every shipped object), against `cp -a` of the restored keyspace + `sync`; MB are the restored keyspace\'s bytes.',
      `Load average (1, 5, 15 min) before the suite: ${loadBefore}.`,
    ],
  });
  const restoreTable = report.table({
    title: 'Restore to a time (base backup + replay of the shipped journal)',
    baseline: CP_A,
    primary: 'mbPerSecond',
    ratioLabel: '× cp throughput (higher is better)',
    columns: [
      { key: 'mbPerSecond', label: 'MB/s', digits: 1 },
      { key: 'seconds', label: 's', digits: 2 },
      { key: 'mb', label: 'MB', digits: 1 },
      { key: 'batches', label: 'batches replayed', digits: 0 },
    ],
  });

  const work = await scratchDir('shipping');
  const ctx = { Keyspace, BackupEngine, work, rate, seconds, idleSeconds };
  const group = `${rate.toLocaleString('en-US')} awaited puts/s for ${seconds} s`;
  let ok = true;
  const results = {};
  try {
    for (const [variant, makeUrl] of [
      [OFF, async () => undefined],
      [FILE, async () => pathToFileURL(path.join(work, 'store-file')).href],
      [S3, async () => {
        const dir = path.join(work, 's3rver');
        await mkdir(dir);
        ctx.s3 = await startS3Server(dir);
        return ctx.s3.url;
      }],
    ]) {
      process.stdout.write(`  ${variant}: writing ${seconds} s\n`);
      let r;
      try {
        r = await oneRun(ctx, variant, await makeUrl());
      } catch (error) {
        ok = false;
        report.addUnavailable(group, variant, error.message);
        continue;
      }
      results[variant] = r;
      const off = results[OFF];
      report.add(group, variant, {
        metrics: {
          putsPerSecond: r.run.puts / r.run.elapsed,
          p50us: r.run.latency.p50,
          p999us: r.run.latency.p999,
          p999Ratio: off === undefined ? undefined : r.run.latency.p999 / off.run.latency.p999,
          lagP99: r.lag?.p99,
          lagMax: r.lag?.max,
          objectsPerMinute: r.idle === undefined ? undefined : r.idle.busyObjects / (r.run.elapsed / 60),
          idleObjects: r.idle?.objects,
        },
        samples: { latency: r.run.latency, lag: r.lag, stats: r.stats },
      });
      if (variant === FILE) {
        // Restore to the end of the window, then cp -a the result.
        const window = await r.engine.window();
        const out = path.join(work, 'restored');
        syncAll();
        const start = process.hrtime.bigint();
        const restored = await r.engine.restore('latest', out, { toTime: window.to.time });
        const ms = hrMs(start);
        const bytes = await treeBytes(out);
        const cpDest = path.join(work, 'restored-cp');
        syncAll();
        const cpMs = timeCopy('-a', out, cpDest);
        restoreTable.add('restore to the end of the window', CP_A, { metrics: { mbPerSecond: bytes / MB / (cpMs / 1e3), seconds: cpMs / 1e3, mb: bytes / MB } });
        restoreTable.add('restore to the end of the window', RESTORE, {
          metrics: { mbPerSecond: bytes / MB / (ms / 1e3), seconds: ms / 1e3, mb: bytes / MB, batches: restored.batchesReplayed },
          samples: { plan: { objects: restored.plan.objects.length, bytes: restored.plan.bytes, seqno: restored.plan.seqno } },
        });
        const ratio = cpMs / ms;
        report.addGoal(`restore to a time ≥ ${GOALS.restore}× cp -a + sync`, ratio >= GOALS.restore, `${ratio.toFixed(2)}× (${restored.batchesReplayed} batches from ${restored.plan.objects.length} objects)`);
        await rm(out, { recursive: true, force: true });
        await rm(cpDest, { recursive: true, force: true });
      }
      await r.ks.close();
      await r.engine?.close();
      if (variant === S3) await ctx.s3?.stop();
    }
    const off = results[OFF];
    for (const variant of [FILE, S3]) {
      const r = results[variant];
      if (r === undefined || off === undefined) continue;
      const through = r.run.puts / r.run.elapsed / (off.run.puts / off.run.elapsed);
      const p999 = r.run.latency.p999 / off.run.latency.p999;
      report.addGoal(`${variant}: lag p99 ≤ ${GOALS.lagP99Ms} ms, max ≤ ${GOALS.lagMaxMs} ms`, r.lag.p99 <= GOALS.lagP99Ms && r.lag.max <= GOALS.lagMaxMs, `p99 ${r.lag.p99.toFixed(0)} ms, max ${r.lag.max.toFixed(0)} ms`);
      report.addGoal(`${variant}: ≤ ${GOALS.objectsPerMinute} objects/min busy, 0 idle`, r.idle.busyObjects / (r.run.elapsed / 60) <= GOALS.objectsPerMinute && r.idle.objects === 0, `${(r.idle.busyObjects / (r.run.elapsed / 60)).toFixed(1)}/min, ${r.idle.objects} idle`);
      report.addGoal(`${variant}: throughput ≥ ${GOALS.throughput}× off, put p99.9 ≤ ${GOALS.p999}× off`, through >= GOALS.throughput && p999 <= GOALS.p999, `${through.toFixed(2)}×, p99.9 ${p999.toFixed(2)}×`);
    }
  } finally {
    await ctx.s3?.stop().catch(() => undefined);
    await removeScratch(work);
  }
  await report.finish(machineInfo(path.join(benchDir, '.work'), repoRoot));
  return { ok };
}
