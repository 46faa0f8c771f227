// keyspace.json: the keyspace's identity (format version, UUID, creation time) and its
// partition registry (name -> numeric id used in journal records). Rewritten atomically
// on every change; the keyspace serialises writers.
import { randomUUID } from 'node:crypto';
import type { FileSystem } from '../fs/file-system.js';
import { writeFileAtomic } from '../fs/durable.js';
import { CairnError, ErrorCodes } from '../errors.js';
import { keyspaceFilePath } from './file-names.js';

export const KEYSPACE_FORMAT = 1;

export interface PartitionRecord {
  id: number;
  createdAt: string;
}

export interface KeyspaceMeta {
  format: number;
  id: string;
  createdAt: string;
  /** Ids are never reused: journal records of a deleted partition must never replay into a new one. */
  nextPartitionId: number;
  partitions: Record<string, PartitionRecord>;
}

export function newKeyspaceMeta(): KeyspaceMeta {
  return { format: KEYSPACE_FORMAT, id: randomUUID(), createdAt: new Date().toISOString(), nextPartitionId: 1, partitions: {} };
}

/** keyspace.json's bytes: indented JSON, for people reading it. */
export function encodeKeyspaceMeta(meta: KeyspaceMeta): string {
  return `${JSON.stringify(meta, null, 2)}\n`;
}

export async function writeKeyspaceMeta(fs: FileSystem, root: string, meta: KeyspaceMeta): Promise<void> {
  await writeFileAtomic(fs, keyspaceFilePath(root), encodeKeyspaceMeta(meta));
}

/** Reads and checks keyspace.json: CAIRN_CORRUPTION when unreadable, CAIRN_UNSUPPORTED_FORMAT when newer than this code. */
export async function readKeyspaceMeta(fs: FileSystem, root: string): Promise<KeyspaceMeta> {
  const where = keyspaceFilePath(root);
  const text = (await fs.readFile(where)).toString('utf8');
  let meta: KeyspaceMeta;
  try {
    meta = JSON.parse(text) as KeyspaceMeta;
  } catch (err) {
    throw new CairnError(ErrorCodes.CORRUPTION, `Unparsable ${where}`, { cause: err, details: { path: where } });
  }
  if (typeof meta !== 'object' || meta === null || typeof meta.format !== 'number' || typeof meta.id !== 'string') {
    throw new CairnError(ErrorCodes.CORRUPTION, `Malformed ${where}`, { details: { path: where } });
  }
  if (meta.format > KEYSPACE_FORMAT) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Keyspace format ${meta.format} is newer than this cairn supports (${KEYSPACE_FORMAT})`, {
      details: { path: where, format: meta.format },
    });
  }
  if (typeof meta.partitions !== 'object' || meta.partitions === null || !Number.isInteger(meta.nextPartitionId)) {
    throw new CairnError(ErrorCodes.CORRUPTION, `Malformed partition registry in ${where}`, { details: { path: where } });
  }
  return meta;
}
