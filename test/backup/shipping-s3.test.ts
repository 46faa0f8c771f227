// Shipping to S3 (s3rver on loopback) while the server is killed for a while and started
// again: writes are never rejected, the shipper reports the failure and catches up, the
// shipped journal has no gap and a restore to its end equals the keyspace.
import t from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { Keyspace } from '../../lib/index.js';
import { startS3Server } from '../helpers/s3-server.js';
import { readKeyspace } from '../helpers/keyspace-content.js';
import { until } from '../helpers/until.js';
import { scratchDir } from './backup-helpers.js';

t.test('the S3 server stopped and restarted mid-shipping: no gap, writes never rejected, lag recovers', async (t) => {
  const server = await startS3Server(t);
  const dir = await scratchDir(t, 'ship-s3');
  const engine = await BackupEngine.open(server.urlWith({}, 'ship'));
  t.teardown(() => engine.close());
  const ks = await Keyspace.open(join(dir, 'ks'), { journalFileBytes: 16 * 1024 });
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  const shipper = engine.ship(ks, { intervalMs: 20 });
  const errors: unknown[] = [];
  shipper.on('error', (err) => errors.push(err));
  await shipper.flush();
  let i = 0;
  const write = async (n: number) => {
    for (let end = i + n; i < end; i++) await p.put(`k${i}`, `v${i}`.padEnd(60, '.'));
  };
  await write(200);
  await shipper.flush();

  await server.stop();
  await write(300);
  await until('a failed attempt while the server is down', () => errors.length > 0);
  t.ok(shipper.stats().lagSeqnos > 0, 'lag grows while the store is down');
  await write(100);
  await server.restart();
  await write(100);
  const shipped = await shipper.flush();
  t.equal(shipped, ks.seqno, 'caught up after the restart');
  t.equal(shipper.stats().lagSeqnos, 0);
  await shipper.stop();

  const window = await engine.window();
  t.same(window.gaps, [], 'no gap');
  t.equal(window.to?.seqno, ks.seqno);
  const out = join(dir, 'restored');
  await engine.restore('latest', out, { toSeqno: ks.seqno });
  const restored = await readKeyspace(out);
  t.equal(restored.get('p')?.size, i, 'the restore to the end holds every write');
});
