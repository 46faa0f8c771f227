// Test helper: a real S3 endpoint on loopback (s3rver in a child process, its objects in a
// temp directory) with one bucket, for S3Store tests. Port 0 picks a free port; restart()
// comes back on the same port and directory. Stopped in the test's teardown.
//
// A child, not in-process, for two reasons: s3rver makes its ListObjectsV2 continuation
// tokens with DES, which Node 20's OpenSSL 3 only offers with --openssl-legacy-provider
// (without it every truncated listing fails with InternalError); and killing the child is
// an honest server crash: every connection is cut, nothing is flushed.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface S3TestServer {
  /** s3://bucket/prefix?endpoint=…&forcePathStyle=true&region=us-east-1&accessKeyId=S3RVER&secretAccessKey=S3RVER */
  url: string;
  bucket: string;
  endpoint: string;
  /** Kills the server (SIGKILL): listening stops and every open connection is cut. */
  stop(): Promise<void>;
  /** Starts it again on the same port, over the same stored objects. */
  restart(): Promise<void>;
  /**
   * Arms a crash: the server kills itself the moment a request with this method whose
   * URL contains `urlPart` arrives, before handling it. Resolves once the server is dead.
   */
  crashOn(method: string, urlPart: string): Promise<{ died: Promise<void> }>;
  /** A URL for the same server with other query parameters (e.g. partSize) and/or another prefix. */
  urlWith(params: Record<string, string>, prefix?: string): string;
}

export interface S3TestServerOptions {
  bucket?: string;
  /** Key prefix inside the bucket for `url` (default 'store'). */
  prefix?: string;
}

/** Runs in the child: argv = [directory, bucket, port]; prints {port} when listening; stdin lines arm crashes. */
const CHILD_SCRIPT = `
const S3rver = require(process.env.CAIRN_S3RVER_PATH);
const [directory, bucket, port] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket }] });
let crash;
const input = require('node:readline').createInterface({ input: process.stdin });
input.on('line', (line) => { crash = JSON.parse(line); process.stdout.write('armed\\n'); });
input.on('close', () => process.exit(0));
server.run().then((address) => {
  server.httpServer.on('request', (request) => {
    if (crash && request.method === crash.method && request.url.includes(crash.urlPart)) process.kill(process.pid, 'SIGKILL');
  });
  process.stdout.write(JSON.stringify({ port: address.port }) + '\\n');
}, (err) => { console.error(err); process.exit(1); });
`;

const S3RVER_PATH = createRequire(import.meta.url).resolve('s3rver');

interface Running {
  child: ChildProcess;
  lines: Interface;
  exited: Promise<void>;
}

export async function startS3Server(t: Teardown, options: S3TestServerOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'cairn-test';
  const prefix = options.prefix ?? 'store';
  const directory = await mkdtemp(join(tmpdir(), 'cairn-s3rver-'));
  let port = 0;
  let running: Running | undefined;

  const nextLine = async (lines: Interface, child: ChildProcess): Promise<string> => {
    const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
    if (line === undefined) throw new Error('s3rver child exited unexpectedly');
    return line;
  };

  const start = async (): Promise<void> => {
    // A plain Node child: whatever loaders the test runner put in NODE_OPTIONS stay out of it.
    const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_S3RVER_PATH: S3RVER_PATH };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, directory, bucket, String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env,
    });
    const exited = once(child, 'exit').then(() => undefined);
    const lines = createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> });
    const address = JSON.parse(await nextLine(lines, child)) as { port: number };
    port = address.port;
    running = { child, lines, exited };
  };

  const stop = async (): Promise<void> => {
    const current = running;
    if (current === undefined) return;
    running = undefined;
    if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill('SIGKILL');
    await current.exited;
    current.lines.close();
  };

  await start();
  t.teardown(async () => {
    await stop();
    await rm(directory, { recursive: true, force: true });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const urlWith = (params: Record<string, string>, at = prefix): string => {
    const query = new URLSearchParams({
      endpoint,
      forcePathStyle: 'true',
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      ...params,
    });
    return `s3://${bucket}/${at}?${query.toString()}`;
  };
  return {
    url: urlWith({}),
    bucket,
    endpoint,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    crashOn: async (method, urlPart) => {
      const current = running;
      if (current === undefined) throw new Error('the server is not running');
      current.child.stdin?.write(`${JSON.stringify({ method, urlPart })}\n`);
      if ((await nextLine(current.lines, current.child)) !== 'armed') throw new Error('s3rver child did not arm the crash');
      return { died: current.exited };
    },
    urlWith,
  };
}
