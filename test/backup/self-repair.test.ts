// A damaged store heals instead of spreading the damage, on file:// and on S3 (s3rver):
// a full verify quarantines an object whose content does not match its name and names
// the backups it breaks, and the next backup uploads that content again (before the fix
// every later backup reused the damaged object); a malformed manifest no longer blocks
// list, 'latest' and prune; read-only operations on a store that does not exist are
// CAIRN_NOT_FOUND and create nothing; an existence check that sees a stored checksum
// replaces an object whose checksum is wrong.
import t, { type Test } from 'tap';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { openStore } from '../../lib/backup/open-store.js';
import type { BackupStore, StoreObjectInfo } from '../../lib/backup/store.js';
import { manifestKey, parseObjectKey } from '../../lib/backup/store-layout.js';
import { listAll, readObject } from '../../lib/backup/store-objects.js';
import { ErrorCodes } from '../../lib/errors.js';
import { startS3Server } from '../helpers/s3-server.js';
import { WatchedStore, Workload, readKeyspace, scratchDir, useFormatOne } from './backup-helpers.js';

const server = await startS3Server(t);
let prefixes = 0;

const backends: [name: string, url: (dir: string) => string][] = [
  ['file://', (dir) => pathToFileURL(join(dir, 'store')).href],
  ['s3', () => server.urlWith({}, `repair-${++prefixes}`)],
];

async function setup(t: Test, url: string, dir: string) {
  const engine = await BackupEngine.open(url);
  t.teardown(() => engine.close());
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(600);
  // A flush still running on a worker when the first backup cuts would add its segment to
  // the second backup: let every flush finish, so the second uploads only what it must.
  await w.ks.flush();
  return { engine, w };
}

/** Flips one byte in the middle of the object, through the store (a real replace on either backend). */
async function damage(store: BackupStore, key: string): Promise<void> {
  const bytes = await readObject(store, key);
  bytes[bytes.length >> 1] ^= 0x40;
  await store.put(key, bytes);
}

for (const [name, urlOf] of backends) {
  t.test(`${name}: a damaged object is quarantined and the next backup uploads it again`, async (t) => {
    const dir = await scratchDir(t, `repair-${name === 's3' ? 's3' : 'file'}`);
    const { engine, w } = await setup(t, urlOf(dir), dir);
    const first = await engine.backup(w.ks);
    const manifest = await engine.info(first.id);
    const victim = manifest.files.find((f) => f.path.endsWith('.sst'))!;
    const key = (await listAll(engine.store, 'files/')).find((o) => parseObjectKey(o.key)?.sha256 === victim.sha256)!.key;
    await damage(engine.store, key);

    // Before the fix, this backup referenced the damaged object (same size) and could not be restored.
    const second = await engine.backup(w.ks);
    t.equal(second.filesUploaded, 0, 'a same-size damaged object is not seen by the existence check alone');

    const verified = await engine.verify(first.id, { full: true });
    t.notOk(verified.ok);
    t.same(verified.problems.map((p) => [p.path, p.kind]), [[victim.path, 'checksum']]);
    t.same(verified.quarantined.map((q) => q.key), [key], 'the damaged object is moved aside');
    t.match(verified.quarantined[0]!.to, /^quarantine\/\d{8}T\d{6}Z-\d{3}\/files\//);
    t.same(verified.brokenBackups, [first.id, second.id], 'and every backup it breaks is named');
    t.ok(await engine.store.head(verified.quarantined[0]!.to), 'the quarantined copy is kept for forensics');
    t.equal(await engine.store.head(key), undefined, 'nothing references it under its name any more');

    const third = await engine.backup(w.ks);
    t.equal(third.filesUploaded, 1, 'the next backup uploads the missing content again');
    for (const id of [first.id, second.id, third.id]) {
      t.ok((await engine.verify(id, { full: true })).ok, `${id} verifies in full again`);
    }
    const target = join(dir, 'restored');
    await engine.restore(second.id, target);
    t.same(await readKeyspace(target), w.contentsAt(second.seqno), 'the backup taken while the object was damaged restores');
  });

  t.test(`${name}: a malformed manifest does not block list, latest or prune`, async (t) => {
    const dir = await scratchDir(t, `manifests-${name === 's3' ? 's3' : 'file'}`);
    const { engine, w } = await setup(t, urlOf(dir), dir);
    const good = await engine.backup(w.ks);
    await w.write(10);
    const newest = await engine.backup(w.ks);
    const empty = '29990101T000000Z-00000001';
    const truncated = '29990101T000000Z-00000002';
    await engine.store.put(manifestKey(empty), new Uint8Array(0));
    const whole = await readObject(engine.store, manifestKey(newest.id));
    await engine.store.put(manifestKey(truncated), whole.subarray(0, whole.length >> 1));

    const listed = await engine.list();
    t.same(listed.map((b) => b.id), [good.id, newest.id], 'the readable backups are listed');
    t.same(listed.damaged.map((d) => [d.id, d.code]), [[empty, ErrorCodes.CORRUPTION], [truncated, ErrorCodes.CORRUPTION]], 'the damaged ones separately');
    t.equal((await engine.info('latest')).id, newest.id, "'latest' skips them");
    await t.rejects(engine.info(empty), { code: ErrorCodes.CORRUPTION }, 'asking for one by id still says what it is');

    const kept = await engine.prune({ graceMs: 0 });
    t.same(kept.deletedDamaged, [], 'without a rule nothing is deleted');
    const pruned = await engine.prune({ keepLast: 5, graceMs: 0 });
    t.same(pruned.deletedDamaged, [empty, truncated], 'a rule deletes the damaged manifests');
    t.same(pruned.deleted, []);
    const after = await engine.list();
    t.same(after.damaged, []);
    t.same(after.map((b) => b.id), [good.id, newest.id]);
  });

  t.test(`${name}: read-only operations on a store that does not exist create nothing`, async (t) => {
    const dir = await scratchDir(t, `missing-${name === 's3' ? 's3' : 'file'}`);
    const url = urlOf(dir);
    const engine = await BackupEngine.open(url);
    t.teardown(() => engine.close());
    const ops: [string, () => Promise<unknown>][] = [
      ['list', () => engine.list()],
      ['info', () => engine.info('latest')],
      ['verify', () => engine.verify('latest')],
      ['restore', () => engine.restore('latest', join(dir, 'restored'))],
      ['prune', () => engine.prune({ keepLast: 1 })],
    ];
    for (const [what, op] of ops) {
      await t.rejects(op(), { code: ErrorCodes.NOT_FOUND }, `${what} is CAIRN_NOT_FOUND`);
    }
    if (name === 'file://') await t.rejects(stat(join(dir, 'store')), { code: 'ENOENT' }, 'no directory was created');
    else t.same(await listAll(engine.store, ''), [], 'no object was written');
    await t.rejects(stat(join(dir, 'restored')), { code: 'ENOENT' });

    // Only a backup creates the store.
    const w = await Workload.open(join(dir, 'ks'));
    t.teardown(() => w.ks.close());
    await w.write(20);
    await engine.backup(w.ks);
    t.equal((await engine.list()).length, 1);
  });
}

t.test('an existence check that sees a wrong stored checksum uploads the object again', async (t) => {
  const dir = await scratchDir(t, 'checksum-head');
  const inner = await openStore(join(dir, 'store'));
  // What S3 returns with ChecksumMode for an object whose stored SHA-256 is not its name.
  class ReportsChecksum extends WatchedStore {
    lie = false;
    override async head(key: string): Promise<StoreObjectInfo | undefined> {
      const info = await super.head(key);
      const named = parseObjectKey(key)?.sha256;
      if (info === undefined || named === undefined) return info;
      return { ...info, sha256: this.lie ? '0'.repeat(64) : named };
    }
  }
  const store = new ReportsChecksum(inner);
  const engine = new BackupEngine(store);
  t.teardown(() => store.close());
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  // Format 1: an object's stored SHA-256 is its name (format 2 objects are authenticated by
  // the codec and re-uploaded after a full verify quarantines them).
  await useFormatOne(store, w.ks.path);
  await w.write(200);
  const first = await engine.backup(w.ks);
  t.equal((await engine.backup(w.ks)).filesUploaded, 0, 'matching checksums: nothing uploaded');
  store.lie = true;
  const third = await engine.backup(w.ks);
  t.equal(third.filesUploaded, first.files, 'every object whose stored checksum is wrong is replaced');
});

t.test('s3: a put with a sha256 is accepted and head reports the checksum when the server keeps one', async (t) => {
  const store = await openStore(server.urlWith({}, 'checksum'));
  t.teardown(() => store.close());
  const body = Buffer.from('checked content');
  const { createHash } = await import('node:crypto');
  const sha256 = createHash('sha256').update(body).digest('hex');
  await store.put('files/x.meta', body, { sha256 });
  const head = await store.head('files/x.meta');
  t.equal(head?.size, body.length);
  // s3rver keeps no checksums; real S3 (and MinIO) return the one given at upload.
  if (head?.sha256 !== undefined) t.equal(head.sha256, sha256);
  await t.rejects(store.put('files/y.meta', body, { sha256: 'nope' }), TypeError);
});
