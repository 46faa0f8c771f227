// Crash safety of compaction and journal GC: a child commits batches with tiny memtables,
// journals and level budgets (merges on the worker pool or in-process, alternating), the
// parent SIGKILLs it at a random moment, reopens and checks that the recovered data is
// exactly a whole-batch prefix holding every acknowledged batch, and that recovery left no
// orphan: every segment named by the live manifest, no temp files, only journals in journal/.
import t, { type Test } from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import {
  CURRENT_FILE,
  manifestFileName,
  parseJournalFileName,
  partitionDir,
  segmentFileName,
  SEGMENTS_DIR,
} from '../../lib/layout/file-names.js';
import { scriptPath, firstLine, exited } from '../helpers/spawn-ts.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { Rng } from '../helpers/rng.js';
import { scaled } from '../helpers/scale.js';
import { scratchDir } from '../helpers/scratch.js';

const ROUNDS = scaled(20, 10);
const child = scriptPath(import.meta.url, 'fixtures/crash-child.mjs');
const PARTITIONS = ['a', 'b', 'c'];
const SLOTS = 200;

// The parent reopens without flushing or compacting anything (huge memtable, unreachable
// triggers), so the directory it inspects is exactly what recovery made of the crash.
const INSPECT = { compaction: { level0Trigger: 1000, baseLevelBytes: 2 ** 40 } };

type Contents = Map<string, Map<string, string>>;

/** What batches 0..last of `round` leave in each partition: the child's writes, replayed. */
function modelOf(round: number, last: number): Contents {
  const m: Contents = new Map(PARTITIONS.map((p) => [p, new Map()]));
  const [a, b, c] = PARTITIONS.map((p) => m.get(p)!);
  for (let i = 0; i <= last; i++) {
    const slot = i % SLOTS;
    for (let j = 0; j < 3; j++) a.set(`r${round}-s${slot}-${j}`, `v${round}-${i}-${j}-${'x'.repeat(i % 50)}`);
    b.set(`r${round}-s${slot}`, `w${round}-${i}`);
    b.set(`r${round}-last`, String(i));
    if (i % 7 === 0) a.delete(`r${round}-s${(slot + 3) % SLOTS}-0`);
    if (i % 50 === 0) c.set(`r${round}-c${i}`, `c${i}`);
  }
  return m;
}

/** The round's keys as the keyspace holds them, sorted. */
async function contentsOf(ks: Keyspace, round: number): Promise<Contents> {
  const m: Contents = new Map();
  for (const name of PARTITIONS) {
    const kv = new Map<string, string>();
    // '.' sorts right after '-', so this is exactly the keys starting `r<round>-`.
    for await (const [k, v] of (await ks.partition(name)).entries({ gte: `r${round}-`, lt: `r${round}.` })) kv.set(k.toString(), v.toString());
    m.set(name, kv);
  }
  return m;
}

function sameContents(got: Contents, want: Contents): string | undefined {
  for (const name of PARTITIONS) {
    const g = got.get(name)!;
    const w = new Map([...want.get(name)!].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
    if (g.size !== w.size) return `${name} holds ${g.size} keys, expected ${w.size}`;
    for (const [k, v] of w) if (g.get(k) !== v) return `${name}/${k} = ${g.get(k)}, expected ${v}`;
  }
  return undefined;
}

/** Files that should not be there: segments the live manifest does not name, temps, stray names. */
async function debris(dir: string, partitions: readonly string[]): Promise<string[]> {
  const fs = new NodeFileSystem();
  const found: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) if (String(name).includes('.tmp-')) found.push(name);
  for (const name of await readdir(join(dir, 'journal'))) if (parseJournalFileName(name) === undefined) found.push(`journal/${name}`);
  for (const name of partitions) {
    const root = partitionDir(dir, name);
    const { manifestNumber, state } = await readCurrentManifest(fs, root);
    const live = new Set(state.levels.flat().map((s) => segmentFileName(s.fileNumber)));
    for (const file of await readdir(join(root, SEGMENTS_DIR))) if (!live.has(file)) found.push(`${name}/segments/${file}`);
    const expected = new Set([CURRENT_FILE, manifestFileName(manifestNumber), SEGMENTS_DIR]);
    for (const file of await readdir(root)) if (!expected.has(file)) found.push(`${name}/${file}`);
  }
  return found;
}

interface RoundLog {
  acked: number;
  merges: number;
  compacting: boolean;
  /** Resolves when the child reports its first finished merge. */
  firstMerge: Promise<void>;
}

function follow(proc: ReturnType<typeof spawnDist>): RoundLog {
  let firstMerge!: () => void;
  const log: RoundLog = { acked: -1, merges: 0, compacting: false, firstMerge: new Promise((resolve) => (firstMerge = resolve)) };
  let buffer = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const [kind, x, y] = buffer.slice(0, nl).split(' ');
      buffer = buffer.slice(nl + 1);
      if (kind === 'ack') log.acked = Math.max(log.acked, Number(x));
      else if (kind === 'stats') {
        log.merges = Math.max(log.merges, Number(x));
        log.compacting = y === '1';
        if (log.merges > 0) firstMerge();
      }
    }
  });
  return log;
}

async function checkRound(t: Test, ks: Keyspace, round: number, recovered: number): Promise<boolean> {
  const problem = sameContents(await contentsOf(ks, round), modelOf(round, recovered));
  if (problem === undefined) return true;
  t.fail(`round ${round}: the data is not exactly batches 0..${recovered}: ${problem}`);
  return false;
}

t.test(`SIGKILL during compaction and journal GC, ${ROUNDS} rounds`, async (t) => {
  const dir = await scratchDir(t, 'compaction-crash');
  const rng = new Rng(20260412);
  const recoveredUpTo = new Map<number, number>();
  let merges = 0;
  let killedMidMerge = 0;
  let roundsWithDebris = 0;
  let ok = true;

  for (let round = 0; round < ROUNDS && ok; round++) {
    const proc = spawnDist(child, [dir, String(round), round % 2 === 0 ? 'worker' : 'in-process']);
    const log = follow(proc);
    t.equal(await firstLine(proc), 'ready', `round ${round}: child opened the keyspace`);
    // The kill lands while merges run however slow the machine is: the clock starts at the
    // round's first finished merge (a busy CI host once killed rounds before any).
    await Promise.race([log.firstMerge, exited(proc)]);
    await new Promise((resolve) => setTimeout(resolve, rng.int(20, 600)));
    proc.kill('SIGKILL');
    await exited(proc);
    merges += log.merges;
    if (log.compacting) killedMidMerge++;
    // Debris before the reopen shows the kill interrupted background work; the reopen must clear it.
    if ((await debris(dir, PARTITIONS).catch(() => ['unreadable'])).length > 0) roundsWithDebris++;

    const ks = await Keyspace.open(dir, INSPECT);
    try {
      const names = ks.partitionNames();
      if (JSON.stringify(names) !== JSON.stringify(PARTITIONS)) {
        t.fail(`round ${round}: partitions ${names}`);
        ok = false;
        continue;
      }
      const last = (await (await ks.partition('b')).get(`r${round}-last`))?.toString();
      const recovered = last === undefined ? -1 : Number(last);
      recoveredUpTo.set(round, recovered);
      if (recovered < log.acked) {
        t.fail(`round ${round}: batch ${log.acked} was acknowledged but only 0..${recovered} recovered`);
        ok = false;
      }
      ok = (await checkRound(t, ks, round, recovered)) && ok;
      const left = await debris(dir, PARTITIONS);
      if (left.length > 0) {
        t.fail(`round ${round}: files left after recovery: ${left.join(', ')}`);
        ok = false;
      }
      // The last reopen checks every round again: later crashes and recoveries (and the
      // merges that rewrote older rounds' data) must not have changed what was recovered.
      if (round === ROUNDS - 1) for (const [r, upTo] of recoveredUpTo) ok = (await checkRound(t, ks, r, upTo)) && ok;
    } finally {
      await ks.close();
    }
  }
  t.ok(ok, 'every acknowledged batch survived, every round is a whole-batch prefix, no orphan files after any reopen');
  const batches = [...recoveredUpTo.values()].reduce((n, r) => n + r + 1, 0);
  t.ok(batches > ROUNDS * 10, `${batches} batches recovered over ${ROUNDS} rounds`);
  t.ok(merges > ROUNDS, `the children completed ${merges} merges`);
  t.ok(killedMidMerge > 0, `${killedMidMerge} of ${ROUNDS} kills came while a merge was running (per the child's last report)`);
  t.comment(`${roundsWithDebris} of ${ROUNDS} crashes left files that recovery removed`);
});
