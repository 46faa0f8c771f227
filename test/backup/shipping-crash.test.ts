// SIGKILL of a process shipping its journal, round after round on the same keyspace and
// store: every batch whose waitFor resolved before a kill is restorable, no batch is
// torn, and each restarted shipper continues the chain (no gap, no seqno shipped twice,
// no new base backup).
import t from 'tap';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { listShipped, fetchShipped } from '../../lib/backup/shipped-catalog.js';
import { Keyspace } from '../../lib/index.js';
import { readKeyspace } from '../helpers/keyspace-content.js';
import { scaled } from '../helpers/scale.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { exited, scriptPath } from '../helpers/spawn-ts.js';
import { fileStore, scratchDir } from './backup-helpers.js';

t.test('SIGKILL while shipping: acknowledged batches survive, whole, and the chain goes on', async (t) => {
  const dir = await scratchDir(t, 'ship-crash');
  const ksDir = join(dir, 'ks');
  const storeDir = join(dir, 'store');
  await fileStore(storeDir);
  const rounds = scaled(20, 4);
  const durable: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const child = spawnDist(scriptPath(import.meta.url, 'ship-crash-child.mjs'), [ksDir, pathToFileURL(storeDir).href, String(round * 1_000_000)]);
    let last = -1;
    let lines = 0;
    let buffered = '';
    let killAfter = 1 + (round % 4);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        const m = /^durable (\d+)$/.exec(line);
        if (m === null) continue;
        last = Number(m[1]);
        // Kill after a few acknowledged waits, at a moment inside the next batches.
        if (++lines === killAfter) setTimeout(() => child.kill('SIGKILL'), (round * 7) % 30);
      }
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // A child that never acknowledges would write forever: a bound, and a failure below.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited(child);
    clearTimeout(guard);
    if (lines < killAfter) t.fail(`round ${round}: only ${lines} acknowledgements before the kill: ${stderr}`);
    if (child.signalCode !== 'SIGKILL') t.fail(`round ${round}: the child ended without the kill: ${stderr}`);
    killAfter = 0;
    durable.push(last);
  }

  // A last shipper on the reopened keyspace ships what the kills left unshipped.
  const engine = new BackupEngine(await fileStore(storeDir));
  const ks = await Keyspace.open(ksDir);
  const shipper = engine.ship(ks, { intervalMs: 10 });
  await shipper.flush();
  await shipper.stop();
  const end = ks.seqno;
  await ks.close();

  t.equal((await engine.list()).length, 1, 'one base backup: every restarted shipper continued the stream');
  const objects = await listShipped(engine.store);
  let previous: Awaited<ReturnType<typeof fetchShipped>> | undefined;
  const seen = new Set<number>();
  let linked = true;
  for (const o of objects) {
    const f = await fetchShipped(engine.store, { compression: 'none' }, o.key);
    if (previous !== undefined && (f.info.firstSeqno !== previous.info.lastSeqno + 1 || !f.info.preChain.equals(previous.info.postChain))) linked = false;
    for (const r of f.records) {
      if (seen.has(r.seqno)) t.fail(`seqno ${r.seqno} shipped twice`);
      seen.add(r.seqno);
    }
    previous = f;
  }
  t.ok(linked, `${objects.length} objects, each linked to the one before`);
  t.equal(previous?.info.lastSeqno, end, 'the chain reaches the last commit');

  const out = join(dir, 'restored');
  await engine.restore('latest', out, { toSeqno: end });
  const kv = (await readKeyspace(out)).get('p') ?? new Map<string, string>();
  let missing = 0;
  let torn = 0;
  for (const [round, last] of durable.entries()) {
    for (let n = round * 1_000_000; n <= last; n++) if (!kv.has(`a${n}`)) missing++;
  }
  for (const key of kv.keys()) {
    const n = key.slice(1);
    if (!kv.has(`a${n}`) || !kv.has(`b${n}`)) torn++;
  }
  t.equal(missing, 0, `every batch acknowledged by waitFor in ${rounds} rounds is restored`);
  t.equal(torn, 0, 'no batch is torn');
});
