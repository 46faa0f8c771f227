// Opening a keyspace directory: checking what is there, creating the layout of a new
// keyspace, or recovering an existing one (registry, partition trees, journal replay) and
// removing what a crash left behind. Runs once per open, under the LOCK the caller holds,
// so nothing else touches the directory meanwhile.
import * as path from 'node:path';
import type { FileSystem } from '../fs/file-system.js';
import { mkdirDurable, removeTreeDurable, syncParent } from '../fs/durable.js';
import { CairnError, ErrorCodes, systemError } from '../errors.js';
import { listJournalFiles } from '../journal/journal-files.js';
import { readJournal } from '../journal/journal-reader.js';
import { Journal } from '../journal/journal.js';
import { isEntryKind } from '../journal/record.js';
import {
  backupStagingPrefix,
  legacyBackupStagingPrefix,
  isTempName,
  journalDir,
  KEYSPACE_FILE,
  LOCK_FILE,
  partitionDir,
  partitionsDir,
  JOURNAL_DIR,
  PARTITIONS_DIR,
} from '../layout/file-names.js';
import { type KeyspaceMeta, newKeyspaceMeta, readKeyspaceMeta, writeKeyspaceMeta } from '../layout/keyspace-meta.js';
import { Tree, type TreeHost } from '../tree/tree.js';
import { readSlots } from './journal-slots.js';
import type { ResolvedOptions } from './options.js';

/**
 * Checks `root` before it is locked (locking creates the LOCK file, which a directory that
 * is not a keyspace must not gain): creates it when missing (unless `createIfMissing` is
 * false: CAIRN_NOT_FOUND), and rejects CAIRN_NOT_A_KEYSPACE for a file or a directory
 * holding anything but keyspace debris, EEXIST for a keyspace when `errorIfExists`.
 * Resolves true when it holds a keyspace, false when a new one is to be made there.
 */
export async function checkKeyspaceDirectory(fs: FileSystem, root: string, mode: { createIfMissing: boolean; errorIfExists: boolean }): Promise<boolean> {
  const existing = await fs.statOrUndefined(root);
  if (existing === undefined) {
    if (!mode.createIfMissing) throw notFound(root);
    await mkdirDurable(fs, root);
  } else if (!existing.isDirectory) throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not a directory`, { details: { path: root } });
  const names = await fs.readdir(root);
  const isKeyspace = names.includes(KEYSPACE_FILE);
  if (!isKeyspace && names.some((n) => n !== LOCK_FILE && n !== JOURNAL_DIR && n !== PARTITIONS_DIR && !isTempName(n))) {
    throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not empty and holds no ${KEYSPACE_FILE}`, { details: { path: root } });
  }
  if (isKeyspace && mode.errorIfExists) throw systemError('EEXIST', 'open', { path: root, description: 'a keyspace already exists' });
  if (!isKeyspace && !mode.createIfMissing) throw notFound(root);
  return isKeyspace;
}

function notFound(root: string): CairnError {
  return new CairnError(ErrorCodes.NOT_FOUND, `No keyspace at ${root} (createIfMissing is false)`, { details: { path: root } });
}

/** A recovered keyspace, ready for writes: nothing of it runs in the background yet. */
export interface Recovered {
  meta: KeyspaceMeta;
  trees: Map<string, Tree>;
  /** The journal taking new writes; undefined when opened read-only. */
  journal: Journal | undefined;
  /** The journal files replayed (what a read-only keyspace's stats report). */
  replayed: { fileNumber: number; bytes: number }[];
  /** The highest seqno found in the journals or persisted in the segments. */
  lastSeqno: number;
  /** Commit time of the newest journal record (0 when none carries one). */
  lastTimeMs: number;
  /** Journal slots from slots.json. */
  slots: Map<string, number>;
}

/**
 * Makes or recovers the keyspace at `root`: the layout of a new keyspace, or the registry
 * of an existing one, each partition's tree, the journals replayed over the segments, and
 * a fresh active journal file. On failure, closes what it opened.
 */
export async function recoverKeyspace(fs: FileSystem, root: string, isKeyspace: boolean, host: TreeHost, options: ResolvedOptions): Promise<Recovered> {
  if (options.readOnly) return readKeyspace(fs, root, host, options);
  await removeStaleBackupStaging(fs, root);
  const trees = new Map<string, Tree>();
  let journal: Journal | undefined;
  try {
    const meta = isKeyspace ? await readKeyspaceMeta(fs, root) : await createLayout(fs, root);
    for (const [name, record] of Object.entries(meta.partitions)) {
      trees.set(name, await Tree.open(host, partitionDir(root, name), name, record.id, options));
    }
    await removeUnregisteredPartitions(fs, root, meta);
    const recovered = await replayJournals(fs, root, trees, { repair: true });
    let lastSeqno = recovered.lastSeqno;
    for (const tree of trees.values()) lastSeqno = Math.max(lastSeqno, tree.persistedSeqno);
    journal = await Journal.open(fs, journalDir(root), {
      maxFileBytes: options.journalFileBytes,
      firstFileNumber: recovered.highestFileNumber + 1,
      sealed: recovered.sealed,
    });
    const slots = await readSlots(fs, root);
    return { meta, trees, journal, replayed: recovered.sealed, lastSeqno, lastTimeMs: recovered.lastTimeMs, slots };
  } catch (err) {
    for (const tree of trees.values()) await tree.close().catch(() => undefined);
    await journal?.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The read-only open: the registry, the trees and the journals replayed into memory, with
 * nothing on disk changed (no debris removed, no torn tail cut, no journal file made).
 */
async function readKeyspace(fs: FileSystem, root: string, host: TreeHost, options: ResolvedOptions): Promise<Recovered> {
  const trees = new Map<string, Tree>();
  try {
    const meta = await readKeyspaceMeta(fs, root);
    for (const [name, record] of Object.entries(meta.partitions)) {
      trees.set(name, await Tree.open(host, partitionDir(root, name), name, record.id, options));
    }
    const recovered = await replayJournals(fs, root, trees, { repair: false });
    let lastSeqno = recovered.lastSeqno;
    for (const tree of trees.values()) lastSeqno = Math.max(lastSeqno, tree.persistedSeqno);
    return { meta, trees, journal: undefined, replayed: recovered.sealed, lastSeqno, lastTimeMs: recovered.lastTimeMs, slots: await readSlots(fs, root) };
  } catch (err) {
    for (const tree of trees.values()) await tree.close().catch(() => undefined);
    throw err;
  }
}

/** A new keyspace: directories first, keyspace.json last (its presence marks a complete keyspace). */
async function createLayout(fs: FileSystem, root: string): Promise<KeyspaceMeta> {
  for (const name of await fs.readdir(root)) {
    if (name !== LOCK_FILE) await fs.removeTree(path.join(root, name));
  }
  await mkdirDurable(fs, journalDir(root));
  await mkdirDurable(fs, partitionsDir(root));
  const meta = newKeyspaceMeta();
  await writeKeyspaceMeta(fs, root, meta);
  await syncParent(fs, root);
  return meta;
}

/** Partition directories the registry does not name are debris of a crashed create or delete. */
async function removeUnregisteredPartitions(fs: FileSystem, root: string, meta: KeyspaceMeta): Promise<void> {
  for (const name of await fs.readdir(partitionsDir(root))) {
    if (!Object.hasOwn(meta.partitions, name)) await removeTreeDurable(fs, path.join(partitionsDir(root), name));
  }
}

interface Replayed {
  lastSeqno: number;
  lastTimeMs: number;
  highestFileNumber: number;
  sealed: { fileNumber: number; firstSeqno: number | undefined; lastSeqno: number | undefined; bytes: number }[];
}

/**
 * Replays every journal, oldest first, into the memtables of the partitions it names,
 * skipping writes a partition already persisted in its segments. With `repair`, a torn tail
 * of the last journal (a crash mid-write) is cut off so it can never sit in the middle of
 * the log, and temp files and spares are removed; without it (read-only) the tail is only
 * skipped.
 */
async function replayJournals(fs: FileSystem, root: string, trees: Map<string, Tree>, { repair }: { repair: boolean }): Promise<Replayed> {
  const byId = new Map<number, Tree>();
  for (const tree of trees.values()) byId.set(tree.id, tree);
  const listing = await listJournalFiles(fs, root);
  if (repair) {
    for (const name of listing.others) if (isTempName(name)) await fs.unlink(path.join(journalDir(root), name));
    // Spares are removed, newest first, so that "last" means the last file that received
    // writes, the only one allowed a torn tail, and the next file number is free again.
    for (const spare of listing.spares.reverse()) await fs.unlink(spare.path);
  }
  const { files } = listing;
  let lastSeqno = 0;
  let lastTimeMs = 0;
  const sealed: Replayed['sealed'] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i].path;
    const reading = readJournal(fs, file, { isLast: i === files.length - 1 });
    for await (const record of reading.records) {
      for (let j = 0; j < record.ops.length; j++) {
        const op = record.ops[j];
        const seqno = record.seqno + j;
        // Registry records (partition create and drop) are for replays elsewhere: here
        // keyspace.json, the commit point of those changes, has already decided.
        if (!isEntryKind(op.kind)) continue;
        const tree = byId.get(op.partitionId);
        if (tree !== undefined && seqno > tree.persistedSeqno) tree.apply(op.key, seqno, op.kind, op.value);
      }
      lastSeqno = Math.max(lastSeqno, record.seqno + record.ops.length - 1);
      if (record.timeMs !== undefined) lastTimeMs = Math.max(lastTimeMs, record.timeMs);
    }
    const end = await reading.end;
    if (end.tornTail !== undefined && repair) {
      const handle = await fs.open(file, 'r+');
      try {
        await handle.truncate(end.validBytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    sealed.push({ fileNumber: files[i].fileNumber, firstSeqno: end.firstSeqno, lastSeqno: end.lastSeqno, bytes: end.validBytes });
  }
  return { lastSeqno, lastTimeMs, highestFileNumber: files.length > 0 ? files[files.length - 1].fileNumber : 0, sealed };
}

/**
 * Deletes what a BackupEngine killed mid-backup left: checkpoints staged under
 * `<root>/backup.tmp-*` (and, from older cairn versions, `<root>.tmp-backup-*` beside it).
 * Only the lock holder makes them, and the caller holds the lock now, so none is in use.
 * Best effort: a directory that cannot be listed, or a tree that will not go, is left for
 * the next open.
 */
async function removeStaleBackupStaging(fs: FileSystem, root: string): Promise<void> {
  for (const prefix of [backupStagingPrefix(root), legacyBackupStagingPrefix(root)]) {
    const parent = path.dirname(prefix);
    const start = path.basename(prefix);
    const names = await fs.readdir(parent).catch(() => [] as string[]);
    for (const name of names) if (name.startsWith(start)) await fs.removeTree(path.join(parent, name)).catch(() => undefined);
  }
}
