// Verifying a backup: every object its manifest references exists with the right size
// (head), and with `full`, downloads it and re-hashes it. Read-only; any number may run
// beside backups, restores and other verifies.
import { ErrorCodes, hasCode, throwIfAborted } from '../errors.js';
import { type EngineContext, readAllManifests } from './catalog.js';
import { decodeStream, hashObject } from './file-streams.js';
import { localCopyStore } from './local-copy.js';
import { decodeFileOnWorker } from './object-job.js';
import type { StoreCodec } from './store-codec.js';
import { objectNotFound } from './store-errors.js';
import type { BackupManifest } from './manifest.js';
import { forEachLimit } from './parallel.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { quarantineKey } from './store-layout.js';

/** Options of `engine.verify`. */
export interface VerifyOptions {
  /** Download and re-hash every object (default: only check existence and size). */
  full?: boolean;
  /**
   * With `full`, move every object whose content does not match its name aside to
   * `quarantine/` (default true), so that the next backup of a keyspace that still has the
   * file uploads it again instead of reusing the damaged copy. false only reports.
   */
  quarantine?: boolean;
  /** Objects checked at once, 1–256. Default 4. */
  concurrency?: number;
  /** Aborts the check (CAIRN_ABORTED). */
  signal?: AbortSignal;
  /** Called synchronously as phases start and bytes move. */
  onProgress?: ProgressListener;
}

/** One bad file of a backup: its object is missing, has the wrong size, or (with `full`) the wrong content. */
export interface VerifyProblem {
  /** The file in the keyspace (one problem per file naming a bad object). */
  path: string;
  /** The store object. */
  key: string;
  kind: 'missing' | 'size' | 'checksum';
}

/** What `engine.verify` resolves with. */
export interface VerifyResult {
  /** The backup checked ('latest' resolved to its id). */
  id: string;
  /** True when `problems` is empty. */
  ok: boolean;
  /** Whether content was downloaded and hashed. */
  full: boolean;
  /** Distinct objects checked. */
  objects: number;
  /** Bytes downloaded and hashed (0 without `full`). */
  bytesRead: number;
  problems: VerifyProblem[];
  /** Damaged objects moved aside by this verify: the object key and where it went. */
  quarantined: { key: string; to: string }[];
  /**
   * Every backup in the store (this one included) that references a quarantined object:
   * they cannot be restored until a backup uploads that content again.
   */
  brokenBackups: string[];
}

export async function verifyBackup(ctx: EngineContext, codec: StoreCodec, manifest: BackupManifest, options: Required<Pick<VerifyOptions, 'concurrency' | 'full' | 'quarantine'>> & VerifyOptions): Promise<VerifyResult> {
  const { store } = ctx;
  const { full, signal } = options;
  const byKey = new Map<string, { size: number; sha256: string; paths: string[] }>();
  for (const f of manifest.files) {
    const key = codec.contentKey(f);
    // The stored size: the file's own in format 1, the encoded object's in format 2.
    const entry = byKey.get(key) ?? { size: f.stored ?? f.size, sha256: f.sha256, paths: [] };
    entry.paths.push(f.path);
    byKey.set(key, entry);
  }
  const objects = [...byKey];
  const bad = new Map<string, VerifyProblem['kind']>();
  let bytesRead = 0;
  const tracker = new ProgressTracker(options.onProgress);
  tracker.phase('verifying', objects.length, full ? objects.reduce((n, [, o]) => n + o.size, 0) : 0);
  await forEachLimit(objects, options.concurrency, signal, async ([key, expected], inner) => {
    const head = await store.head(key);
    if (head === undefined) bad.set(key, 'missing');
    else if (head.size !== expected.size) bad.set(key, 'size');
    else if (full) {
      let actual;
      try {
        actual = await checkContent(ctx, codec, key, expected.sha256, inner, (n) => tracker.bytes(n));
      } catch (err) {
        if (!hasCode(err, ErrorCodes.NOT_FOUND)) throw err;
      }
      if (actual === undefined) bad.set(key, 'missing');
      else {
        bytesRead += actual.size;
        if (actual.sha256 === 'damaged') bad.set(key, 'checksum');
        else if (actual.size !== expected.size) bad.set(key, 'size');
        else if (actual.sha256 !== expected.sha256) bad.set(key, 'checksum');
      }
    }
    tracker.fileDone();
  });
  const problems: VerifyProblem[] = [];
  for (const [key, { paths }] of objects) {
    const kind = bad.get(key);
    if (kind !== undefined) for (const path of paths) problems.push({ path, key, kind });
  }
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const damaged = [...bad].filter(([, kind]) => kind !== 'missing').map(([key]) => key);
  const moved = full && options.quarantine && damaged.length > 0 ? await quarantine(ctx, damaged, signal) : [];
  const brokenBackups = moved.length === 0 ? [] : await backupsUsing(ctx, codec, new Set(moved.map((m) => m.key)), signal);
  return { id: manifest.id, ok: problems.length === 0, full, objects: objects.length, bytesRead, problems, quarantined: moved, brokenBackups };
}

/**
 * Moves each damaged object to quarantine/ (a copy, then the delete of the original): no
 * backup reads it again, and the next backup's existence check misses it and uploads the
 * content anew (restic's `repair packs` loop). The copy keeps the bytes for forensics.
 */
async function quarantine(ctx: EngineContext, keys: readonly string[], signal: AbortSignal | undefined): Promise<{ key: string; to: string }[]> {
  const moved: { key: string; to: string }[] = [];
  for (const key of keys) {
    throwIfAborted(signal);
    const to = quarantineKey(key, ctx.clock());
    const head = await ctx.store.head(key);
    if (head === undefined) continue;
    let stream;
    try {
      stream = await ctx.store.get(key, { signal });
    } catch (err) {
      if (hasCode(err, ErrorCodes.NOT_FOUND)) continue;
      throw err;
    }
    await ctx.store.put(to, { stream, size: head.size }, { signal });
    await ctx.store.delete(key);
    moved.push({ key, to });
  }
  return moved;
}

/** Ids of the readable backups that reference any of `keys`, oldest first. */
async function backupsUsing(ctx: EngineContext, codec: StoreCodec, keys: ReadonlySet<string>, signal: AbortSignal | undefined): Promise<string[]> {
  const { manifests } = await readAllManifests(ctx.store, codec, signal);
  return manifests.filter((m) => m.files.some((f) => keys.has(codec.contentKey(f)))).map((m) => m.id);
}

/**
 * The plaintext hash and stored size of an object as it is now. Format 1: the stored
 * bytes' SHA-256. Format 2: the object decoded (on a pool thread when the store's files
 * are local, streamed otherwise); damage the codec detects counts as a wrong checksum.
 */
async function checkContent(
  ctx: EngineContext,
  codec: StoreCodec,
  key: string,
  sha256: string,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<{ sha256: string; size: number }> {
  if (codec.format < 2) return hashObject(ctx.store, key, signal, onBytes);
  const local = localCopyStore(ctx.store);
  try {
    if (local !== undefined && !ctx.injected) {
      const summary = await decodeFileOnWorker(local.objectPath(key), undefined, { keys: codec.keys, sha256 }, { signal, onBytes });
      return { sha256: summary.sha256, size: summary.storedSize };
    }
    const summary = await decodeStream(await ctx.store.get(key, { signal }), { keys: codec.keys, sha256 }, signal, onBytes);
    return { sha256: summary.sha256, size: summary.storedSize };
  } catch (err) {
    if (hasCode(err, 'ENOENT')) throw objectNotFound(key, err);
    if (hasCode(err, ErrorCodes.CORRUPTION)) return { sha256: 'damaged', size: -1 };
    throw err;
  }
}
