// An S3 endpoint on loopback for the backup benchmark: s3rver in a child process (as the
// tests' helper runs it), its objects in a directory the caller owns. One bucket. The
// caller stops it; stop() is idempotent.
//
// A child because s3rver makes its ListObjectsV2 continuation tokens with DES, which
// Node 20's OpenSSL 3 offers only under --openssl-legacy-provider, and because its CPU
// then stays off the benchmark process's event loop, as a real server's would.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { URLSearchParams } from 'node:url';

// argv = [directory, bucket]; prints {"port": n} once listening on a free loopback port.
const CHILD_SCRIPT = `
const S3rver = require(process.env.CAIRN_S3RVER_PATH);
const [directory, bucket] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
server.run().then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'), (err) => { console.error(err); process.exit(1); });
`;

/** Starts s3rver over `directory`; resolves { url, stop } or rejects when s3rver is not installed or fails to start. */
export async function startS3Server(directory, { bucket = 'cairn-bench', prefix = 'store' } = {}) {
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const env = { ...process.env, CAIRN_S3RVER_PATH: s3rverPath };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, directory, bucket], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([once(lines, 'line'), exited.then(() => [undefined])]);
  if (line === undefined) throw new Error('s3rver child exited before listening');
  const { port } = JSON.parse(line);
  const query = new URLSearchParams({
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: 'true',
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  });
  return {
    url: `s3://${bucket}/${prefix}?${query}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      lines.close();
    },
  };
}
