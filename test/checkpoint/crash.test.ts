// SIGKILL during backupTo: a child writes batches and takes checkpoints into numbered
// destinations; the parent kills it at a random moment (in every other round only once a
// first checkpoint has completed, so that how many get checked does not depend on the
// machine's speed). Every destination then either does
// not exist or opens as a consistent checkpoint (a whole-batch prefix of the writes, holding
// every batch acknowledged before it started, at the seqno the child printed), and the
// source reopens with every acknowledged batch. Staging debris is counted, not failed.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { scriptPath, firstLine, exited } from '../helpers/spawn-ts.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { Rng } from '../helpers/rng.js';
import { scaled } from '../helpers/scale.js';
import { tempDir } from './fixtures/checkpoint-fixtures.js';

const ROUNDS = scaled(25, 10);
const child = scriptPath(import.meta.url, 'fixtures/crash-child.mjs');

interface RoundLog {
  acked: number;
  /** Checkpoint k: batches acknowledged before it started, and its seqno once it completed. */
  started: Map<number, number>;
  completed: Map<number, number>;
  /** Resolves when the child reports its first completed checkpoint. */
  firstCompleted: Promise<void>;
}

function parse(proc: ReturnType<typeof spawnDist>): RoundLog {
  let firstCompleted!: () => void;
  const log: RoundLog = { acked: 0, started: new Map(), completed: new Map(), firstCompleted: new Promise((resolve) => (firstCompleted = resolve)) };
  let buffer = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const [kind, x, y] = buffer.slice(0, nl).split(' ');
      buffer = buffer.slice(nl + 1);
      if (kind === 'ack') log.acked = Math.max(log.acked, Number(x) + 1);
      else if (kind === 'start') log.started.set(Number(x), Number(y));
      else if (kind === 'cp') {
        log.completed.set(Number(x), Number(y));
        firstCompleted();
      }
    }
  });
  return log;
}

/**
 * The batches of `round` present in an open keyspace: each must be whole or absent, with
 * well-formed values, and (one sequential writer) the present ones must be a prefix.
 * Returns that prefix's length, or a description of what is wrong.
 */
async function batchPrefix(ks: Keyspace, round: number, upTo: number): Promise<number | string> {
  const a = await ks.partition('a');
  const b = await ks.partition('b');
  let prefix = 0;
  for (let i = 0; i < upTo; i++) {
    const values = [0, 1, 2].map((j) => a.get(`r${round}-b${i}-${j}`)).concat(b.get(`r${round}-b${i}`));
    const got = (await Promise.all(values)).map((v) => v?.toString());
    const want = [0, 1, 2].map((j) => `v${round}-${i}-${j}-${'x'.repeat(i % 300)}`).concat(`w${round}-${i}`);
    const present = got.filter((v) => v !== undefined).length;
    if (present !== 0 && present !== 4) return `batch ${i} is partly present`;
    if (present === 4 && got.some((v, n) => v !== want[n])) return `batch ${i} has malformed values`;
    if (present === 4 && prefix !== i) return `batch ${i} present after missing batch ${prefix}`;
    if (present === 4) prefix = i + 1;
  }
  return prefix;
}

t.test(`SIGKILL during backupTo, ${ROUNDS} rounds`, async (t) => {
  const root = await tempDir(t, 'cairn-ckpt-crash-');
  const src = join(root, 'src');
  const backups = join(root, 'backups');
  const rng = new Rng(20261203);
  let problems = 0;
  let checkpoints = 0;
  let staging = 0;
  let killedMidway = 0;
  const ackedByRound: number[] = [];

  for (let round = 0; round < ROUNDS && problems === 0; round++) {
    const proc = spawnDist(child, [src, backups, String(round)]);
    const log = parse(proc);
    t.equal(await firstLine(proc), 'ready', `round ${round}: child opened the keyspace`);
    // The kill lands among checkpoints however slow the machine is: the clock starts at
    // the round's first completed one (a busy CI host once left whole rounds without any).
    await Promise.race([log.firstCompleted, exited(proc)]);
    await new Promise((r) => setTimeout(r, rng.int(10, 200)));
    proc.kill('SIGKILL');
    await exited(proc);
    ackedByRound[round] = log.acked;

    const names = await readdir(backups).catch(() => [] as string[]);
    staging += names.filter((n) => n.startsWith(`r${round}-`) && n.includes('.tmp-')).length;
    for (const name of names) {
      const m = new RegExp(`^r${round}-c(\\d+)$`).exec(name);
      if (m === null) continue;
      const k = Number(m[1]);
      checkpoints++;
      if (!log.completed.has(k)) killedMidway++;
      const cp = await Keyspace.open(join(backups, name));
      const prefix = await batchPrefix(cp, round, log.acked + 50);
      const seqno = cp.seqno;
      await cp.close();
      const fail = (why: string) => {
        problems++;
        t.fail(`round ${round} checkpoint ${k}: ${why}`);
      };
      if (typeof prefix === 'string') fail(prefix);
      else if (prefix < (log.started.get(k) ?? 0)) fail(`holds ${prefix} batches, ${log.started.get(k)} were acknowledged before it started`);
      const printed = log.completed.get(k);
      if (printed !== undefined && printed !== seqno) fail(`reopens at seqno ${seqno}, backupTo reported ${printed}`);
    }

    const ks = await Keyspace.open(src);
    const prefix = await batchPrefix(ks, round, log.acked + 50);
    if (typeof prefix === 'string' || prefix < log.acked) {
      problems++;
      t.fail(`round ${round}: source after reopen: ${typeof prefix === 'string' ? prefix : `${prefix} batches, ${log.acked} acknowledged`}`);
    }
    // Earlier rounds' acknowledged batches survive every later recovery.
    if (round === ROUNDS - 1) {
      for (let r = 0; r < round; r++) {
        const p = await batchPrefix(ks, r, ackedByRound[r]);
        if (p !== ackedByRound[r]) {
          problems++;
          t.fail(`round ${r} lost acknowledged batches by the end: ${p}`);
        }
      }
    }
    await ks.close();
  }
  t.equal(problems, 0, 'every checkpoint consistent, every acknowledged batch in the source');
  t.ok(checkpoints >= ROUNDS / 2, `${checkpoints} checkpoints checked (at least one in every other round)`);
  t.comment(`${checkpoints} checkpoints checked, ${killedMidway} of them renamed but not reported before the kill; ${staging} staging directories left as debris`);
});
