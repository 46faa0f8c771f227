// The BackupEngine over S3Store on a loopback s3rver: backups, incremental uploads,
// verify and restore through BackupEngine.open(url); a server killed mid-backup fails it
// with a network code and no visible backup, and after a restart the retry uploads
// nothing it already sent.
import t from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { startS3Server } from '../helpers/s3-server.js';
import { Workload, readKeyspace, scratchDir, tempNames } from './backup-helpers.js';

const server = await startS3Server(t);

t.test('backup, incremental backup, verify and restore on S3', async (t) => {
  const dir = await scratchDir(t, 's3');
  const engine = await BackupEngine.open(server.urlWith({}, 'e2e'));
  t.teardown(() => engine.close());
  t.notMatch(engine.store.url, /S3RVER/, 'the store url carries no credentials');
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(1500);
  const first = await engine.backup(w.ks, { label: 'first' });
  t.equal(first.bytesUploaded, first.bytesStored);
  await w.write(10);
  const second = await engine.backup(w.ks);
  t.ok(second.bytesUploaded < second.bytesTotal / 4, `the second backup uploads little (${second.bytesUploaded} of ${second.bytesTotal})`);
  t.same((await engine.list()).map((b) => b.id), [first.id, second.id]);
  for (const r of [first, second]) {
    t.same((await engine.verify(r.id, { full: true })).problems, []);
    await engine.restore(r.id, join(dir, r.id));
    t.same(await readKeyspace(join(dir, r.id)), w.contentsAt(r.seqno), `restore of ${r.id} holds the data as of its seqno`);
  }
  const pruned = await engine.prune({ keepLast: 1, graceMs: 0 });
  t.same(pruned.deleted, [first.id]);
  t.ok((await engine.verify(second.id, { full: true })).ok, 'prune kept what the newest backup needs');
});

t.test('a server killed mid-backup: a coded error, no backup; after a restart the retry resumes', async (t) => {
  const dir = await scratchDir(t, 's3-outage');
  const engine = await BackupEngine.open(server.urlWith({ maxAttempts: '2' }, 'outage'));
  t.teardown(() => engine.close());
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(1500);
  await w.ks.flush();
  // Dies when the manifest is sent: every content object is already uploaded.
  const { died } = await server.crashOn('PUT', '/backups/');
  const failure = await engine.backup(w.ks).then(
    () => undefined,
    (err: unknown) => err as { code?: unknown },
  );
  await died;
  t.match(failure?.code, /^(ECONNREFUSED|ECONNRESET|EPIPE)$/, `rejects with a network code (${String(failure?.code)})`);
  t.same(await tempNames(dir), [], 'the temporary checkpoint is removed');
  await server.restart();
  t.same(await engine.list(), [], 'no backup is visible');
  const retry = await engine.backup(w.ks);
  t.equal(retry.filesUploaded, 0, 'the retry finds every object uploaded before the crash');
  t.ok((await engine.verify(retry.id, { full: true })).ok);
});
