// Every name the three entry points export (cairn, cairn/backup, cairn/level), used the way
// a caller would: option objects and results typed with the exported names, against the
// real API, and a FileSystem written against the exported interface. `npm run typecheck`
// compiles this file, so a removed or renamed export fails CI; test/published-types.test.ts
// checks the same import lists against the built package (dist/*.d.ts, by package name).
import t from 'tap';
import * as path from 'node:path';
import { readFile } from 'node:fs/promises';
import {
  CairnError,
  ErrorCodes,
  Keyspace,
  Partition,
  Snapshot,
  WriteBatch,
  type BatchItemError,
  type BatchOptions,
  type BatchResult,
  type Bytes,
  type CairnErrorOptions,
  type CheckpointOptions,
  type CheckpointProgress,
  type CheckpointResult,
  type CompactionOptions,
  type BackgroundError,
  type CompactionRunOptions,
  type CopyMethod,
  type CopyOptions,
  type CopyRequest,
  type Durability,
  type ErrorCode,
  type FifoConfig,
  type FileHandle,
  type FileStat,
  type FileSystem,
  type ItemOutcome,
  type IteratorOptions,
  type PartitionIterator,
  type KeyspaceOptions,
  type KeyspaceStats,
  type LeveledConfig,
  type LockHandle,
  type MkdirResult,
  type OpenMode,
  type PartitionStats,
  type PathPair,
  type KeyBounds,
  type CheckResult,
  type RangeOptions,
  type ReadHandle,
  type ReadOptions,
  type SyncOptions,
  type SystemError,
  type WriteOptions,
} from '../lib/index.js';
import {
  BackupEngine,
  openStore,
  type BackupEngineOptions,
  type BackupManifest,
  type BackupOptions,
  type BackupPhase,
  type BackupProgress,
  type BackupResult,
  type BackupStore,
  type BackupEncryption,
  type BackupList,
  type BackupSummary,
  type Compression,
  type DamagedBackup,
  type StoreEncryption,
  type UserKey,
  type ManifestFile,
  type OpenStoreOptions,
  type ProgressListener,
  type PruneOptions,
  type PruneResult,
  type RestoreOptions,
  type RestoreResult,
  BackupSchedule,
  type PointInTimeResult,
  type RestorePlan,
  type RestoreWindow,
  type ScheduleOptions,
  type ScheduleStats,
  Follower,
  FollowerPartition,
  type FollowerAppliedEvent,
  type FollowerOptions,
  type FollowerProblem,
  type FollowerRebasedEvent,
  type FollowerStats,
  type FollowerWaitOptions,
  Shipper,
  type ShipOptions,
  type ShippedEvent,
  type ShipperStats,
  type ShipperStopOptions,
  type ShipperWaitOptions,
  type StoreBody,
  type StoreGetOptions,
  type StoreInfo,
  type StoreListPage,
  type StoreObjectInfo,
  type StorePutOptions,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyResult,
} from '../lib/backup/index.js';
import { CairnLevel, type CairnLevelOptions } from '../lib/level/index.js';
import { NodeFileSystem } from '../lib/fs/node-file-system.js';
import { scratchDir } from './helpers/scratch.js';

/** A FileSystem written only against the exported types: counts calls, delegates the work. */
class CountingFileSystem implements FileSystem {
  readonly kind = 'counting';
  readonly calls = new Map<string, number>();
  readonly #inner: FileSystem;

  constructor(inner: FileSystem) {
    this.#inner = inner;
  }

  #count(op: string): FileSystem {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    return this.#inner;
  }

  open(p: string, mode: OpenMode): Promise<FileHandle> {
    return this.#count('open').open(p, mode);
  }
  readFile(p: string): Promise<Buffer> {
    return this.#count('readFile').readFile(p);
  }
  writeFile(p: string, data: Uint8Array | string, options?: { exclusive?: boolean }): Promise<void> {
    return this.#count('writeFile').writeFile(p, data, options);
  }
  rename(from: string, to: string): Promise<void> {
    return this.#count('rename').rename(from, to);
  }
  renameNoReplace(from: string, to: string): Promise<void> {
    return this.#count('renameNoReplace').renameNoReplace(from, to);
  }
  link(existing: string, newPath: string): Promise<void> {
    return this.#count('link').link(existing, newPath);
  }
  unlink(p: string): Promise<void> {
    return this.#count('unlink').unlink(p);
  }
  mkdir(p: string, options?: { recursive?: boolean }): Promise<MkdirResult> {
    return this.#count('mkdir').mkdir(p, options);
  }
  rmdir(p: string): Promise<void> {
    return this.#count('rmdir').rmdir(p);
  }
  removeTree(p: string): Promise<void> {
    return this.#count('removeTree').removeTree(p);
  }
  readdir(p: string): Promise<string[]> {
    return this.#count('readdir').readdir(p);
  }
  stat(p: string): Promise<FileStat> {
    return this.#count('stat').stat(p);
  }
  statOrUndefined(p: string): Promise<FileStat | undefined> {
    return this.#count('statOrUndefined').statOrUndefined(p);
  }
  syncFile(p: string, options?: { dataOnly?: boolean }): Promise<void> {
    return this.#count('syncFile').syncFile(p, options);
  }
  syncDir(p: string): Promise<void> {
    return this.#count('syncDir').syncDir(p);
  }
  lock(p: string): Promise<LockHandle> {
    return this.#count('lock').lock(p);
  }
  linkBatch(pairs: readonly PathPair[], options?: BatchOptions): Promise<BatchResult> {
    return this.#count('linkBatch').linkBatch(pairs, options);
  }
  copyBatch(requests: readonly CopyRequest[], options?: CopyOptions): Promise<BatchResult> {
    return this.#count('copyBatch').copyBatch(requests, options);
  }
  syncBatch(paths: readonly string[], options?: SyncOptions): Promise<BatchResult> {
    return this.#count('syncBatch').syncBatch(paths, options);
  }
  syncDirs(paths: readonly string[], options?: BatchOptions): Promise<BatchResult> {
    return this.#count('syncDirs').syncDirs(paths, options);
  }
  sameDevice(a: string, b: string): Promise<boolean> {
    return this.#count('sameDevice').sameDevice(a, b);
  }
  openReadSync(p: string): ReadHandle {
    const inner = this.#count('openReadSync');
    if (inner.openReadSync === undefined) throw new Error('the inner file system has no openReadSync');
    return inner.openReadSync(p);
  }
}

t.test('keyspace options, reads, writes, stats and checkpoints through the exported types', async (t) => {
  const dir = await scratchDir(t, 'exported-types');
  const fs = new CountingFileSystem(new NodeFileSystem());
  const leveled: Partial<LeveledConfig> = { level0Trigger: 2, targetFileBytes: 64 * 1024 };
  const run: CompactionRunOptions = { level0StopWrites: 24, inProcess: true };
  const compaction: CompactionOptions = { strategy: 'leveled', ...leveled, ...run };
  const durability: Durability = 'buffered';
  const backgroundErrors: BackgroundError[] = [];
  const options: KeyspaceOptions = { fs, durability, memtableBytes: 4096, compaction, onBackgroundError: (error: BackgroundError) => backgroundErrors.push(error) };
  const ks = await Keyspace.open(path.join(dir, 'ks'), options);
  t.teardown(() => ks.close());
  t.ok((fs.calls.get('lock') ?? 0) >= 1, 'the keyspace took its LOCK through the FileSystem of the fs option');

  const users: Partition = await ks.partition('users');
  const key: Bytes = new Uint8Array([0x62]);
  const sync: WriteOptions = { durability: 'sync' };
  await users.put('a', '1');
  await users.put(key, '2', sync);
  const batch: WriteBatch = ks.batch().put(users, 'c', '3').put(users, 'd', '4').delete(users, 'a');
  await batch.commit(sync);
  t.ok((fs.calls.get('open') ?? 0) >= 1 && (fs.calls.get('syncDir') ?? 0) >= 1, 'journal and layout went through the seam');

  const snapshot: Snapshot = ks.snapshot();
  t.teardown(() => snapshot.release());
  await users.put('b', 'changed');
  const asOfSnapshot: ReadOptions = { snapshot };
  t.equal((await users.get('b', asOfSnapshot))?.toString(), '2', 'a read with ReadOptions sees the snapshot');
  t.equal((await users.get('b'))?.toString(), 'changed');
  const range: RangeOptions = { gte: 'b', lt: 'd' };
  const iterate: IteratorOptions = { ...range, snapshot };
  const seen: string[] = [];
  for await (const [k, v] of users.entries(iterate)) seen.push(`${k}=${v}`);
  t.same(seen, ['b=2', 'c=3'], 'IteratorOptions: range and snapshot both apply');
  const keys: PartitionIterator<Buffer> = users.keys(range);
  t.equal((await keys.next()).value?.toString(), 'b');
  keys.close();
  t.same(await keys.next(), { done: true, value: undefined }, 'PartitionIterator: close() ends it');

  await ks.flush();
  const checked: CheckResult = await ks.check();
  t.ok(checked.bytes > 0, 'ks.check() reads the files');
  const bounds: KeyBounds = { gte: 'a', lt: 'e' };
  t.ok(users.approximateSize(bounds) > 0, 'approximateSize takes KeyBounds and sees the flushed segment');
  await ks.compact(users, bounds);
  const stats: KeyspaceStats = ks.stats();
  const lastBackgroundError: BackgroundError | undefined = stats.lastBackgroundError;
  t.equal(lastBackgroundError, undefined, 'no flush or compaction failed');
  t.same(backgroundErrors, [], 'so onBackgroundError was not called');
  const partitionStats: PartitionStats = stats.partitions.users;
  t.equal(stats.seqno, ks.seqno);
  t.ok(partitionStats.segments >= 1 && partitionStats.segmentBytes > 0, 'the flush shows in PartitionStats');
  t.equal(stats.snapshots, 1);

  const progress: CheckpointProgress[] = [];
  const checkpointOptions: CheckpointOptions = { onProgress: (p) => progress.push(p) };
  const result: CheckpointResult = await ks.backupTo(path.join(dir, 'checkpoint'), checkpointOptions);
  t.equal(result.seqno, ks.seqno);
  t.same(result.partitions, ['users']);
  t.equal(progress.at(-1)?.phase, 'done', 'onProgress reports the last phase');
  t.ok((fs.calls.get('linkBatch') ?? 0) >= 1, 'the checkpoint linked through the seam');

  const again = await ks.backupTo(path.join(dir, 'checkpoint')).catch((err: unknown) => err);
  t.equal((again as SystemError).code, 'EEXIST', 'an existing destination is a Node-shaped EEXIST');
});

t.test('a FIFO keyspace from FifoConfig', async (t) => {
  const dir = await scratchDir(t, 'exported-types-fifo');
  const fifo: Pick<FifoConfig, 'maxBytes'> = { maxBytes: 1024 * 1024 };
  const ks = await Keyspace.open(dir, { compaction: { strategy: 'fifo', ...fifo } });
  t.teardown(() => ks.close());
  const log = await ks.partition('log');
  await log.put('k', 'v');
  await ks.flush();
  t.equal((await log.get('k'))?.toString(), 'v');
  t.equal(ks.stats().partitions.log.segments, 1);
});

t.test('batch outcomes of the FileSystem seam', async (t) => {
  const dir = await scratchDir(t, 'exported-types-batch');
  const fs: FileSystem = new NodeFileSystem();
  await fs.writeFile(path.join(dir, 'a'), 'abc');
  await fs.writeFile(path.join(dir, 'taken'), 'x');
  const requests: CopyRequest[] = [
    [path.join(dir, 'a'), path.join(dir, 'b')],
    [path.join(dir, 'a'), path.join(dir, 'taken')],
  ];
  const result: BatchResult = await fs.copyBatch(requests, { continueOnError: true });
  const [copied, refused]: ItemOutcome[] = result.items;
  t.equal(result.completed, 1);
  if (!copied.ok || refused.ok) throw new Error('expected one copy and one refusal');
  const method: CopyMethod | undefined = copied.method;
  t.ok(method === 'clone' || method === 'copy_file_range' || method === 'readwrite');
  const error: BatchItemError = refused.error;
  t.equal(error.code, 'EEXIST');
  t.equal(error.index, 1);
  t.equal(await readFile(path.join(dir, 'taken'), 'utf8'), 'x', 'the existing destination is left alone');
});

t.test('CairnError keeps its code, cause and details', async (t) => {
  const options: CairnErrorOptions = { cause: new Error('underneath'), details: { partition: 'p' } };
  const code: ErrorCode = ErrorCodes.NOT_FOUND;
  const err = new CairnError(code, 'no such partition', options);
  t.equal(err.code, 'CAIRN_NOT_FOUND');
  t.equal((err.cause as Error).message, 'underneath');
  t.same(err.details, { partition: 'p' });
});

t.test('backup engine, store and their option and result types', async (t) => {
  const dir = await scratchDir(t, 'exported-types-backup');
  const ks = await Keyspace.open(path.join(dir, 'ks'));
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let i = 0; i < 20; i++) await p.put(`k${i}`, `v${i}`);
  await ks.flush();

  const storeOptions: OpenStoreOptions = { fs: new NodeFileSystem() };
  const store: BackupStore = await openStore(path.join(dir, 'store'), storeOptions);
  const key: UserKey = 'ab'.repeat(32);
  const encryption: BackupEncryption = { key };
  const compression: Compression = 'gzip';
  const engineOptions: BackupEngineOptions = { graceMs: 0, encryption, compression };
  const engine = new BackupEngine(store, engineOptions);
  t.teardown(() => store.close());

  const phases = new Set<BackupPhase>();
  const listener: ProgressListener = (progress: BackupProgress) => phases.add(progress.phase);
  const backupOptions: BackupOptions = { label: 'typed', onProgress: listener };
  const backup: BackupResult = await engine.backup(ks, backupOptions);
  t.equal(backup.seqno, ks.seqno);
  t.ok(phases.has('checkpoint') && phases.has('done'), 'the ProgressListener saw the phases');

  const summaries: BackupList = await engine.list();
  const each: BackupSummary[] = summaries;
  const damaged: DamagedBackup[] = summaries.damaged;
  t.same(each.map((s) => [s.id, s.label]), [[backup.id, 'typed']]);
  t.same(damaged, []);
  const manifest: BackupManifest = await engine.info('latest');
  const files: ManifestFile[] = manifest.files;
  t.equal(files.length, backup.files);
  const info: StoreInfo | undefined = await engine.storeInfo();
  const sealed: StoreEncryption | undefined = info?.encryption;
  t.equal(sealed?.algorithm, 'aes-256-gcm', 'the store was made encrypted');
  t.equal(info?.keyspaceId, ks.id);

  const verifyOptions: VerifyOptions = { full: true };
  const verified: VerifyResult = await engine.verify(backup.id, verifyOptions);
  const problems: VerifyProblem[] = verified.problems;
  t.ok(verified.ok);
  t.same(problems, []);

  const restoreOptions: RestoreOptions = { concurrency: 2 };
  const restored: RestoreResult = await engine.restore(backup.id, path.join(dir, 'restored'), restoreOptions);
  t.equal(restored.seqno, backup.seqno);
  const copy = await Keyspace.open(restored.path);
  t.equal((await (await copy.partition('p')).get('k7'))?.toString(), 'v7');
  await copy.close();

  const pruneOptions: PruneOptions = { keepLast: 1, dryRun: true };
  const pruned: PruneResult = await engine.prune(pruneOptions);
  t.same(pruned.kept, [backup.id]);
  t.same(pruned.deleted, []);

  const shipOptions: ShipOptions = { intervalMs: 10 };
  const shipper: Shipper = engine.ship(ks, shipOptions);
  t.ok(shipper instanceof Shipper);
  const shippedEvents: ShippedEvent[] = [];
  shipper.on('shipped', (e: ShippedEvent) => shippedEvents.push(e));
  await shipper.flush();
  await p.put('shipped', '1');
  const waitOptions: ShipperWaitOptions = {};
  t.equal(await shipper.waitFor(ks.seqno, waitOptions), ks.seqno);
  const shipStats: ShipperStats = shipper.stats();
  t.equal(shipStats.lagSeqnos, 0);
  t.equal(shippedEvents.at(-1)?.lastSeqno, ks.seqno);
  const stopOptions: ShipperStopOptions = { releaseSlot: true };
  await shipper.stop(stopOptions);

  const window: RestoreWindow = await engine.window();
  t.equal(window.to?.seqno, ks.seqno);
  const plan: RestorePlan = await engine.restore('latest', path.join(dir, 'pitr-plan'), { toSeqno: ks.seqno, dryRun: true });
  t.equal(plan.seqno, ks.seqno);
  const pitr: PointInTimeResult = await engine.restore('latest', path.join(dir, 'pitr'), { toSeqno: ks.seqno });
  t.equal(pitr.seqno, ks.seqno);
  const scheduleOptions: ScheduleOptions = { every: '1h' };
  const schedule: BackupSchedule = engine.schedule(ks, scheduleOptions);
  const scheduleStats: ScheduleStats = schedule.stats();
  t.equal(scheduleStats.runs, 0);
  await schedule.stop();

  const body: StoreBody = Buffer.from('probe');
  const putOptions: StorePutOptions = { ifNoneMatch: true };
  await store.put('probe/one', body, putOptions);
  const getOptions: StoreGetOptions = {};
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get('probe/one', getOptions)) chunks.push(chunk as Buffer);
  t.equal(Buffer.concat(chunks).toString(), 'probe');
  const page: StoreListPage = await store.list('probe/');
  const object: StoreObjectInfo | undefined = page.objects[0];
  t.same([object?.key, object?.size, page.next], ['probe/one', 5, undefined]);
});

t.test('a Follower of a shipping keyspace, through its exported types', async (t) => {
  const dir = await scratchDir(t, 'exported-types-follower');
  const ks = await Keyspace.open(path.join(dir, 'ks'));
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  const url = path.join(dir, 'store');
  const engine = await BackupEngine.open(url);
  t.teardown(() => engine.close());
  await engine.backup(ks);
  const shipper = engine.ship(ks, { intervalMs: 10 });
  t.teardown(() => shipper.stop());

  const options: FollowerOptions = { pollMs: 10 };
  const follower: Follower = await Follower.open(url, path.join(dir, 'follower'), options);
  t.teardown(() => follower.close());
  const applied: FollowerAppliedEvent[] = [];
  const rebased: FollowerRebasedEvent[] = [];
  const problems: FollowerProblem[] = [];
  follower.on('applied', (e: FollowerAppliedEvent) => applied.push(e));
  follower.on('rebased', (e: FollowerRebasedEvent) => rebased.push(e));
  follower.on('error', (e: FollowerProblem) => problems.push(e));
  await p.put('b', '2');
  const wait: FollowerWaitOptions = { timeoutMs: 20_000 };
  await follower.waitFor(ks.seqno, wait);
  const fp: FollowerPartition = await follower.partition('p');
  t.ok(fp instanceof FollowerPartition);
  t.equal((await fp.get('b'))?.toString(), '2', 'the follower reads the shipped write');
  const stats: FollowerStats = follower.stats();
  t.ok(stats.seqno >= ks.seqno);
  t.equal(stats.lastError, undefined);
  t.same(problems, []);
  t.same(rebased, []);
  t.ok(applied.length >= 1, 'applied events came');
});

t.test('CairnLevel from CairnLevelOptions', async (t) => {
  const dir = await scratchDir(t, 'exported-types-level');
  const options: CairnLevelOptions<string, string> = { partition: 'level', memtableBytes: 4096, valueEncoding: 'utf8' };
  const db = new CairnLevel(dir, options);
  await db.open();
  t.teardown(() => db.close());
  await db.put('k', 'v');
  t.equal(await db.get('k'), 'v');
  t.same(db.keyspace?.partitionNames(), ['level']);
});
