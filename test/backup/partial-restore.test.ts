// Partial restore, on file:// and on S3 (s3rver): restoring one partition of a backup
// fetches only that partition's objects (plus keyspace.json and the journals) and the
// result opens with only that partition, its data as of the backup; an unknown name is
// CAIRN_NOT_FOUND before anything is fetched; `cairn restore --partition` (repeatable).
import t from 'tap';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { openStore } from '../../lib/backup/open-store.js';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import { ErrorCodes } from '../../lib/errors.js';
import { runCairn } from '../cli/cli-helpers.js';
import { startS3Server } from '../helpers/s3-server.js';
import { WatchedStore, Workload, readKeyspace, scratchDir } from './backup-helpers.js';

const server = await startS3Server(t);

for (const [name, urlOf] of [
  ['file', (dir: string) => pathToFileURL(join(dir, 'store')).href],
  ['s3', () => server.urlWith({}, 'partial')],
] as const) {
  t.test(`${name}: one partition restores alone and fetches only its objects`, async (t) => {
    const dir = await scratchDir(t, `partial-${name}`);
    const store = new WatchedStore(await openStore(urlOf(dir)));
    t.teardown(() => store.close());
    const engine = new BackupEngine(store);
    const w = await Workload.open(join(dir, 'ks'));
    t.teardown(() => w.ks.close());
    await w.write(1200);
    await w.ks.flush();
    await w.write(30);
    const backup = await engine.backup(w.ks);
    const manifest = await engine.info(backup.id);

    store.gets = [];
    await t.rejects(engine.restore(backup.id, join(dir, 'nope'), { partitions: ['users', 'missing'] }), { code: ErrorCodes.NOT_FOUND, details: { partitions: ['missing'] } });
    t.same(store.gets.filter((k) => k.startsWith('files/')), [], 'an unknown partition is refused before any object is fetched (only store.json and the manifest are read)');
    await t.rejects(stat(join(dir, 'nope')), { code: 'ENOENT' });

    const target = join(dir, 'users-only');
    const result = await engine.restore(backup.id, target, { partitions: ['users'] });
    t.same(result.partitions, ['users']);
    const fetched = new Set(store.gets.filter((k) => k.startsWith('files/')));
    const audit = manifest.files.filter((f) => f.path.startsWith('partitions/audit/'));
    t.ok(audit.length > 0, 'the other partition has files');
    const usersFiles = manifest.files.filter((f) => !f.path.startsWith('partitions/audit/'));
    t.equal(result.files, usersFiles.length, 'only the chosen partition, keyspace.json and the journals are written');
    t.ok(fetched.size <= usersFiles.length, `${fetched.size} objects fetched for ${usersFiles.length} files (of ${manifest.files.length})`);

    const restored = await readKeyspace(target);
    t.same([...restored.keys()], ['users'], 'the result opens with only that partition');
    t.same(restored.get('users'), w.contentsAt(backup.seqno).get('users'), 'holding its data as of the backup (journal records included)');
  });
}

t.test('cairn restore --partition (repeatable)', async (t) => {
  const dir = await scratchDir(t, 'partial-cli');
  const engine = await BackupEngine.open(join(dir, 'store'));
  t.teardown(() => engine.close());
  const w = await Workload.open(join(dir, 'ks'));
  await w.write(300);
  await engine.backup(w.ks);
  await w.ks.close();
  const run = await runCairn(['restore', join(dir, 'store'), 'latest', join(dir, 'r'), '--partition', 'audit', '--json']);
  t.equal(run.code, ExitCode.OK, run.stderr);
  t.same((JSON.parse(run.stdout) as { partitions: string[] }).partitions, ['audit']);
  t.same([...(await readKeyspace(join(dir, 'r'))).keys()], ['audit']);
  const both = await runCairn(['restore', join(dir, 'store'), 'latest', join(dir, 'r2'), '--partition', 'audit', '--partition', 'users']);
  t.equal(both.code, ExitCode.OK, both.stderr);
  t.same([...(await readKeyspace(join(dir, 'r2'))).keys()].sort(), ['audit', 'users']);
  t.equal((await runCairn(['restore', join(dir, 'store'), 'latest', join(dir, 'r3'), '--partition', 'nope'])).code, ExitCode.NOT_FOUND);
  await t.rejects(stat(join(dir, 'r3')), { code: 'ENOENT' });
});
