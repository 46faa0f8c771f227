// Crash safety: a child process commits batches and reports each acknowledgement; the
// parent SIGKILLs it at a random moment, reopens the keyspace and checks that every
// acknowledged batch is there and every batch, range deletes included, is all-or-nothing. Rounds accumulate in one
// keyspace, so recovery also runs over the debris of earlier crashes.
import t from 'tap';
import { Keyspace } from '../../lib/index.js';
import { scriptPath, firstLine, exited } from '../helpers/spawn-ts.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { Rng } from '../helpers/rng.js';
import { scaled } from '../helpers/scale.js';
import { scratchDir } from '../helpers/scratch.js';

const ROUNDS = scaled(25, 10);
const child = scriptPath(import.meta.url, 'crash-child.mjs');

t.test(`SIGKILL during writes, ${ROUNDS} rounds`, async (t) => {
  const dir = await scratchDir(t, 'crash');
  const rng = new Rng(20261121);
  const acked = new Map<number, number>(); // round -> highest i acknowledged (acks of a burst may come out of order)
  const ackSets = new Map<number, Set<number>>();
  let problems = 0;
  let rangeDeletes = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const proc = spawnDist(child, [dir, String(round), round % 5 === 4 ? 'sync' : 'buffered']);
    const acks = new Set<number>();
    let buffer = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = /^ack (\d+) (\d+)$/.exec(line);
        if (m) acks.add(Number(m[2]));
      }
    });
    t.equal(await firstLine(proc), 'ready', `round ${round}: child opened the keyspace`);
    await new Promise((r) => setTimeout(r, rng.int(5, 250)));
    proc.kill('SIGKILL');
    await exited(proc);
    ackSets.set(round, acks);
    acked.set(round, acks.size === 0 ? -1 : Math.max(...acks));

    // Each reopen checks the round just killed; the last one checks every round again,
    // proving later recoveries did not disturb earlier data.
    const ks = await Keyspace.open(dir);
    const a = await ks.partition('a');
    const b = await ks.partition('b');
    const toCheck = round === ROUNDS - 1 ? [...ackSets] : [[round, acks] as const];
    for (const [r, set] of toCheck) {
      const top = acked.get(r)!;
      for (let i = 0; i <= top + 10; i++) {
        const present: boolean[] = [];
        // Keys 1 and 2 of batch i are range-deleted by batch i + 5 when that one's number is 10 mod 11.
        const clearedBy = (i + 5) % 11 === 10 ? i + 5 : undefined;
        for (let j = 0; j < 3; j++) {
          // Key j=0 of batch i-1 is deleted by batch i when i % 7 === 0; check the others.
          if (j === 0 && (i + 1) % 7 === 0) continue;
          if (j > 0 && clearedBy !== undefined) continue;
          const v = await a.get(`r${r}-b${i}-${j}`);
          present.push(v !== undefined);
          if (v !== undefined && v.toString() !== `v${r}-${i}-${j}-${'x'.repeat(i % 200)}`) problems++;
        }
        const w = await b.get(`r${r}-b${i}`);
        present.push(w !== undefined && w.toString() === `w${r}-${i}`);
        const all = present.every(Boolean);
        const none = present.every((p) => !p);
        if (!all && !none) {
          problems++;
          t.fail(`round ${r} batch ${i} is partly present: ${present}`);
        }
        if (set.has(i) && !all) {
          problems++;
          t.fail(`round ${r} batch ${i} was acknowledged but is missing`);
        }
        if (clearedBy !== undefined && all) {
          // The range delete is all-or-nothing with its batch, and only hides what it covers.
          const clearerPresent = (await b.get(`r${r}-b${clearedBy}`)) !== undefined;
          const left = [(await a.get(`r${r}-b${i}-1`)) !== undefined, (await a.get(`r${r}-b${i}-2`)) !== undefined];
          if (left.some((p) => p === clearerPresent)) {
            problems++;
            t.fail(`round ${r}: keys 1, 2 of batch ${i} are ${left} while batch ${clearedBy}, which range-deletes them, is ${clearerPresent ? '' : 'not '}present`);
          }
          if (clearerPresent) rangeDeletes++;
        }
      }
    }
    await ks.close();
    if (problems > 0) break;
  }
  t.equal(problems, 0, 'every acknowledged batch survived, every batch all-or-nothing');
  const total = [...ackSets.values()].reduce((n, s) => n + s.size, 0);
  t.ok(total > ROUNDS, `${total} acknowledged batches checked`);
  t.ok(rangeDeletes > 0, `${rangeDeletes} range deletes checked after recovery`);
});
