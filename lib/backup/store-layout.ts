// Every key of the backup store layout (docs/backups.md) is made and parsed here and
// nowhere else: store.json, files/<sha256>.<ext>, backups/<id>.json, locks/…, journal/….
// Pure functions; no I/O.

export const STORE_FILE_KEY = 'store.json';
export const FILES_PREFIX = 'files/';
export const BACKUPS_PREFIX = 'backups/';
export const LOCKS_PREFIX = 'locks/';
export const JOURNAL_PREFIX = 'journal/';
/** Objects a full verify found damaged, moved aside for forensics; nothing reads them. */
export const QUARANTINE_PREFIX = 'quarantine/';

/** How a content object is named: the extension tells a reader by hand what the bytes are. */
export type ObjectExt = 'sst' | 'jnl' | 'meta';

const SHA256_RE = /^[0-9a-f]{64}$/;
const OBJECT_KEY_RE = /^files\/([0-9a-f]{64})\.(sst|jnl|meta)$/;
const BACKUP_ID_RE = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;
const MANIFEST_KEY_RE = /^backups\/(\d{8}T\d{6}Z-[0-9a-f]{8})\.json$/;

export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256_RE.test(value);
}

export function isBackupId(value: unknown): value is string {
  return typeof value === 'string' && BACKUP_ID_RE.test(value);
}

/** Segments keep 'sst', journals 'jnl'; every other keyspace file (CURRENT, MANIFEST-*, keyspace.json) is 'meta'. */
export function extFor(relativePath: string): ObjectExt {
  if (relativePath.endsWith('.sst')) return 'sst';
  if (relativePath.endsWith('.jnl')) return 'jnl';
  return 'meta';
}

export function objectKey(sha256: string, ext: ObjectExt): string {
  return `${FILES_PREFIX}${sha256}.${ext}`;
}

/** The hash in a content object's key, or undefined when the key is not one. */
export function parseObjectKey(key: string): { sha256: string; ext: ObjectExt } | undefined {
  const m = OBJECT_KEY_RE.exec(key);
  return m ? { sha256: m[1], ext: m[2] as ObjectExt } : undefined;
}

export function manifestKey(id: string): string {
  return `${BACKUPS_PREFIX}${id}.json`;
}

export function parseManifestKey(key: string): string | undefined {
  return MANIFEST_KEY_RE.exec(key)?.[1];
}

export function leaseKey(kind: 'backup' | 'prune', id: string): string {
  return `${LOCKS_PREFIX}${kind}-${id}.json`;
}

const SHIPPED_KEY_RE = /^journal\/(\d{16})-(\d{16})-(\d{6})$/;

/** A shipped journal object's key (docs/shipping.md §3): seqnos 16 digits, epoch 6, so a listing is in seqno order. */
export function shippedObjectKey(firstSeqno: number, lastSeqno: number, epoch: number): string {
  return `${JOURNAL_PREFIX}${String(firstSeqno).padStart(16, '0')}-${String(lastSeqno).padStart(16, '0')}-${String(epoch).padStart(6, '0')}`;
}

/** The seqno range and epoch in a shipped object's key, or undefined when the key is not one. */
export function parseShippedObjectKey(key: string): { firstSeqno: number; lastSeqno: number; epoch: number } | undefined {
  const m = SHIPPED_KEY_RE.exec(key);
  if (!m) return undefined;
  const firstSeqno = Number(m[1]);
  const lastSeqno = Number(m[2]);
  if (!Number.isSafeInteger(lastSeqno) || firstSeqno > lastSeqno) return undefined;
  return { firstSeqno, lastSeqno, epoch: Number(m[3]) };
}

/** Where a damaged object is moved: `quarantine/<UTC stamp>-<ms>/<original key>`. */
export function quarantineKey(key: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, 'Z-$1');
  return `${QUARANTINE_PREFIX}${stamp}/${key}`;
}
