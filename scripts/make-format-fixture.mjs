// Writes the on-disk format fixture: test/fixtures/keyspace-v1/, a keyspace as this version
// of cairn leaves it, and test/fixtures/keyspace-v1.expected.json, what every later version
// must read from it. Run once per format version (`npm run build` first); the output is
// committed and never regenerated for the same version. Refuses to overwrite the fixture.
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Keyspace } from '../dist/index.js';
import { inspectKeyspace } from '../dist/inspect/inspect-keyspace.js';
import { NodeFileSystem } from '../dist/fs/node-file-system.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'keyspace-v1';
const fixtureDir = path.join(root, 'test', 'fixtures', NAME);
const expectedFile = path.join(root, 'test', 'fixtures', `${NAME}.expected.json`);
const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));

if (await stat(fixtureDir).catch(() => undefined)) {
  console.error(`${path.relative(root, fixtureDir)} exists: a committed fixture is never regenerated (delete it only when starting a new format version)`);
  process.exit(1);
}

/** `bytes` deterministic pseudo-random bytes (SHA-256 in counter mode), so the fixture is the same on every run. */
function pseudoRandom(bytes, seed) {
  const out = Buffer.alloc(bytes);
  for (let offset = 0, block = 0; offset < bytes; block++) offset += createHash('sha256').update(`${seed}:${block}`).digest().copy(out, offset);
  return out;
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** What the writes leave: partition -> key (utf8) -> value. */
const model = new Map();
function track(partition, key, value) {
  if (!model.has(partition)) model.set(partition, new Map());
  if (value === undefined) model.get(partition).delete(key);
  else model.get(partition).set(key, Buffer.from(value));
}

async function put(p, key, value) {
  await p.put(key, value);
  track(p.name, key, value);
}

async function del(p, key) {
  await p.delete(key);
  track(p.name, key, undefined);
}

async function settle(ks) {
  for (;;) {
    const busy = Object.values(ks.stats().partitions).some((s) => s.flushing || s.compacting || s.pendingCompactions > 0);
    if (!busy) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const work = await mkdtemp(path.join(tmpdir(), 'cairn-format-fixture-'));
const dir = path.join(work, NAME);
try {
  // Phase 1: segments over several levels. Tiny memtables and level budgets make every few
  // kilobytes a flush and every second flush a merge; deletes of flushed keys leave
  // tombstones in segments.
  let ks = await Keyspace.open(dir, {
    memtableBytes: 4096,
    journalFileBytes: 4096,
    blockSize: 1024,
    compaction: { level0Trigger: 2, baseLevelBytes: 12 * 1024, levelMultiplier: 2, targetFileBytes: 6 * 1024 },
  });
  const users = await ks.partition('users');
  const events = await ks.partition('events');
  const blobs = await ks.partition('blobs');
  await ks.partition('empty');
  for (let i = 0; i < 400; i++) await put(users, `user:${String(i).padStart(4, '0')}`, `{"id":${i},"name":"user ${i}","plan":"${['free', 'pro', 'team'][i % 3]}"}`);
  for (let i = 0; i < 300; i++) await put(events, `event:${String(i).padStart(6, '0')}`, `event ${i} at t=${1_700_000_000 + i * 37}`);
  for (let i = 0; i < 400; i += 5) await put(users, `user:${String(i).padStart(4, '0')}`, `{"id":${i},"name":"user ${i}","plan":"enterprise"}`);
  for (let i = 1; i < 400; i += 9) await del(users, `user:${String(i).padStart(4, '0')}`);
  await put(blobs, 'large', pseudoRandom(100 * 1024, 'large'));
  await put(blobs, 'small', 'a small value beside a large one');
  await put(blobs, 'empty-value', '');
  await put(blobs, 'caf\u00e9 \u2603', 'a key with non-ASCII UTF-8');
  await put(blobs, Buffer.from([0x00, 0xff, 0x10]).toString('latin1'), 'latin1 text as UTF-8');
  const batch = ks.batch();
  for (let i = 0; i < 20; i++) batch.put(events, `event:batch:${i}`, `batched ${i}`).put(users, `user:batch:${i}`, `batched ${i}`);
  batch.delete(events, 'event:000007');
  await batch.commit();
  for (let i = 0; i < 20; i++) {
    track('events', `event:batch:${i}`, `batched ${i}`);
    track('users', `user:batch:${i}`, `batched ${i}`);
  }
  track('events', 'event:000007', undefined);
  await ks.flush();
  await settle(ks);
  await ks.close();

  // One more flush with merges out of reach, so level 0 holds segments too.
  ks = await Keyspace.open(dir, { memtableBytes: 4096, journalFileBytes: 4096, blockSize: 1024, compaction: { level0Trigger: 1000, baseLevelBytes: 2 ** 40 } });
  const late = await ks.partition('users');
  for (let i = 0; i < 30; i++) await put(late, `user:late:${i}`, `flushed after the merges ${i}`);
  await ks.flush();
  await ks.close();

  // Phase 2: writes that stay in the journal (a memtable far larger than they are), over
  // several small journal files, so sealed journals hold unflushed writes: an overwrite, a
  // delete of a key that is in segments, new keys, and the records of a partition that is
  // then deleted (recovery must skip them).
  ks = await Keyspace.open(dir, { memtableBytes: 1024 * 1024, journalFileBytes: 4096 });
  const users2 = await ks.partition('users');
  const events2 = await ks.partition('events');
  const gone = await ks.partition('deleted-partition');
  for (let i = 0; i < 50; i++) await gone.put(`gone:${i}`, `never seen again ${i}`);
  await ks.deletePartition('deleted-partition');
  for (let i = 0; i < 250; i++) await put(events2, `event:journal:${String(i).padStart(4, '0')}`, `only in the journal ${i} ${'.'.repeat(i % 40)}`);
  await put(users2, 'user:0000', '{"id":0,"name":"overwritten in the journal"}');
  await del(users2, 'user:0012');
  await ks.close();

  const report = await inspectKeyspace(new NodeFileSystem(), dir);
  const sealedWithUnflushed = report.journals.filter((j) => j.lastSeqno !== undefined && report.partitions.every((p) => j.lastSeqno > p.persistedSeqno));
  const levels = (name) => report.partitions.find((p) => p.name === name).levels.map((l) => l.segments);
  const checks = {
    'users has segments in level 0 and in a deeper level': levels('users')[0] > 0 && levels('users').slice(1).some((n) => n > 0),
    'events has segments in a deeper level': levels('events').slice(1).some((n) => n > 0),
    'several sealed journals hold unflushed writes': sealedWithUnflushed.length >= 2,
    'tombstones are in segments': report.partitions.some((p) => p.levels.some((l) => l.tombstones > 0)),
    'no debris': report.debris.length === 0,
  };
  const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([what]) => what);
  if (failed.length > 0) throw new Error(`the fixture lacks what it is for: ${failed.join('; ')}\n${JSON.stringify(report, null, 2)}`);

  // Values as text when they are printable UTF-8, else by size and SHA-256.
  const encode = (value) => {
    const text = value.toString('utf8');
    const printable = Buffer.from(text, 'utf8').equals(value) && value.length <= 200 && [...text].every((c) => c >= ' ');
    return printable ? text : { bytes: value.length, sha256: sha256(value) };
  };
  const expected = {
    about: `Written by cairn ${version} with scripts/make-format-fixture.mjs. Every later version must open a copy of ${NAME}/ and read exactly these entries (keys and text values as UTF-8).`,
    seqno: report.lastSeqno,
    partitions: Object.fromEntries(
      [...model]
        .filter(([name]) => name !== 'deleted-partition')
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, kv]) => [name, [...kv].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(([k, v]) => [k, encode(v)])]),
    ),
    deletedKeys: { users: ['user:0001', 'user:0012'], events: ['event:000007'] },
    inspect: {
      format: report.format,
      keyspaceId: report.keyspaceId,
      createdAt: report.createdAt,
      lastSeqno: report.lastSeqno,
      debris: report.debris,
      partitions: report.partitions.map(({ name, id, manifest, persistedSeqno, levels }) => ({
        name,
        id,
        manifest,
        persistedSeqno,
        levels: levels.map(({ level, segments, bytes, entries, tombstones }) => ({ level, segments, bytes, entries, tombstones })),
      })),
      journals: report.journals.map(({ file, bytes, records, firstSeqno, lastSeqno, spare }) => ({ file, bytes, records, firstSeqno, lastSeqno, spare })),
    },
  };
  expected.partitions.empty ??= [];

  // Read it back from a copy (opening replays and may cut a spare journal) before committing to it.
  const copy = path.join(work, 'copy');
  await cp(dir, copy, { recursive: true });
  const check = await Keyspace.open(copy);
  try {
    if (check.seqno !== expected.seqno) throw new Error(`reopened at seqno ${check.seqno}, expected ${expected.seqno}`);
    for (const [name, entries] of Object.entries(expected.partitions)) {
      const got = [];
      for await (const [k, v] of (await check.partition(name)).entries()) got.push([k.toString('utf8'), encode(v)]);
      if (JSON.stringify(got) !== JSON.stringify(entries)) throw new Error(`partition ${name} does not read back as written`);
    }
  } finally {
    await check.close();
  }

  await cp(dir, fixtureDir, { recursive: true });
  await writeFile(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
  const files = report.partitions.reduce((n, p) => n + p.levels.reduce((m, l) => m + l.segments, 0), 0);
  console.log(`wrote ${path.relative(root, fixtureDir)} (${files} segments, ${report.journals.length} journals, seqno ${report.lastSeqno}) and ${path.relative(root, expectedFile)}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
