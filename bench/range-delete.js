// The `rangedel` benchmark (issue 13): what a range delete (p.clear) costs against what it
// covers, and what reads cost right after a big one, before and after compaction. One
// keyspace, built once; every figure is measured in this run.
import path from 'node:path';
import { machineInfo } from './lib/machine.js';
import { benchDir, importDist, removeScratch, repoRoot, scratchDir } from './lib/paths.js';
import { Report, median } from './lib/report.js';

const SMALL = 'p.clear over 10 keys';
const LARGE_LABEL = (n) => `p.clear over ${n.toLocaleString('en-US')} keys`;
const PER_KEY = 'batch.delete of each key (a clear without range tombstones)';
const GOAL_RATIO = 1.5;

const key = (i) => `key${String(i).padStart(9, '0')}`;
const nowUs = () => performance.now() * 1000;

/** Median µs of `fn` over `n` awaited calls. */
async function timeEach(n, fn) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const start = nowUs();
    await fn(i);
    samples.push(nowUs() - start);
  }
  return samples;
}

export async function run(options) {
  const quick = options.quick;
  const entries = options.entries ?? (quick ? 100_000 : 1_000_000);
  const clears = quick ? 100 : 300;
  const { Keyspace } = await importDist('index.js');
  const dir = await scratchDir('rangedel');
  const command = `npm run bench -- rangedel${quick ? ' --quick' : ''}${options.entries ? ` --entries ${options.entries}` : ''}`;
  const LARGE = LARGE_LABEL(entries);
  const report = new Report({
    suite: 'rangedel',
    title: 'range deletes: cost per clear against the keys it covers, and reads right after a big one',
    command,
    baseline: SMALL,
    primary: 'us',
    ratioLabel: '× clear of 10 keys (lower is better)',
    columns: [
      { key: 'us', label: 'median µs per call', digits: 1 },
      { key: 'p99', label: 'p99 µs', digits: 1 },
      { key: 'calls', label: 'calls', digits: 0 },
    ],
    options: { quick, entries, clears },
    footnotes: [
      `One partition of ${entries.toLocaleString('en-US')} keys (13-byte keys, 100-byte values), written in batches of 1,000 and flushed, default options otherwise. ${clears} clears of 10 keys (each a different range), a flush, then ${clears} clears of every key, each awaited, buffered durability: each is one journal record and one tombstone in the memtable. A clear's cost grows with the earlier tombstones of its memtable that it overlaps (they are kept fragmented), not with the keys it covers.`,
      'The per-key row deletes 10 keys with one batch of 10 deletes (what cairn/level\'s clear() did before range deletes, after reading the keys); over the whole partition it would be that per key, times the keys.',
      'Reads: median of 2,000 awaited gets of keys spread over the partition (after one unrecorded pass that warms the block cache); a scan is the time to the first entry of `p.keys({ gte })` from the start of the cleared range, while the segments still hold the covered entries (each source older than the tombstone is read around the covered interval, not through it), then again after ks.compact().',
    ],
  });
  try {
    const ks = await Keyspace.open(dir);
    const p = await ks.partition('p');
    const value = Buffer.alloc(100, 7);
    for (let i = 0; i < entries; i += 1000) {
      const batch = ks.batch();
      for (let j = i; j < Math.min(entries, i + 1000); j++) batch.put(p, key(j), value);
      await batch.commit();
    }
    await ks.flush();

    // Each kind in its own memtable (a flush between them): a clear costs a binary search
    // plus the fragments of earlier tombstones it overlaps in the memtable, never the keys.
    const small = await timeEach(clears, (i) => {
      const at = (i * 7919) % (entries - 10);
      return p.clear({ gte: key(at), lt: key(at + 10) });
    });
    await ks.flush();
    const large = await timeEach(clears, () => p.clear({ gte: key(0), lt: key(entries) }));
    await ks.flush();
    const perKey = await timeEach(clears, async (i) => {
      const batch = ks.batch();
      for (let j = 0; j < 10; j++) batch.delete(p, key((i * 7919 + j) % entries));
      await batch.commit();
    });
    const row = (samples) => ({ metrics: { us: median(samples), p99: percentile(samples, 0.99), calls: samples.length }, samples: { us: samples } });
    report.add('cost per call', SMALL, row(small));
    report.add('cost per call', LARGE, row(large));
    report.add('cost per call', PER_KEY, row(perKey));

    // Reads after a big clear: a fresh keyspace state where everything but the last key is cleared.
    const reads = report.table({
      title: `reads right after clearing ${(entries - 1).toLocaleString('en-US')} of ${entries.toLocaleString('en-US')} keys`,
      baseline: 'get of a live key, no range delete anywhere',
      primary: 'us',
      ratioLabel: '× a get with no range delete (lower is better)',
      columns: [{ key: 'us', label: 'median µs', digits: 1 }],
    });
    const ks2dir = await scratchDir('rangedel-reads');
    const ks2 = await Keyspace.open(ks2dir);
    const q = await ks2.partition('q');
    for (let i = 0; i < entries; i += 1000) {
      const batch = ks2.batch();
      for (let j = i; j < Math.min(entries, i + 1000); j++) batch.put(q, key(j), value);
      await batch.commit();
    }
    await ks2.flush();
    const gets = 2000;
    const live = key(entries - 1);
    const getRow = (samples) => ({ metrics: { us: median(samples) }, samples: { us: samples } });
    const someKey = (i) => q.get(key((i * 7919) % (entries - 1)));
    // The first pass of each read warms the block cache; the second is recorded.
    await timeEach(gets, someKey);
    reads.add('get', 'get of a live key, no range delete anywhere', getRow(await timeEach(gets, someKey)));
    await q.clear({ lt: live });
    await timeEach(gets, someKey);
    reads.add('get', 'get of a cleared key (tombstone in the memtable)', getRow(await timeEach(gets, someKey)));
    reads.add('get', 'get of the one live key left', getRow(await timeEach(gets, () => q.get(live))));
    await ks2.flush();
    await timeEach(gets, someKey);
    reads.add('get', 'get of a cleared key (tombstone in a segment)', getRow(await timeEach(gets, someKey)));
    const firstEntry = async () => {
      const it = q.keys({ gte: key(0) });
      await it.next();
      await it.return();
    };
    reads.add('scan', 'first entry of a scan over the cleared range', getRow(await timeEach(3, firstEntry)));
    await ks2.compact();
    reads.add('scan', 'same after ks.compact()', getRow(await timeEach(50, firstEntry)));
    await ks2.close();
    await ks.close();
    await removeScratch(ks2dir);
  } finally {
    await removeScratch(dir);
  }
  const ratio = report.value('cost per call', LARGE) / report.value('cost per call', SMALL);
  report.addGoal(`a clear over every key costs at most ${GOAL_RATIO}× one over 10 keys`, ratio <= GOAL_RATIO, `${ratio.toFixed(2)}×`);
  await report.finish(machineInfo(path.join(benchDir, '.work'), repoRoot));
  return { ok: true };
}

function percentile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
