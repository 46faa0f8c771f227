// Shared by the journal tests: record builders, a read-back helper, and a FileSystem
// wrapper that lets a test replace individual FileHandle methods (gated syncs, torn writes).
import { EntryKind } from '../../lib/codec/entry.js';
import type { FileHandle, FileSystem } from '../../lib/fs/file-system.js';
import { readJournal, type JournalEnd } from '../../lib/journal/journal-reader.js';
import { encodeBatch } from '../../lib/journal/record.js';

/** A one-Put record whose key and value name its seqno, so read-back can check content. */
export function putRecord(seqno: number, valueBytes = 8): Buffer {
  const value = Buffer.alloc(valueBytes, seqno % 251);
  return encodeBatch(seqno, [{ kind: EntryKind.Put, partitionId: 1, key: Buffer.from(`key-${seqno}`), value }]);
}

/** Reads a whole file; throws if any record's content does not match putRecord's. */
export async function readBack(fs: FileSystem, path: string, isLast = true): Promise<{ seqnos: number[]; end: JournalEnd }> {
  const reading = readJournal(fs, path, { isLast });
  const seqnos: number[] = [];
  for await (const r of reading.records) {
    const op = r.ops[0];
    if (op.key.toString() !== `key-${r.seqno}` || (op.value.length > 0 && op.value[0] !== r.seqno % 251)) {
      throw new Error(`record ${r.seqno} has the wrong content`);
    }
    seqnos.push(r.seqno);
  }
  return { seqnos, end: await reading.end };
}

export type HandleOverrides = Partial<{
  [K in 'writeSync' | 'sync' | 'truncate']: (inner: FileHandle, ...args: Parameters<FileHandle[K]>) => ReturnType<FileHandle[K]>;
}>;

/** Wraps `inner` so that handles of files whose path matches get the given method overrides. */
export function overrideHandles(inner: FileSystem, match: RegExp, overrides: HandleOverrides): FileSystem {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'open') {
        return async (path: string, mode: Parameters<FileSystem['open']>[1]) => {
          const handle = await target.open(path, mode);
          if (!match.test(path)) return handle;
          return new Proxy(handle, {
            get(h, p) {
              const override = overrides[p as keyof HandleOverrides] as ((inner: FileHandle, ...args: unknown[]) => unknown) | undefined;
              if (override !== undefined) return (...args: unknown[]) => override(h, ...args);
              const v = Reflect.get(h, p) as unknown;
              return typeof v === 'function' ? v.bind(h) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** A promise with its resolver, for gating. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets every pending microtask and I/O callback run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
