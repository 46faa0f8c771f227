// Verifying a backup: every object its manifest references exists with the right size
// (head), and with `full`, downloads it and re-hashes it. Read-only; any number may run
// beside backups, restores and other verifies.
import { ErrorCodes, hasCode } from '../errors.js';
import type { EngineContext } from './catalog.js';
import { hashObject } from './file-streams.js';
import type { BackupManifest } from './manifest.js';
import { forEachLimit } from './parallel.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { extFor, objectKey } from './store-layout.js';

/** Options of `engine.verify`. */
export interface VerifyOptions {
  /** Download and re-hash every object (default: only check existence and size). */
  full?: boolean;
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
}

export async function verifyBackup(ctx: EngineContext, manifest: BackupManifest, options: Required<Pick<VerifyOptions, 'concurrency' | 'full'>> & VerifyOptions): Promise<VerifyResult> {
  const { store } = ctx;
  const { full, signal } = options;
  const byKey = new Map<string, { size: number; sha256: string; paths: string[] }>();
  for (const f of manifest.files) {
    const key = objectKey(f.sha256, extFor(f.path));
    const entry = byKey.get(key) ?? { size: f.size, sha256: f.sha256, paths: [] };
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
        actual = await hashObject(store, key, inner, (n) => tracker.bytes(n));
      } catch (err) {
        if (!hasCode(err, ErrorCodes.NOT_FOUND)) throw err;
      }
      if (actual === undefined) bad.set(key, 'missing');
      else {
        bytesRead += actual.size;
        if (actual.size !== expected.size) bad.set(key, 'size');
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
  return { id: manifest.id, ok: problems.length === 0, full, objects: objects.length, bytesRead, problems };
}
