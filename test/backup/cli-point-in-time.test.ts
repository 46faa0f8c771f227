// `cairn restore --to-seqno/--to-time/--dry-run` and `cairn window`, as child processes
// over dist/cli/main.js (build first), on a store a shipper filled in this process.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import { Keyspace } from '../../lib/index.js';
import { runCairn } from '../cli/cli-helpers.js';
import { readKeyspace } from '../helpers/keyspace-content.js';
import { fileStore, scratchDir } from './backup-helpers.js';

t.test('restore to a seqno and a time, dry run, window', async (t) => {
  const dir = await scratchDir(t, 'cli-pitr');
  const storeRoot = join(dir, 'store');
  const engine = new BackupEngine(await fileStore(storeRoot));
  const ks = await Keyspace.open(join(dir, 'ks'));
  const p = await ks.partition('p');
  const shipper = engine.ship(ks, { intervalMs: 10 });
  await shipper.flush();
  for (let i = 0; i < 50; i++) await p.put(`k${i}`, `v${i}`);
  const middle = ks.seqno;
  await shipper.flush();
  for (let i = 50; i < 100; i++) await p.put(`k${i}`, `v${i}`);
  await shipper.stop();
  const end = ks.seqno;
  await ks.close();

  const window = await runCairn(['window', storeRoot, '--json']);
  t.equal(window.code, ExitCode.OK, window.stderr);
  const w = JSON.parse(window.stdout) as { to: { seqno: number; time: string }; gaps: unknown[] };
  t.equal(w.to.seqno, end, 'cairn window: to the last shipped batch');
  t.same(w.gaps, []);

  const dry = await runCairn(['restore', storeRoot, 'latest', join(dir, 'dry'), '--to-seqno', String(middle), '--dry-run', '--json']);
  t.equal(dry.code, ExitCode.OK, dry.stderr);
  t.equal((JSON.parse(dry.stdout) as { seqno: number }).seqno, middle);
  t.notOk((await readdir(dir)).includes('dry'), '--dry-run writes nothing');

  const bySeqno = await runCairn(['restore', storeRoot, 'latest', join(dir, 'mid'), '--to-seqno', String(middle)]);
  t.equal(bySeqno.code, ExitCode.OK, bySeqno.stderr);
  const mid = await readKeyspace(join(dir, 'mid'));
  t.equal(mid.get('p')?.size, 50, '--to-seqno: the first 50 puts, none after');

  const byTime = await runCairn(['restore', storeRoot, 'latest', join(dir, 'end'), '--to-time', w.to.time, '--json']);
  t.equal(byTime.code, ExitCode.OK, byTime.stderr);
  t.equal((JSON.parse(byTime.stdout) as { seqno: number }).seqno, end, '--to-time the window end: everything');

  const beyond = await runCairn(['restore', storeRoot, 'latest', join(dir, 'beyond'), '--to-seqno', String(end + 10)]);
  t.equal(beyond.code, ExitCode.NOT_FOUND, 'beyond the window: exit status 8');
  const badTime = await runCairn(['restore', storeRoot, 'latest', join(dir, 'bad'), '--to-time', 'yesterday']);
  t.equal(badTime.code, ExitCode.USAGE);
});
