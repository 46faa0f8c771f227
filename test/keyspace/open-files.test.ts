// maxOpenFiles: a keyspace of 2,000 segments opens and serves every read in a process
// limited to 256 file descriptors (`ulimit -n 256`), with the default budget and a small
// explicit one; without a budget that fits, the same reads fail with EMFILE. Spawns
// dist/ children: run `npm run build` first.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Keyspace } from '../../lib/index.js';
import { scratchDir } from '../helpers/scratch.js';

const CHILD = fileURLToPath(new URL('open-files-child.mjs', import.meta.url));
const KEYS = 4000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runLimited(dir: string, maxOpenFiles: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, CHILD, dir, maxOpenFiles, String(KEYS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = await scratchDir(t, 'open-files');
t.before(async () => {
  // One manual compaction with a tiny target file size writes one segment per two keys.
  const ks = await Keyspace.open(dir, { blockSize: 256, compaction: { targetFileBytes: 200, level0Trigger: 100 } });
  const p = await ks.partition('p');
  const batch = ks.batch();
  for (let i = 0; i < KEYS; i++) {
    const k = `k${String(i).padStart(6, '0')}`;
    // Random bytes after the prefix: compression must not shrink segments below the target.
    batch.put(p, k, Buffer.concat([Buffer.from(`${k}=`), randomBytes(80)]));
  }
  await batch.commit();
  await ks.compact();
  const segments = ks.stats().partitions.p.segments;
  await ks.close();
  if (segments < 2000) throw new Error(`only ${segments} segments were made`);
});

for (const budget of ['default', '64']) {
  t.test(`under ulimit -n 256, maxOpenFiles ${budget}: every read works`, async (t) => {
    const run = await runLimited(dir, budget);
    t.equal(run.code, 0, run.stderr);
    const seen = JSON.parse(run.stdout) as { found: number; forward: number; reverse: number; segments: number; openFiles: { open: number; max: number; evictions: number } };
    t.equal(seen.found, KEYS, 'every point read');
    t.equal(seen.forward, KEYS, 'a forward scan');
    t.equal(seen.reverse, KEYS, 'a reverse scan');
    t.ok(seen.segments >= 2000);
    t.equal(seen.openFiles.max, budget === 'default' ? 128 : 64, 'the default is half the limit');
    t.ok(seen.openFiles.open <= seen.openFiles.max);
    t.ok(seen.openFiles.evictions > 0, 'files were closed and reopened');
  });
}

t.test('a budget above the limit runs out of descriptors (the test can fail)', async (t) => {
  const run = await runLimited(dir, '100000');
  t.not(run.code, 0);
  t.match(run.stderr, /EMFILE/);
});
