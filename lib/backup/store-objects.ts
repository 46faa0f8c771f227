// Whole-object reads and complete listings over the BackupStore seam, for the small
// documents (store.json, manifests, leases) and for garbage collection. Stateless.
import type { BackupStore, StoreObjectInfo } from './store.js';

/** A whole (small) store object in memory: manifests, store.json, leases. */
export async function readObject(store: BackupStore, key: string, signal?: AbortSignal): Promise<Buffer> {
  const source = await store.get(key, { signal });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of source) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  } finally {
    source.destroy();
  }
  return Buffer.concat(chunks);
}

/** Every object under `prefix`, all pages, sorted by key. */
export async function listAll(store: BackupStore, prefix: string): Promise<StoreObjectInfo[]> {
  const out: StoreObjectInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(prefix, { cursor });
    out.push(...page.objects);
    cursor = page.next;
  } while (cursor !== undefined);
  return out;
}
