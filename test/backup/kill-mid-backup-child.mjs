// Child process of stale-staging.test.ts: writes to a keyspace, starts a backup into a
// file:// store and kills itself with SIGKILL once uploading has begun, so the
// temporary checkpoint inside the keyspace directory is left behind for real.
import { Keyspace } from '../../dist/index.js';
import { BackupEngine } from '../../dist/backup/index.js';

const [dir, storeUrl] = process.argv.slice(2);
const ks = await Keyspace.open(dir);
const p = await ks.partition('p');
for (let i = 0; i < 2000; i++) await p.put(`k${i}`, `value ${i}`.padEnd(200, '.'));
await ks.flush();
const engine = await BackupEngine.open(storeUrl);
await engine.backup(ks, {
  concurrency: 1,
  onProgress: (progress) => {
    // Format 2 encodes and uploads each file in the 'hashing' phase: some are in the store by the second.
    if (progress.phase === 'hashing' && progress.filesDone >= 2) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write('the backup finished before the kill\n');
