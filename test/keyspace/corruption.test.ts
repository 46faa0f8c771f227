// Corruption: a byte flipped in a journal, a segment, a manifest or CURRENT must end in
// CAIRN_CORRUPTION (at open or at the read that meets it) or, for the journal's last
// record only, a clean drop of that torn tail — never in wrong data or a silent gap.
import t, { type Test } from 'tap';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';

const N = 120;
const key = (i: number) => `key-${String(i).padStart(4, '0')}`;
const value = (i: number) => `value-${i}-${'v'.repeat(i % 37)}`;

async function makeSource(t: Test, flush: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-corrupt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ks = await Keyspace.open(join(dir, 'ks'), { blockSize: 256 });
  const p = await ks.partition('p');
  for (let i = 0; i < N; i++) await p.put(key(i), value(i));
  if (flush) await ks.flush();
  await ks.close();
  return dir;
}

type Outcome = 'corruption-at-open' | 'corruption-at-read' | 'intact' | 'torn-tail';

/** Opens a corrupted copy and classifies what happened; fails the test on wrong data or a gap. */
async function classify(t: Test, dir: string, where: string): Promise<Outcome> {
  let ks: Keyspace;
  try {
    ks = await Keyspace.open(dir);
  } catch (err) {
    if ((err as { code?: string }).code !== 'CAIRN_CORRUPTION') t.fail(`${where}: open failed with ${String(err)}`);
    return 'corruption-at-open';
  }
  try {
    if (!ks.partitionNames().includes('p')) {
      t.fail(`${where}: the partition vanished`);
      return 'intact';
    }
    const p = await ks.partition('p');
    let missingFrom: number | undefined;
    for (let i = 0; i < N; i++) {
      let got: Buffer | undefined;
      try {
        got = await p.get(key(i));
      } catch (err) {
        if ((err as { code?: string }).code !== 'CAIRN_CORRUPTION') t.fail(`${where}: read failed with ${String(err)}`);
        return 'corruption-at-read';
      }
      if (got === undefined) {
        missingFrom ??= i;
      } else {
        if (got.toString() !== value(i)) t.fail(`${where}: ${key(i)} returned wrong data`);
        if (missingFrom !== undefined) t.fail(`${where}: ${key(missingFrom)} is missing but the later ${key(i)} is present`);
      }
    }
    if (missingFrom === undefined) return 'intact';
    if (missingFrom !== N - 1) t.fail(`${where}: ${N - missingFrom} records lost, more than the torn last one`);
    return 'torn-tail';
  } finally {
    await ks.close();
  }
}

async function flipEach(t: Test, source: string, relative: (ks: string) => Promise<string>, positions: (size: number) => number[]) {
  const counts = new Map<Outcome, number>();
  const file = await relative(join(source, 'ks'));
  const size = (await readFile(file)).length;
  for (const pos of positions(size)) {
    const copy = `${source}-copy`;
    await rm(copy, { recursive: true, force: true });
    await cp(source, copy, { recursive: true });
    const target = file.replace(source, copy);
    const bytes = await readFile(target);
    bytes[pos] ^= 0x5a;
    await writeFile(target, bytes);
    const outcome = await classify(t, join(copy, 'ks'), `byte ${pos} of ${file.slice(source.length)}`);
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    await rm(copy, { recursive: true, force: true });
  }
  return counts;
}

const spread = (size: number, n: number) => Array.from(new Set(Array.from({ length: n }, (_, i) => Math.floor((i * size) / n))));

t.test('a flipped byte in the journal', async (t) => {
  const source = await makeSource(t, false);
  const journal = async (ks: string) => join(ks, 'journal', (await readdir(join(ks, 'journal'))).sort()[0]);
  const counts = await flipEach(t, source, journal, (size) => [...spread(size, 60), size - 1, size - 3]);
  t.ok((counts.get('corruption-at-open') ?? 0) > 0, `damage before good records is CAIRN_CORRUPTION (${counts.get('corruption-at-open')} times)`);
  t.ok((counts.get('torn-tail') ?? 0) > 0, `damage in the last record drops only that record (${counts.get('torn-tail')} times)`);
  t.notOk(counts.has('intact'), 'no flip goes unnoticed');
});

t.test('a flipped byte in a segment', async (t) => {
  const source = await makeSource(t, true);
  const segment = async (ks: string) => {
    const dir = join(ks, 'partitions', 'p', 'segments');
    return join(dir, (await readdir(dir))[0]);
  };
  const counts = await flipEach(t, source, segment, (size) => spread(size, 80));
  const detected = (counts.get('corruption-at-open') ?? 0) + (counts.get('corruption-at-read') ?? 0);
  t.ok(detected > 0, `detected ${detected} times`);
  t.notOk(counts.has('torn-tail'), 'a segment never loses entries silently');
});

t.test('a flipped byte in the manifest or CURRENT', async (t) => {
  const source = await makeSource(t, true);
  const manifest = async (ks: string) => {
    const dir = join(ks, 'partitions', 'p');
    return join(dir, (await readdir(dir)).find((n) => n.startsWith('MANIFEST-'))!);
  };
  const m = await flipEach(t, source, manifest, (size) => spread(size, 40));
  t.same([...m.keys()], ['corruption-at-open'], 'every manifest flip is refused at open');
  const current = async (ks: string) => join(ks, 'partitions', 'p', 'CURRENT');
  const c = await flipEach(t, source, current, (size) => spread(size, size));
  t.same([...c.keys()], ['corruption-at-open'], 'every CURRENT flip is refused at open');
});
