// A process killed mid-backup leaves its temporary checkpoint (`<keyspace>/backup.tmp-*`)
// inside the keyspace directory (older versions: `<keyspace>.tmp-backup-*` beside it). The next Keyspace.open() takes the lock, so no backup of this
// keyspace can be running, and deletes that debris, touching nothing else.
import t from 'tap';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { BackupEngine } from '../../lib/backup/index.js';
import { scratchDir } from '../helpers/scratch.js';
import { spawnDist } from '../helpers/spawn-dist.js';
import { exited, scriptPath } from '../helpers/spawn-ts.js';

t.test('a backup killed mid-upload leaves debris that the next open removes', async (t) => {
  const dir = await scratchDir(t, 'stale-staging');
  const ks = join(dir, 'ks');
  const store = join(dir, 'store');
  const child = spawnDist(scriptPath(import.meta.url, 'kill-mid-backup-child.mjs'), [ks, store]);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await exited(child);
  t.equal(child.signalCode, 'SIGKILL', `the child was killed (${out.trim() || 'no output'})`);
  const debris = (await readdir(ks)).filter((n) => n.startsWith('backup.tmp-'));
  t.ok(debris.length > 0, `the kill left ${debris.join(', ')} inside the keyspace`);
  t.same((await readdir(dir)).sort(), ['ks', 'store'], 'and nothing beside it');

  // Things that are not this keyspace's backup staging stay; an older version's debris beside it goes.
  await writeFile(join(dir, 'ks.tmp-other'), 'not ours');
  await mkdir(join(dir, 'ks2.tmp-backup-0123456789ab'));
  await mkdir(join(dir, 'ks.tmp-backup-0123456789ab'));

  const opened = await Keyspace.open(ks);
  t.same((await readdir(dir)).sort(), ['ks', 'ks.tmp-other', 'ks2.tmp-backup-0123456789ab', 'store'], 'only the debris went');
  t.same((await readdir(ks)).filter((n) => n.includes('.tmp-')), [], 'inside too');
  const p = await opened.partition('p');
  t.equal((await p.get('k1999'))?.toString(), 'value 1999'.padEnd(200, '.'), 'the keyspace is intact');

  // And a backup now runs to the end and restores.
  const engine = await BackupEngine.open(store);
  const { id } = await engine.backup(opened);
  await opened.close();
  await engine.restore(id, join(dir, 'restored'));
  const restored = await Keyspace.open(join(dir, 'restored'));
  t.equal((await (await restored.partition('p')).get('k0'))?.toString(), 'value 0'.padEnd(200, '.'));
  await restored.close();
  await engine.close();
  t.same((await readdir(dir)).filter((n) => n.includes('.tmp-backup-') && n.startsWith('ks.')), [], 'no new debris');
  t.same((await readdir(ks)).filter((n) => n.includes('.tmp-')), [], 'no new debris inside');
});
