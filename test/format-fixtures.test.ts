// The on-disk format fixtures (test/fixtures/keyspace-v*/, written once by the version
// named in their expected JSON with scripts/make-format-fixture.mjs): this version must
// open a copy of each and read exactly the entries it holds, and `cairn inspect` must
// describe it as it was written. Works on copies; the committed files are never touched.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copy } from 'fs-extra/esm';
import { Keyspace } from '../lib/index.js';
import type { InspectReport } from '../lib/inspect/inspect-keyspace.js';
import { ExitCode } from '../lib/cli/exit-codes.js';
import { runCairn } from './cli/cli-helpers.js';
import { scratchDir } from './helpers/scratch.js';

const fixtures = fileURLToPath(new URL('fixtures/', import.meta.url));

type ExpectedValue = string | { bytes: number; sha256: string };

interface Expected {
  about: string;
  seqno: number;
  partitions: Record<string, [string, ExpectedValue][]>;
  deletedKeys: Record<string, string[]>;
  /** A subset of `cairn inspect --json`'s report, as the writing version produced it. */
  inspect: Partial<InspectReport>;
}

/** A value as the expected JSON writes it: printable UTF-8 as text, anything else by size and hash. */
function encode(value: Buffer): ExpectedValue {
  const text = value.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(value) && value.length <= 200 && [...text].every((c) => c >= ' ');
  return printable ? text : { bytes: value.length, sha256: createHash('sha256').update(value).digest('hex') };
}

const names = (await readdir(fixtures)).filter((name) => /^keyspace-v\d+$/.test(name)).sort();

t.test('there is a format fixture', async (t) => {
  t.ok(names.includes('keyspace-v1'), `fixtures: ${names.join(', ')}`);
});

/**
 * A copy of fixture `name` in a scratch directory, as its writer left it. Git keeps no
 * empty directory, so the segments/ of a partition that never flushed (which the writer
 * made) is made again here.
 */
async function copyFixture(t: Test, name: string, purpose: string): Promise<string> {
  const dir = join(await scratchDir(t, `fixture-${purpose}-${name}`), name);
  await copy(join(fixtures, name), dir);
  for (const partition of await readdir(join(dir, 'partitions'))) await mkdir(join(dir, 'partitions', partition, 'segments'), { recursive: true });
  return dir;
}

for (const name of names) {
  const expected = JSON.parse(await readFile(join(fixtures, `${name}.expected.json`), 'utf8')) as Expected;

  t.test(`${name}: cairn inspect describes it as written`, async (t) => {
    const dir = await copyFixture(t, name, 'inspect');
    const run = await runCairn(['inspect', dir, '--json']);
    t.equal(run.code, ExitCode.OK, run.stderr);
    const report = JSON.parse(run.stdout) as InspectReport;
    t.match(report, expected.inspect, 'partitions, levels, manifests, journals and seqnos as the writer left them');
    t.same(report.debris, [], 'nothing for recovery to delete');
    t.same(
      report.partitions.map((p) => p.name),
      Object.keys(expected.partitions).sort(),
      'the registry names exactly the expected partitions (a deleted one stays deleted)',
    );
  });

  t.test(`${name}: Keyspace.open reads every entry`, async (t) => {
    const dir = await copyFixture(t, name, 'open');
    let ks = await Keyspace.open(dir);
    t.teardown(() => ks.close());
    t.equal(ks.seqno, expected.seqno, 'recovery replays the journals up to the last write');
    t.same(ks.partitionNames(), Object.keys(expected.partitions).sort());
    for (const [partition, entries] of Object.entries(expected.partitions)) {
      const p = await ks.partition(partition);
      const got: [string, ExpectedValue][] = [];
      for await (const [k, v] of p.entries()) got.push([k.toString('utf8'), encode(v)]);
      t.same(got, entries, `${partition}: every key and value, in order`);
      const reversed: string[] = [];
      for await (const k of p.keys({ reverse: true })) reversed.push(k.toString('utf8'));
      t.same(reversed, entries.map(([k]) => k).reverse(), `${partition}: the same keys in reverse`);
      let wrong = 0;
      for (const [k, v] of entries) if (JSON.stringify(encode((await p.get(k)) ?? Buffer.alloc(0))) !== JSON.stringify(v)) wrong++;
      t.equal(wrong, 0, `${partition}: every key by get`);
    }
    for (const [partition, keys] of Object.entries(expected.deletedKeys)) {
      const p = await ks.partition(partition);
      for (const k of keys) t.equal(await p.has(k), false, `${partition}/${k} stays deleted`);
    }

    // The recovered keyspace is an ordinary one: it takes writes and reopens with them.
    const first = Object.keys(expected.partitions)[0];
    await (await ks.partition(first)).put('written-by-this-version', 'yes');
    await ks.close();
    ks = await Keyspace.open(dir);
    t.equal((await (await ks.partition(first)).get('written-by-this-version'))?.toString(), 'yes');
    t.equal(ks.seqno, expected.seqno + 1);
  });
}
