// S3Store against s3rver on loopback, beyond the conformance suite: URL parsing and
// redaction, openStore's bucket check, S3 error names as codes, key prefixes, and a server
// that dies mid-upload or between puts and comes back.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { openStore } from '../../../lib/backup/open-store.js';
import { parseS3Url, S3Store } from '../../../lib/backup/s3-store.js';
import { startS3Server } from '../../helpers/s3-server.js';
import { chunked, readAll } from './conformance.js';

// The SDK warns once per process that it will need Node 22 from 2027; noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const MiB = 1024 * 1024;
const server = await startS3Server(t);

t.test('parseS3Url: bucket, prefix, options; credentials never in url', async (t) => {
  const parsed = parseS3Url('s3://my-bucket/backups/prod/?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true&partSize=8388608&maxAttempts=5&accessKeyId=AK&secretAccessKey=SECRET&sessionToken=TOKEN');
  t.equal(parsed.bucket, 'my-bucket');
  t.equal(parsed.prefix, 'backups/prod/');
  t.equal(parsed.endpoint, 'http://127.0.0.1:9000');
  t.equal(parsed.region, 'eu-west-1');
  t.equal(parsed.forcePathStyle, true);
  t.equal(parsed.partSize, 8 * MiB);
  t.equal(parsed.maxAttempts, 5);
  t.same(parsed.credentials, { accessKeyId: 'AK', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' });
  t.notMatch(parsed.url, /SECRET|TOKEN|AK\b|accessKeyId|secretAccessKey|sessionToken/);
  t.match(parsed.url, /^s3:\/\/my-bucket\/backups\/prod\/\?endpoint=/);

  const bare = parseS3Url('s3://bucket');
  t.equal(bare.prefix, '');
  t.equal(bare.credentials, undefined, 'no credentials: the default provider chain');
  t.equal(bare.region, undefined);
  t.equal(bare.partSize, 16 * MiB);
  t.equal(bare.maxAttempts, 3);

  const typeErrors = [
    'http://bucket/x',
    's3://',
    's3://UPPER/x',
    's3://b/x',
    's3://bucket/x?unknown=1',
    's3://bucket/x?accessKeyId=only',
    's3://bucket/x?sessionToken=t',
    's3://bucket/x?forcePathStyle=yes',
    's3://bucket/x?endpoint=ftp://h',
    's3://bucket/a//b',
    's3://user:pass@bucket/x',
    's3://bucket/x?partSize=big',
  ];
  for (const url of typeErrors) t.throws(() => parseS3Url(url), TypeError, url);
  t.throws(() => parseS3Url('s3://bucket/x?partSize=1024'), RangeError, 'parts below 5 MiB');
  t.throws(() => parseS3Url('s3://bucket/x?maxAttempts=0'), RangeError);
  const leak = (() => {
    try {
      parseS3Url('s3://bucket/x?secretAccessKey=HUSH&bogus=1');
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  })();
  t.notMatch(leak, /HUSH/, 'error messages do not echo secrets');
});

t.test('openStore: a missing bucket is CAIRN_NOT_FOUND; the store url has no credentials', async (t) => {
  await t.rejects(openStore(server.urlWith({}).replace(`s3://${server.bucket}/`, 's3://no-such-bucket/')), { code: 'CAIRN_NOT_FOUND', details: { bucket: 'no-such-bucket' } });
  const store = await openStore(server.url);
  t.teardown(() => store.close());
  t.ok(store instanceof S3Store);
  t.notMatch(store.url, /S3RVER/);
  t.match(store.url, /endpoint=/);
});

t.test('S3 errors keep their names as code', async (t) => {
  const missing = new S3Store(server.urlWith({}).replace(`s3://${server.bucket}/`, 's3://no-such-bucket/'));
  t.teardown(() => missing.close());
  await t.rejects(missing.put('k', Buffer.from('v')), { code: 'NoSuchBucket' });
  await t.rejects(missing.list(''), { code: 'NoSuchBucket' });
  const stranger = new S3Store(server.urlWith({ accessKeyId: 'NOBODY', secretAccessKey: 'WRONG' }));
  t.teardown(() => stranger.close());
  await t.rejects(stranger.put('k', Buffer.from('v')), { code: 'InvalidAccessKeyId' });
  await t.rejects(stranger.head('k'), { code: 'Forbidden' }, 'a HEAD error has no body: named by its status');
});

t.test('keys live under the URL prefix; stores with different prefixes do not see each other', async (t) => {
  const a = await openStore(server.urlWith({}, 'tenant-a/backups'));
  const b = await openStore(server.urlWith({}, 'tenant-b'));
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await a.put('files/x', Buffer.from('a'));
  await b.put('files/x', Buffer.from('b'));
  t.same(
    (await a.list('')).objects.map((o) => o.key),
    ['files/x'],
    'listed keys are relative to the prefix',
  );
  t.equal((await readAll(b, 'files/x')).toString(), 'b');
  const root = await openStore(server.urlWith({}, ''));
  t.teardown(() => root.close());
  t.ok((await root.head('tenant-a/backups/files/x')) !== undefined, 'the full key is <prefix>/<key>');
});

t.test('a server that dies mid-upload: a clean coded error, nothing visible; after a restart the retry works', async (t) => {
  const store = await openStore(server.urlWith({ partSize: String(5 * MiB), maxAttempts: '2' }, 'outage'));
  t.teardown(() => store.close());
  const { died } = await server.crashOn('PUT', 'partNumber=3');
  const data = randomBytes(20 * MiB);
  const failure = await store.put('files/big.sst', { stream: chunked(data, [MiB]), size: data.length }).then(
    () => undefined,
    (err: unknown) => err as { code?: unknown },
  );
  await died;
  t.match(failure?.code, /^(ECONNREFUSED|ECONNRESET|EPIPE)$/, `rejects with a network code (${String(failure?.code)})`);
  await t.rejects(store.head('files/big.sst'), { code: 'ECONNREFUSED' }, 'while down, calls fail with ECONNREFUSED');

  await server.restart();
  t.equal(await store.head('files/big.sst'), undefined, 'the interrupted upload is not visible');
  t.same((await store.list('')).objects, []);
  await store.put('files/big.sst', { stream: chunked(data, [MiB]), size: data.length });
  t.ok((await readAll(store, 'files/big.sst')).equals(data), 'the retried upload is whole');
});

t.test('a server that dies between two puts: the next put fails with a code, and works after a restart', async (t) => {
  const store = await openStore(server.urlWith({ maxAttempts: '2' }, 'restart'));
  t.teardown(() => store.close());
  await store.put('a', Buffer.from('1'));
  await server.stop();
  await t.rejects(store.put('b', Buffer.from('2')), { code: 'ECONNREFUSED' });
  await server.restart();
  await store.put('b', Buffer.from('2'));
  t.same(
    (await store.list('')).objects.map((o) => o.key),
    ['a', 'b'],
    'objects stored before the crash survive it',
  );
});
