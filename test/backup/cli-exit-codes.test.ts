// The backup commands' exit statuses for a mistyped store (child processes over
// dist/cli/main.js; build first): read-only commands on a store that does not exist exit 8
// and create nothing, a bad scheme or a store path that is a file is a usage error (2),
// an s3:// store without credentials is 11 with a message saying where they come from,
// `--json` failures print an error object on stdout, and `prune --keep-last 0` needs --yes.
import t from 'tap';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import { runCairn } from '../cli/cli-helpers.js';
import { buildKeyspace } from '../helpers/keyspace-content.js';
import { startS3Server } from '../helpers/s3-server.js';
import { scratchDir } from './backup-helpers.js';

const dir = await scratchDir(t, 'cli-exit');

t.test('read-only commands on a store that does not exist: exit 8, nothing created', async (t) => {
  const typo = join(dir, 'typo');
  for (const args of [
    ['list', typo],
    ['info', typo, 'latest'],
    ['verify', typo, 'latest'],
    ['restore', typo, 'latest', join(dir, 'restored')],
    ['prune', typo, '--keep-last', '1'],
  ]) {
    const run = await runCairn(args);
    t.equal(run.code, ExitCode.NOT_FOUND, `${args[0]}: ${run.stderr.trim()}`);
    t.match(run.stderr, /No backup store at .*\(CAIRN_NOT_FOUND\)/);
  }
  t.same((await readdir(dir)).sort(), [], 'neither the store nor the restore target was created');
});

t.test('a bad scheme or a store path that is a file is a usage error', async (t) => {
  const ftp = await runCairn(['list', 'ftp://example.com/backups']);
  t.equal(ftp.code, ExitCode.USAGE);
  t.match(ftp.stderr, /bad <store-url>: unsupported store scheme 'ftp:'/);
  const file = join(dir, 'a-file');
  await writeFile(file, 'not a store');
  for (const args of [['list', file], ['backup', join(dir, 'no-ks'), file]]) {
    const run = await runCairn(args);
    t.equal(run.code, ExitCode.USAGE, `${args[0]}: ${run.stderr.trim()}`);
    t.match(run.stderr, /is not a directory/);
  }
  t.equal((await runCairn(['list', 'relative/path'])).code, ExitCode.USAGE);
});

t.test('--json failures print a JSON error object on stdout', async (t) => {
  const run = await runCairn(['list', join(dir, 'missing'), '--json']);
  t.equal(run.code, ExitCode.NOT_FOUND);
  const parsed = JSON.parse(run.stdout) as { error: { code: string; message: string; exitCode: number } };
  t.equal(parsed.error.code, 'CAIRN_NOT_FOUND');
  t.equal(parsed.error.exitCode, ExitCode.NOT_FOUND);
  t.match(parsed.error.message, /No backup store/);
  t.match(run.stderr, /^cairn: /, 'the human line still goes to stderr');
  const usage = await runCairn(['list', 'ftp://x/y', '--json']);
  t.equal((JSON.parse(usage.stdout) as { error: { exitCode: number } }).error.exitCode, ExitCode.USAGE);
});

t.test('prune --keep-last 0 refuses without --yes', async (t) => {
  const ks = join(dir, 'ks');
  await buildKeyspace(ks);
  const store = join(dir, 'store');
  t.equal((await runCairn(['backup', ks, store])).code, ExitCode.OK);
  const refused = await runCairn(['prune', store, '--keep-last', '0']);
  t.equal(refused.code, ExitCode.USAGE);
  t.match(refused.stderr, /--yes/);
  t.equal((await runCairn(['list', store, '--json'])).stdout.includes('"id"'), true, 'the backup is still there');
  t.equal((await runCairn(['prune', store, '--keep-last', '0', '--dry-run'])).code, ExitCode.OK, 'a dry run needs no confirmation');
  const done = await runCairn(['prune', store, '--keep-last', '0', '--yes']);
  t.equal(done.code, ExitCode.OK, done.stderr);
  t.match(done.stdout, /deleted 1 backup/);
});

t.test('an s3:// store without credentials exits 11 with a message', async (t) => {
  const server = await startS3Server(t);
  // The URL without its accessKeyId/secretAccessKey, and nothing in the environment either.
  const bare = server.url.replace(/&?(accessKeyId|secretAccessKey)=[^&]*/g, '');
  const noCredentials = {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_PROFILE: 'cairn-test-none',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
  };
  const run = await runCairn(['list', bare], noCredentials);
  t.equal(run.code, ExitCode.NO_CREDENTIALS, run.stderr);
  t.match(run.stderr, /No credentials for s3:\/\/.*AWS_ACCESS_KEY_ID.*\(CAIRN_NO_CREDENTIALS\)/);
  const help = await runCairn(['--help']);
  t.match(help.stdout, /11 +no credentials/);
  t.match(help.stdout, /12 +the backup store is encrypted/);
});

t.test('CAIRN_BACKUP_KEY: a new store is encrypted; a missing or wrong key exits 12', async (t) => {
  const ks = join(dir, 'ks-enc');
  await buildKeyspace(ks);
  const store = join(dir, 'store-enc');
  const key = { CAIRN_BACKUP_KEY: 'ab'.repeat(32) };
  const made = await runCairn(['backup', ks, store, '--compression', 'gzip'], key);
  t.equal(made.code, ExitCode.OK, made.stderr);
  const info = JSON.parse(await readFile(join(store, 'store.json'), 'utf8')) as { format: number; encryption?: unknown; compression: string };
  t.equal(info.format, 2);
  t.equal(info.compression, 'gzip');
  t.ok(info.encryption !== undefined, 'the store is encrypted');
  t.equal((await runCairn(['list', store], key)).code, ExitCode.OK);
  const missing = await runCairn(['list', store]);
  t.equal(missing.code, ExitCode.BAD_KEY);
  t.match(missing.stderr, /encrypted.*CAIRN_BACKUP_KEY.*\(CAIRN_BAD_KEY\)/);
  const wrong = await runCairn(['restore', store, 'latest', join(dir, 'restored-enc')], { CAIRN_BACKUP_KEY: 'cd'.repeat(32) });
  t.equal(wrong.code, ExitCode.BAD_KEY);
  await t.rejects(stat(join(dir, 'restored-enc')), { code: 'ENOENT' });
  t.equal((await runCairn(['list', store], { CAIRN_BACKUP_KEY: 'short' })).code, ExitCode.USAGE, 'a malformed key is a usage error');
  t.equal((await runCairn(['backup', ks, store, '--compression', 'lz4'], key)).code, ExitCode.USAGE);
});
