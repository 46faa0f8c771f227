// Writes the backup store format fixture: test/fixtures/backup-store-v1/, a file:// store
// holding one backup of test/fixtures/keyspace-v1 as cairn 0.1 (backup store format 1)
// wrote it. Run once, with the dist/ of a version that writes format 1 as the argument
// (e.g. `node scripts/make-backup-store-fixture.mjs /path/to/old/dist`); the output is
// committed and never regenerated. Refuses to overwrite the fixture.
import { cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const storeDir = path.join(root, 'test', 'fixtures', 'backup-store-v1');
if (await stat(storeDir).catch(() => undefined)) {
  console.error(`${path.relative(root, storeDir)} exists: a committed fixture is never regenerated`);
  process.exit(1);
}
const { Keyspace } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const { BackupEngine } = await import(pathToFileURL(path.join(dist, 'backup', 'index.js')).href);

const work = await mkdtemp(path.join(tmpdir(), 'cairn-store-fixture-'));
try {
  const ks = path.join(work, 'keyspace-v1');
  await cp(path.join(root, 'test', 'fixtures', 'keyspace-v1'), ks, { recursive: true });
  for (const p of await readdir(path.join(ks, 'partitions'))) await mkdir(path.join(ks, 'partitions', p, 'segments'), { recursive: true });
  const keyspace = await Keyspace.open(ks);
  const engine = await BackupEngine.open(storeDir);
  const result = await engine.backup(keyspace, { label: 'format-1 fixture' });
  await keyspace.close();
  await engine.close();
  const info = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(storeDir, 'store.json'), 'utf8'));
  if (info.format !== 1) throw new Error(`${dist} wrote format ${info.format}, not 1`);
  console.log(`wrote ${path.relative(root, storeDir)}: backup ${result.id}, seqno ${result.seqno}, ${result.files} files`);
} finally {
  await rm(work, { recursive: true, force: true });
}
