// Faults at the seam on every write path: each scenario (flush, partition create and
// delete, sync write, open with recovery) is run once to count its file-system calls, then
// once per call with exactly that call failing. Every run must end in a coded error or
// success, and after a reopen on a healthy file system every acknowledged write is there
// and no debris (temp files, unreferenced segments, half-made partitions) is left.
import t, { type Test } from 'tap';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import { partitionDir } from '../../lib/layout/file-names.js';

const OPTIONS = { memtableBytes: 1 << 20, blockSize: 512 };

/** A FaultFileSystem that, once armed, fails exactly its Nth call from then on (or only counts). */
class NthCallFaults extends FaultFileSystem {
  constructor(private readonly failAt: number | undefined) {
    super(new NodeFileSystem());
  }

  arm(): void {
    this.clearTrace();
    if (this.failAt !== undefined) this.inject({ op: '*', nth: this.failAt, code: 'EIO' });
  }
}


interface Scenario {
  name: string;
  /** Builds the starting state with a healthy file system; returns what must survive. */
  setup(dir: string): Promise<Map<string, Map<string, string>>>;
  /** The operation under fault; returns writes it acknowledged (partition -> key -> value). */
  run(dir: string, fs: NthCallFaults): Promise<Map<string, Map<string, string>>>;
  /** Partitions that may legitimately be present or absent after a failed run. */
  optionalPartitions?: string[];
}

async function baseData(dir: string): Promise<Map<string, Map<string, string>>> {
  const ks = await Keyspace.open(dir, OPTIONS);
  const expected = new Map<string, Map<string, string>>();
  for (const name of ['p', 'gone']) {
    const p = await ks.partition(name);
    const kv = new Map<string, string>();
    for (let i = 0; i < 150; i++) {
      await p.put(`k${i}`, `${name}-v${i}`);
      kv.set(`k${i}`, `${name}-v${i}`);
    }
    expected.set(name, kv);
  }
  await ks.close();
  return expected;
}

/** Opens with the fault fs, runs `body`, then clears faults and closes whatever state it is in. */
async function underFault<T>(dir: string, fs: NthCallFaults, body: (ks: Keyspace) => Promise<T>): Promise<T | undefined> {
  let ks: Keyspace | undefined;
  try {
    ks = await Keyspace.open(dir, { ...OPTIONS, fs });
    return await body(ks);
  } finally {
    fs.clearFaults();
    await ks?.close();
  }
}

const scenarios: Scenario[] = [
  {
    name: 'flush of a memtable into a segment',
    setup: baseData,
    async run(dir, fs) {
      await underFault(dir, fs, async (ks) => {
        fs.arm();
        await ks.flush();
      });
      return new Map();
    },
  },
  {
    name: 'creating a partition and writing to it',
    setup: baseData,
    optionalPartitions: ['fresh'],
    async run(dir, fs) {
      const acked = new Map<string, Map<string, string>>();
      await underFault(dir, fs, async (ks) => {
        fs.arm();
        const p = await ks.partition('fresh');
        await p.put('a', '1');
        acked.set('fresh', new Map([['a', '1']]));
      });
      return acked;
    },
  },
  {
    name: 'deleting a partition',
    setup: baseData,
    optionalPartitions: ['gone'],
    async run(dir, fs) {
      await underFault(dir, fs, async (ks) => {
        fs.arm();
        await ks.deletePartition('gone');
      });
      return new Map();
    },
  },
  {
    name: 'a sync write',
    setup: baseData,
    async run(dir, fs) {
      const acked = new Map<string, Map<string, string>>();
      await underFault(dir, fs, async (ks) => {
        const p = await ks.partition('p');
        fs.arm();
        await p.put('synced', 'yes', { durability: 'sync' });
        acked.set('p', new Map([['synced', 'yes']]));
      });
      return acked;
    },
  },
  {
    name: 'opening with recovery',
    setup: baseData,
    async run(dir, fs) {
      fs.arm();
      await underFault(dir, fs, async () => undefined);
      return new Map();
    },
  },
];

async function verify(t: Test, dir: string, expected: Map<string, Map<string, string>>, optional: string[], label: string): Promise<void> {
  const ks = await Keyspace.open(dir, OPTIONS);
  try {
    for (const [name, kv] of expected) {
      if (!ks.partitionNames().includes(name)) {
        if (!optional.includes(name)) t.fail(`${label}: partition ${name} lost`);
        continue;
      }
      const p = await ks.partition(name);
      for (const [k, v] of kv) {
        const got = await p.get(k);
        if (got?.toString() !== v) {
          t.fail(`${label}: ${name}/${k} = ${got?.toString()}, expected ${v}`);
          return;
        }
      }
    }
    for (const name of ks.partitionNames()) {
      const { state } = await readCurrentManifest(new NodeFileSystem(), partitionDir(dir, name));
      const live = new Set(state.levels.flat().map((s) => `${String(s.fileNumber).padStart(6, '0')}.sst`));
      const onDisk = await readdir(join(partitionDir(dir, name), 'segments'));
      const stray = onDisk.filter((f) => !live.has(f));
      if (stray.length > 0) t.fail(`${label}: unreferenced files in ${name}/segments: ${stray}`);
    }
    const everything = await readdir(dir, { recursive: true });
    const temps = everything.filter((f) => String(f).includes('.tmp-'));
    if (temps.length > 0) t.fail(`${label}: temporary files left: ${temps}`);
    const partitionDirs = await readdir(join(dir, 'partitions'));
    if (JSON.stringify(partitionDirs.sort()) !== JSON.stringify(ks.partitionNames())) {
      t.fail(`${label}: partition directories ${partitionDirs} vs registry ${ks.partitionNames()}`);
    }
  } finally {
    await ks.close();
  }
}

for (const scenario of scenarios) {
  t.test(scenario.name, async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'cairn-faults-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));

    const counting = new NthCallFaults(undefined);
    const dryDir = join(root, 'dry');
    const base = await scenario.setup(dryDir);
    await scenario.run(dryDir, counting);
    const calls = counting.trace().length;
    t.ok(calls > 0, `the scenario makes ${calls} file-system calls`);

    let failures = 0;
    const codes = new Set<string>();
    for (let n = 1; n <= calls; n++) {
      const dir = join(root, `n${n}`);
      const expected = await scenario.setup(dir);
      const fs = new NthCallFaults(n);
      let acked = new Map<string, Map<string, string>>();
      try {
        acked = await scenario.run(dir, fs);
      } catch (err) {
        failures++;
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'string') t.fail(`call ${n}: rejected without a code: ${String(err)}`);
        else codes.add(code);
      }
      for (const [name, kv] of acked) expected.set(name, new Map([...(expected.get(name) ?? []), ...kv]));
      await verify(t, dir, expected, scenario.optionalPartitions ?? [], `fault at call ${n}`);
      await rm(dir, { recursive: true, force: true });
    }
    t.ok(failures > 0, `${failures} of ${calls} injected faults surfaced as errors (codes: ${[...codes].join(', ')})`);
    t.ok([...codes].every((c) => c === 'EIO' || c.startsWith('CAIRN_')), 'every error carries the injected code or a cairn code');
    t.ok(base.size > 0);
  });
}
