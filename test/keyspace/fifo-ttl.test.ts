// FIFO compaction with a TTL in a live keyspace: segments carry their creation time in the
// manifest, expire on their own (no write needed to notice), and the keyspace keeps
// accepting writes across many TTL periods; a manifest written before creation times were
// recorded still opens, its segments dated by their own properties block.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { crc32 } from '../../lib/codec/checksum.js';
import { scratchDir } from '../helpers/scratch.js';
import { until } from '../helpers/until.js';
import { unhandledRejections } from '../helpers/unhandled-rejections.js';

const TTL_MS = 300;

async function liveManifest(partitionDir: string): Promise<{ path: string; json: Record<string, unknown> }> {
  const current = await readFile(nodePath.join(partitionDir, 'CURRENT'), 'utf8');
  const path = nodePath.join(partitionDir, current.split(' ')[0]);
  const lines = (await readFile(path, 'utf8')).split('\n');
  return { path, json: JSON.parse(lines[1]) as Record<string, unknown> };
}

t.test('a FIFO keyspace with a TTL flushes, expires segments and keeps taking writes', async (t) => {
  const rejections = unhandledRejections(t);
  const dir = await scratchDir(t, 'fifo-ttl');
  const options = { compaction: { strategy: 'fifo', maxBytes: 64 * 1024 * 1024, ttlMs: TTL_MS } } as const;
  let ks = await Keyspace.open(dir, options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  const before = Date.now();
  await p.put('first', 'v');
  await ks.flush();
  const after = Date.now();
  const { json } = await liveManifest(nodePath.join(dir, 'partitions', 'p'));
  const segment = (json.levels as { created: number }[][])[0][0];
  t.ok(segment.created >= before && segment.created <= after, 'the manifest records when the segment was created');
  await until('the expired segment is dropped, with no write to notice it', () => ks.stats().partitions.p.segments === 0, { timeoutMs: 20_000 });
  t.equal(await p.get('first'), undefined, 'expired data is gone');

  // Several TTL periods of writes and flushes: every write is accepted.
  const deadline = Date.now() + 4 * TTL_MS;
  let n = 0;
  while (Date.now() < deadline) {
    await p.put(`k${n++}`, 'v');
    if (n % 10 === 0) await ks.flush();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await ks.flush();
  t.same(await p.get(`k${n - 1}`), Buffer.from('v'), 'the newest write is readable');
  await ks.close();
  ks = await Keyspace.open(dir, options);
  const q = await ks.partition('p');
  await q.put('after reopen', 'v');
  t.same(await q.get('after reopen'), Buffer.from('v'));
  await until('every segment expires after the reopen', async () => {
    await ks.flush();
    return ks.stats().partitions.p.segments === 0;
  }, { timeoutMs: 20_000 });
  t.same(rejections, [], 'no unhandled rejection');
});

t.test('a manifest without creation times (older cairn) opens; segments are dated by their properties block', async (t) => {
  const rejections = unhandledRejections(t);
  const dir = await scratchDir(t, 'fifo-old-manifest');
  let ks = await Keyspace.open(dir);
  const p = await ks.partition('p');
  await p.put('old', 'v');
  await ks.flush();
  await ks.close();
  // Rewrite the live manifest as an older cairn wrote it: no "created" field.
  const partitionDir = nodePath.join(dir, 'partitions', 'p');
  const { path, json } = await liveManifest(partitionDir);
  const levels = json.levels as Record<string, unknown>[][];
  t.ok(levels[0].length === 1 && typeof levels[0][0].created === 'number');
  for (const level of levels) for (const s of level) delete s.created;
  const body = Buffer.from(JSON.stringify(json));
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const bytes = Buffer.concat([Buffer.from((await readFile(path, 'utf8')).split('\n')[0] + '\n'), body, Buffer.from(`\ncrc32 ${hex(crc32(body))}\n`)]);
  await writeFile(path, bytes);
  await writeFile(nodePath.join(partitionDir, 'CURRENT'), `${nodePath.basename(path)} ${hex(crc32(bytes))}\n`);

  await new Promise((resolve) => setTimeout(resolve, TTL_MS));
  ks = await Keyspace.open(dir, { compaction: { strategy: 'fifo', maxBytes: 64 * 1024 * 1024, ttlMs: TTL_MS } });
  t.teardown(() => ks.close());
  await until('the old segment, dated by its properties block, expires', () => ks.stats().partitions.p.segments === 0, { timeoutMs: 20_000 });
  t.equal(await (await ks.partition('p')).get('old'), undefined);
  t.same(rejections, [], 'no unhandled rejection');
});
