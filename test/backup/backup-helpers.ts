// Test helpers for the BackupEngine: a FileStore in a scratch directory, a store wrapper
// that counts and can hold or fail calls, and a single-writer workload that records the
// seqno of every write so any backup can be compared with the data as of its seqno.
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Keyspace } from '../../lib/index.js';
import { FileStore } from '../../lib/backup/file-store.js';
import { scratchDir as scratch, type Teardown } from '../helpers/scratch.js';
import type { Contents } from '../helpers/keyspace-content.js';
import type { BackupStore, StoreBody, StoreGetOptions, StoreListPage, StoreObjectInfo, StorePutOptions } from '../../lib/backup/store.js';

export async function scratchDir(t: Teardown, name: string): Promise<string> {
  return scratch(t, `backup-${name}`);
}

export async function fileStore(dir: string): Promise<FileStore> {
  await mkdir(dir, { recursive: true });
  return new FileStore(dir);
}

/** Passes every call through; counts puts and bytes put; lets a test hold or fail a call. */
export class WatchedStore implements BackupStore {
  readonly inner: BackupStore;
  puts: { key: string; size: number }[] = [];
  gets: string[] = [];
  /** Runs before each put reaches the inner store; may wait or throw. */
  beforePut: ((key: string) => Promise<void> | void) | undefined;
  /** Runs before each get reaches the inner store. */
  beforeGet: ((key: string) => Promise<void> | void) | undefined;
  /** Runs before each delete reaches the inner store. */
  beforeDelete: ((key: string) => Promise<void> | void) | undefined;

  constructor(inner: BackupStore) {
    this.inner = inner;
  }

  get url(): string {
    return this.inner.url;
  }

  bytesPut(prefix = ''): number {
    return this.puts.filter((p) => p.key.startsWith(prefix)).reduce((n, p) => n + p.size, 0);
  }

  async put(key: string, body: StoreBody, options?: StorePutOptions): Promise<void> {
    try {
      await this.beforePut?.(key);
    } catch (err) {
      if (!(body instanceof Uint8Array)) body.stream.destroy();
      throw err;
    }
    await this.inner.put(key, body, options);
    this.puts.push({ key, size: body instanceof Uint8Array ? body.byteLength : body.size });
  }

  async get(key: string, options?: StoreGetOptions): Promise<Readable> {
    await this.beforeGet?.(key);
    this.gets.push(key);
    return this.inner.get(key, options);
  }

  head(key: string): Promise<StoreObjectInfo | undefined> {
    return this.inner.head(key);
  }

  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<StoreListPage> {
    return this.inner.list(prefix, options);
  }

  async delete(key: string): Promise<void> {
    await this.beforeDelete?.(key);
    return this.inner.delete(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A promise to wait on and the function that opens it. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** Keys under `prefix` in a FileStore's directory (what is really stored). */
export async function storedKeys(root: string, prefix: 'files' | 'backups' | 'locks'): Promise<string[]> {
  const names = await readdir(join(root, prefix)).catch(() => [] as string[]);
  return names.filter((n) => !n.includes('.tmp-')).map((n) => `${prefix}/${n}`).sort();
}

interface Write {
  seqno: number;
  partition: string;
  key: string;
  value: string | undefined;
}

/**
 * One writer over a keyspace with small memtables and journal files (so backups hold
 * several segments and journals). Every write's seqno is recorded after it resolves;
 * with a single writer that is exactly the write's own seqno.
 */
export class Workload {
  readonly ks: Keyspace;
  readonly #writes: Write[] = [];
  #n = 0;

  private constructor(ks: Keyspace) {
    this.ks = ks;
  }

  static async open(dir: string): Promise<Workload> {
    // Compaction is held off (level 0 never reaches its trigger): a merge between two
    // backups would legitimately produce new files and blur what incrementality and
    // resumption tests count.
    return new Workload(await Keyspace.open(dir, { memtableBytes: 32 * 1024, journalFileBytes: 16 * 1024, compaction: { level0Trigger: 1_000_000 } }));
  }

  /** `count` more writes spread over two partitions; every seventh deletes an earlier key. */
  async write(count: number, valueBytes = 100): Promise<void> {
    for (let i = 0; i < count; i++) await this.writeOne(valueBytes);
  }

  async writeOne(valueBytes = 100): Promise<void> {
    const n = this.#n++;
    const partition = n % 3 === 0 ? 'audit' : 'users';
    const p = await this.ks.partition(partition);
    if (n % 7 === 6) {
      const key = `k${String(Math.floor(n / 2)).padStart(6, '0')}`;
      await p.delete(key);
      this.#writes.push({ seqno: this.ks.seqno, partition, key, value: undefined });
    } else {
      const key = `k${String(n % 500).padStart(6, '0')}`;
      const value = `${n}:`.padEnd(valueBytes, String.fromCharCode(97 + (n % 26)));
      await p.put(key, value);
      this.#writes.push({ seqno: this.ks.seqno, partition, key, value });
    }
  }

  /** Writes until `stop` resolves; returns once the last write is done. */
  async writeUntil(stop: Promise<unknown>): Promise<void> {
    let stopped = false;
    void stop.then(() => {
      stopped = true;
    });
    while (!stopped) await this.writeOne();
  }

  /** The data as of `seqno`: every recorded write up to it, in order. */
  contentsAt(seqno: number): Contents {
    const out: Contents = new Map();
    for (const w of this.#writes) {
      if (w.seqno > seqno) continue;
      const kv = out.get(w.partition) ?? new Map<string, string>();
      out.set(w.partition, kv);
      if (w.value === undefined) kv.delete(w.key);
      else kv.set(w.key, w.value);
    }
    return out;
  }
}

export { readKeyspace } from '../helpers/keyspace-content.js';

/** Names in `dir` that carry the temp marker (staging or temporary checkpoints left behind). */
export async function tempNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes('.tmp-'));
}

/**
 * Makes `store` a format-1 store owned by the keyspace at `ksPath` (store.json as cairn
 * 0.1 wrote it), so the engine keeps writing format 1 there: raw objects named by their
 * SHA-256, plain JSON manifests. For tests of that format's own behaviour.
 */
export async function useFormatOne(store: BackupStore, ksPath: string): Promise<void> {
  const { id } = JSON.parse(await readFile(join(ksPath, 'keyspace.json'), 'utf8')) as { id: string };
  const info = { format: 1, storeId: '00000000-0000-4000-8000-000000000001', keyspaceId: id, createdAt: new Date().toISOString() };
  await store.put('store.json', Buffer.from(`${JSON.stringify(info, null, 2)}\n`));
}
