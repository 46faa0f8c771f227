// Backup store format 2 end to end, on file:// and on S3 (s3rver): compressed objects,
// client-side encryption (round trip; no plaintext byte of a known value anywhere in the
// store; a wrong or missing key is CAIRN_BAD_KEY before anything is written or restored;
// a flipped byte is CAIRN_CORRUPTION; a swapped manifest and an altered store.json are
// detected; key rotation), and the format-1 fixture store, which still lists, verifies,
// restores and takes new (format-1) backups.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { copy } from 'fs-extra/esm';
import { BackupEngine, type BackupEngineOptions } from '../../lib/backup/backup-engine.js';
import { manifestKey } from '../../lib/backup/store-layout.js';
import { listAll, readObject } from '../../lib/backup/store-objects.js';
import { ErrorCodes } from '../../lib/errors.js';
import { Keyspace } from '../../lib/index.js';
import { startS3Server } from '../helpers/s3-server.js';
import { WatchedStore, readKeyspace, scratchDir } from './backup-helpers.js';

const server = await startS3Server(t);
let prefixes = 0;
const backends: [name: string, url: (dir: string) => string][] = [
  ['file', (dir) => pathToFileURL(join(dir, 'store')).href],
  ['s3', () => server.urlWith({}, `format2-${++prefixes}`)],
];

/** A value no compressor or cipher would produce by chance, written many times. */
const MARKER = 'plaintext-marker-7f3a9c';

/** An open keyspace whose values carry MARKER; `expected` is what a restore must hold. */
async function keyspaceWithMarker(t: Test, dir: string): Promise<Keyspace & { expected: Map<string, Map<string, string>> }> {
  const ks = await Keyspace.open(join(dir, 'ks'), { memtableBytes: 64 * 1024 });
  t.teardown(() => ks.close());
  const users = await ks.partition('users');
  const kv = new Map<string, string>();
  for (let i = 0; i < 450; i++) {
    const value = i < 400 ? `${MARKER}-${i}-${'x'.repeat(100)}` : `${MARKER}-${i}`;
    await users.put(`user-${i}`, value);
    kv.set(`user-${i}`, value);
    if (i === 399) await ks.flush();
  }
  return Object.assign(ks, { expected: new Map([['users', kv]]) });
}

async function open(url: string, options?: BackupEngineOptions): Promise<BackupEngine> {
  return BackupEngine.open(url, options);
}

/** Every stored byte of the store, concatenated (objects, manifests, store.json). */
async function everyStoredByte(engine: BackupEngine): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const o of await listAll(engine.store, '')) parts.push(await readObject(engine.store, o.key));
  return Buffer.concat(parts);
}

for (const [name, urlOf] of backends) {
  t.test(`${name}: an encrypted store round-trips and holds no plaintext`, async (t) => {
    const dir = await scratchDir(t, `enc-${name}`);
    const url = urlOf(dir);
    const key = randomBytes(32);
    const ks = await keyspaceWithMarker(t, dir);
    const engine = await open(url, { encryption: { key } });
    t.teardown(() => engine.close());
    const result = await engine.backup(ks);
    t.ok(result.bytesStored < result.bytesTotal, `compressed before encryption (${result.bytesStored} of ${result.bytesTotal})`);
    const info = await engine.storeInfo();
    t.equal(info?.format, 2);
    t.equal(info?.encryption?.algorithm, 'aes-256-gcm');

    const stored = await everyStoredByte(engine);
    t.equal(stored.indexOf(MARKER), -1, 'no value appears in the store');
    t.equal(stored.indexOf('user-1'), -1, 'no key appears in the store');
    t.equal(stored.indexOf('partitions/users'), -1, 'manifests are encrypted too');
    for (const o of await listAll(engine.store, 'files/')) {
      t.notOk((await engine.info(result.id)).files.some((f) => o.key.includes(f.sha256)), 'object names are not the content hashes');
    }

    t.ok((await engine.verify(result.id, { full: true })).ok);
    const target = join(dir, 'restored');
    await engine.restore(result.id, target);
    t.same(await readKeyspace(target), ks.expected, 'the restore holds the data');
  });

  t.test(`${name}: a wrong or missing key is CAIRN_BAD_KEY before anything is written or restored`, async (t) => {
    const dir = await scratchDir(t, `badkey-${name}`);
    const url = urlOf(dir);
    const key = randomBytes(32);
    const ks = await keyspaceWithMarker(t, dir);
    const owner = await open(url, { encryption: { key } });
    t.teardown(() => owner.close());
    const { id } = await owner.backup(ks);
    const before = (await listAll(owner.store, '')).map((o) => o.key);

    for (const [what, options] of [
      ['a wrong key', { encryption: { key: randomBytes(32) } }],
      ['no key', {}],
    ] as const) {
      const engine = await open(url, options);
      t.teardown(() => engine.close());
      await t.rejects(engine.backup(ks), { code: ErrorCodes.BAD_KEY }, `${what}: backup`);
      await t.rejects(engine.list(), { code: ErrorCodes.BAD_KEY }, `${what}: list`);
      await t.rejects(engine.restore(id, join(dir, 'restored')), { code: ErrorCodes.BAD_KEY }, `${what}: restore`);
    }
    t.same((await listAll(owner.store, '')).map((o) => o.key), before, 'nothing was written (no lease, no object, no manifest)');
    await t.rejects(stat(join(dir, 'restored')), { code: 'ENOENT' }, 'no restore target was made');
    await t.rejects(open(url, { encryption: { key: 'not a key' } }), TypeError);
  });

  t.test(`${name}: tampering is detected: a flipped byte, a swapped manifest, an altered store.json`, async (t) => {
    const dir = await scratchDir(t, `tamper-${name}`);
    const url = urlOf(dir);
    const key = randomBytes(32);
    const ks = await keyspaceWithMarker(t, dir);
    const engine = await open(url, { encryption: { key } });
    t.teardown(() => engine.close());
    const first = await engine.backup(ks);
    await (await ks.partition('users')).put('late', 'write');
    const second = await engine.backup(ks);

    // One flipped byte in a content object.
    const manifest = await engine.info(first.id);
    const objects = await listAll(engine.store, 'files/');
    const victim = objects.find((o) => o.key.endsWith('.sst'))!;
    const bytes = await readObject(engine.store, victim.key);
    bytes[bytes.length >> 1] ^= 0x01;
    await engine.store.put(victim.key, bytes);
    const verified = await engine.verify(first.id, { full: true, quarantine: false });
    t.same(verified.problems.map((p) => p.kind), verified.problems.map(() => 'checksum'));
    t.ok(verified.problems.length >= 1, 'the full verify names the damaged file');
    await t.rejects(engine.restore(first.id, join(dir, 'r1')), { code: ErrorCodes.CORRUPTION }, 'restore refuses it');
    t.ok(manifest.files.length > 0);

    // A manifest passed off under another backup's name.
    const firstBytes = await readObject(engine.store, manifestKey(first.id));
    await engine.store.put(manifestKey(second.id), firstBytes);
    await t.rejects(engine.info(second.id), { code: ErrorCodes.CORRUPTION }, 'a swapped manifest fails authentication');

    // store.json with another owner written in.
    const storeJson = JSON.parse((await readObject(engine.store, 'store.json')).toString()) as Record<string, unknown>;
    await engine.store.put('store.json', Buffer.from(JSON.stringify({ ...storeJson, keyspaceId: 'someone-else' })));
    await t.rejects(engine.list(), { code: ErrorCodes.CORRUPTION }, 'an altered store.json is detected');
  });

  t.test(`${name}: rotating the key rewrites store.json only`, async (t) => {
    const dir = await scratchDir(t, `rotate-${name}`);
    const url = urlOf(dir);
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32).toString('hex');
    const ks = await keyspaceWithMarker(t, dir);
    const store = new WatchedStore((await open(url)).store);
    const engine = new BackupEngine(store, { encryption: { key: oldKey } });
    t.teardown(() => store.close());
    const { id } = await engine.backup(ks);
    store.puts = [];
    await engine.rotateKey(newKey);
    t.same(store.puts.map((p) => p.key), ['store.json'], 'no object is rewritten');
    await t.rejects(new BackupEngine(store, { encryption: { key: oldKey } }).list(), { code: ErrorCodes.BAD_KEY }, 'the old key no longer opens the store');
    const rotated = new BackupEngine(store, { encryption: { key: newKey } });
    await rotated.restore(id, join(dir, 'restored'));
    t.same(await readKeyspace(join(dir, 'restored')), ks.expected);
    await t.rejects(new BackupEngine(store).rotateKey(randomBytes(32)), { code: ErrorCodes.BAD_KEY }, 'rotation needs the current key');
  });
}

t.test('the format-1 fixture store still lists, verifies, restores and takes backups', async (t) => {
  const dir = await scratchDir(t, 'store-v1');
  const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
  const root = join(dir, 'store');
  await copy(join(fixtures, 'backup-store-v1'), root);
  const original = join(dir, 'keyspace-v1');
  await copy(join(fixtures, 'keyspace-v1'), original);
  for (const p of await readdir(join(original, 'partitions'))) await import('node:fs/promises').then((fs) => fs.mkdir(join(original, 'partitions', p, 'segments'), { recursive: true }));

  const engine = await open(root);
  t.teardown(() => engine.close());
  t.equal((await engine.storeInfo())?.format, 1);
  const [only] = await engine.list();
  t.equal(only?.label, 'format-1 fixture');
  t.ok((await engine.verify('latest', { full: true })).ok);
  await engine.restore('latest', join(dir, 'restored'));
  const expected = await readKeyspace(original);
  t.same(await readKeyspace(join(dir, 'restored')), expected, 'the restore holds what the fixture keyspace holds');

  const ks = await Keyspace.open(join(dir, 'restored'));
  t.teardown(() => ks.close());
  await (await ks.partition(expected.keys().next().value!)).put('added', 'later');
  const next = await engine.backup(ks);
  t.equal((await engine.info(next.id)).format, 1, 'a format-1 store keeps format 1');
  const manifestText = (await readFile(join(root, 'backups', `${next.id}.json`))).toString();
  t.match(manifestText, /"format": 1/, 'its manifests stay plain JSON');
  await engine.restore(next.id, join(dir, 'again'));
  t.equal((await readKeyspace(join(dir, 'again'))).get(expected.keys().next().value!)?.get('added'), 'later');
  await t.rejects(open(root, { encryption: { key: randomBytes(32) } }).then((e) => e.list()), { code: ErrorCodes.BAD_KEY }, 'a key for a store that is not encrypted');
});
