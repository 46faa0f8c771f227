// One engine-benchmark measurement in its own process, so its peak RSS and disk writes
// (/proc/self/io, summed over all its threads) belong to one store and one workload.
// Usage: node bench/engine-child.js '<json spec>'; prints one JSON line on stdout.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const KEY_BYTES = 16;
const VALUE_BYTES = 100;

/**
 * Each store behind the same five calls; every adapter adds one function call per op.
 * `stats` (cairn only) exposes the background work the mixed workload reports.
 */
const stores = {
  async 'classic-level'(dir) {
    const { ClassicLevel } = await import('classic-level');
    const db = new ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    return {
      put: (key, value) => db.put(key, value),
      get: (key) => db.get(key),
      putMany: (pairs) => db.batch(pairs.map(([key, value]) => ({ type: 'put', key, value }))),
      entries: () => db.iterator(),
      close: () => db.close(),
    };
  },
  async lmdb(dir) {
    const { open } = await import('lmdb');
    const db = open({ path: dir, keyEncoding: 'binary', encoding: 'binary', noSync: true });
    return {
      put: (key, value) => db.put(key, value),
      get: (key) => db.get(key),
      putMany: (pairs) =>
        db.batch(() => {
          for (const [key, value] of pairs) db.put(key, value);
        }),
      entries: () => mapIterable(db.getRange(), ({ key, value }) => [key, value]),
      close: () => db.close(),
    };
  },
  async cairn(dir, spec) {
    const { Keyspace } = await import(pathToFileURL(spec.cairnModule).href);
    const ks = await Keyspace.open(dir);
    const p = await ks.partition('bench');
    return {
      put: (key, value) => p.put(key, value),
      get: (key) => p.get(key),
      putMany: async (pairs) => {
        const batch = ks.batch();
        for (const [key, value] of pairs) batch.put(p, key, value);
        await batch.commit();
      },
      entries: () => p.entries(),
      close: () => ks.close(),
      stats: () => {
        const s = ks.stats();
        const bench = s.partitions.bench;
        return { compactionsDone: bench.compactionsDone, segments: bench.segments, stalledWrites: s.backPressure.stalledWrites, stalledMs: s.backPressure.stalledMs };
      },
    };
  },
};

function* mapIterable(iterable, fn) {
  for (const item of iterable) yield fn(item);
}

// mulberry32: a small seeded PRNG, so every store sees the same keys in the same order.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function key(i) {
  return Buffer.from(String(i).padStart(KEY_BYTES, '0'), 'latin1');
}

// Values are 100-byte windows of one random 1 MiB buffer (db_bench's trick): incompressible
// and cheap to produce, so value generation costs every store the same.
function valueSource(random) {
  const pool = Buffer.alloc(1 << 20);
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256);
  return (i) => {
    const offset = (i * 7919) % (pool.length - VALUE_BYTES);
    return pool.subarray(offset, offset + VALUE_BYTES);
  };
}

// Half-compressible values (issue 14's bytes-on-disk row): 50 random bytes from the pool,
// then 50 bytes of one repeated letter, as db_bench's compression ratio 0.5.
function halfCompressibleSource(random) {
  const random100 = valueSource(random);
  return (i) => {
    const value = Buffer.alloc(VALUE_BYTES, 97);
    random100(i).copy(value, 0, 0, VALUE_BYTES / 2);
    return value;
  };
}

function permutation(n, random) {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Random order, batches of 1,000 keys, values from `value`. */
async function fillBatches(store, n, random, value) {
  const order = permutation(n, random);
  for (let start = 0; start < n; start += 1000) {
    const pairs = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) pairs.push([key(order[i]), value(i)]);
    await store.putMany(pairs);
  }
  return n;
}

const workloads = {
  async fillseq(store, n, random) {
    const value = valueSource(random);
    for (let i = 0; i < n; i++) await store.put(key(i), value(i));
    return n;
  },
  async fillrandom(store, n, random) {
    const value = valueSource(random);
    const order = permutation(n, random);
    for (let i = 0; i < n; i++) await store.put(key(order[i]), value(i));
    return n;
  },
  fillbatch(store, n, random) {
    return fillBatches(store, n, random, valueSource(random));
  },
  fillhalf(store, n, random) {
    return fillBatches(store, n, random, halfCompressibleSource(random));
  },
  async readrandom(store, n, random) {
    let found = 0;
    for (let i = 0; i < n; i++) {
      const v = await store.get(key(Math.floor(random() * n)));
      if (v !== undefined && v.length === VALUE_BYTES) found++;
    }
    if (found !== n) throw new Error(`readrandom found ${found} of ${n} keys`);
    return n;
  },
  async readseq(store, n) {
    let count = 0;
    const entries = store.entries();
    if (entries[Symbol.asyncIterator]) {
      for await (const [k] of entries) if (k.length === KEY_BYTES) count++;
    } else {
      for (const [k] of entries) if (k.length === KEY_BYTES) count++;
    }
    if (count !== n) throw new Error(`readseq saw ${count} of ${n} entries`);
    return count;
  },
};

/** Bytes of every file under `dir` (st_size), the store's footprint on disk. */
function diskBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += diskBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

/**
 * Issue 4: preload `n` entries (batches of 1,000, random order, not measured), then for
 * `duration` seconds one awaited operation at a time, each a coin flip between an
 * overwrite of a random key and a get of a random key (all hits). The event-loop delay
 * monitor runs only in that phase; so does the write_bytes count. Space amplification is
 * taken at the end of the phase, before close, while background work may still hold files.
 */
async function mixed(store, n, random, spec) {
  await workloads.fillbatch(store, n, random);
  const value = valueSource(random);
  const statsBefore = store.stats?.();
  const writtenBefore = writeBytes();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(spec.duration * 1e9));
  let ops = 0;
  let puts = 0;
  let misses = 0;
  while (process.hrtime.bigint() < deadline) {
    for (let j = 0; j < 64; j++) {
      const k = key(Math.floor(random() * n));
      if (random() < 0.5) {
        await store.put(k, value(ops));
        puts++;
      } else {
        const v = await store.get(k);
        if (v === undefined || v.length !== VALUE_BYTES) misses++;
      }
      ops++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  delay.disable();
  const writtenAfter = writeBytes();
  if (misses !== 0) throw new Error(`mixed: ${misses} gets missed a preloaded key`);
  const statsAfter = store.stats?.();
  return {
    ops,
    seconds,
    puts,
    gets: ops - puts,
    userBytesWritten: puts * (KEY_BYTES + VALUE_BYTES),
    phaseWriteBytes: writtenBefore === null ? null : writtenAfter - writtenBefore,
    eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, mean: delay.mean / 1e6 },
    diskBytes: diskBytes(spec.dir),
    liveBytes: n * (KEY_BYTES + VALUE_BYTES),
    compactionsDone: statsAfter === undefined ? null : statsAfter.compactionsDone - statsBefore.compactionsDone,
    backPressure: statsAfter === undefined ? null : { stalledWrites: statsAfter.stalledWrites - statsBefore.stalledWrites, stalledMs: statsAfter.stalledMs - statsBefore.stalledMs },
    segmentsAtEnd: statsAfter?.segments ?? null,
  };
}

function writeBytes() {
  const io = readFileSync('/proc/self/io', 'utf8');
  const match = /^write_bytes:\s*(\d+)$/m.exec(io);
  return match ? Number(match[1]) : null;
}

const spec = JSON.parse(process.argv[2]);
const open = stores[spec.store];
if (!open || (!workloads[spec.workload] && spec.workload !== 'mixed')) throw new Error(`unknown store or workload: ${spec.store}/${spec.workload}`);

const random = prng(spec.seed);
const writtenBefore = writeBytes();
const store = await open(spec.dir, spec);
let result;
if (spec.workload === 'mixed') {
  result = await mixed(store, spec.entries, random, spec);
} else {
  const start = process.hrtime.bigint();
  const ops = await workloads[spec.workload](store, spec.entries, random);
  result = { ops, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
await store.close();
const writtenAfter = writeBytes();
process.stdout.write(
  `${JSON.stringify({
    ...result,
    writeBytes: writtenBefore === null ? null : writtenAfter - writtenBefore,
    maxRssKiB: process.resourceUsage().maxRSS,
    diskBytesAfterClose: diskBytes(spec.dir),
  })}\n`,
);
