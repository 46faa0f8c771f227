// A partition's manifest: the full description of one version of its tree (which
// segments, in which levels, and the seqno persisted in them), plus the CURRENT pointer
// that names the live manifest and carries its checksum. Encoding is pure; the write
// and read helpers go through the FileSystem seam. Callers serialise writes per partition.
import type { FileSystem } from '../fs/file-system.js';
import { writeFileAtomic } from '../fs/durable.js';
import { crc32 } from '../codec/checksum.js';
import { CairnError, ErrorCodes, hasCode } from '../errors.js';
import { currentPath, manifestFileName, manifestPath, parseManifestFileName } from '../layout/file-names.js';

export const MANIFEST_FORMAT = 1;
const MANIFEST_MAGIC = 'CAIRN-MANIFEST';

/** One segment as the manifest records it. Keys are kept as Buffers in memory, base64 on disk. */
export interface SegmentDescriptor {
  fileNumber: number;
  fileSize: number;
  entryCount: number;
  tombstoneCount: number;
  minKey: Buffer;
  maxKey: Buffer;
  minSeqno: number;
  maxSeqno: number;
  /**
   * When the segment was written (ms since the epoch; what FIFO's TTL measures). Absent
   * only in a manifest of a cairn that did not record it, until Tree.open dates the
   * segment by its properties block.
   */
  createdAt?: number;
}

/** Everything a manifest says about a partition's tree. */
export interface VersionState {
  partition: string;
  partitionId: number;
  /** Every write to this partition with seqno <= persistedSeqno is in the segments. */
  persistedSeqno: number;
  /** Next number for a segment or manifest file of this partition. */
  nextFileNumber: number;
  /** levels[0] overlaps and is ordered newest first; levels[1..] are sorted by key and disjoint. */
  levels: SegmentDescriptor[][];
}

interface SegmentJson {
  file: number;
  size: number;
  entries: number;
  tombstones: number;
  minKey: string;
  maxKey: string;
  minSeqno: number;
  maxSeqno: number;
  /** Milliseconds since the epoch; absent in manifests written before cairn recorded it. */
  created?: number;
}

interface ManifestJson {
  format: number;
  partition: string;
  partitionId: number;
  persistedSeqno: number;
  nextFileNumber: number;
  levels: SegmentJson[][];
}

/** The bytes of a manifest file: a magic line, one JSON line, and a checksum line over the JSON. */
export function encodeManifest(state: VersionState): Buffer {
  const json: ManifestJson = {
    format: MANIFEST_FORMAT,
    partition: state.partition,
    partitionId: state.partitionId,
    persistedSeqno: state.persistedSeqno,
    nextFileNumber: state.nextFileNumber,
    levels: state.levels.map((level) =>
      level.map((s) => ({
        file: s.fileNumber,
        size: s.fileSize,
        entries: s.entryCount,
        tombstones: s.tombstoneCount,
        minKey: s.minKey.toString('base64'),
        maxKey: s.maxKey.toString('base64'),
        minSeqno: s.minSeqno,
        maxSeqno: s.maxSeqno,
        created: s.createdAt,
      })),
    ),
  };
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  return Buffer.concat([
    Buffer.from(`${MANIFEST_MAGIC} ${MANIFEST_FORMAT}\n`),
    body,
    Buffer.from(`\ncrc32 ${hex32(crc32(body))}\n`),
  ]);
}

/** Parses manifest bytes, checking magic, format and checksum. */
export function decodeManifest(bytes: Buffer, where: string): VersionState {
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[3] !== '' || !lines[0].startsWith(`${MANIFEST_MAGIC} `)) {
    throw corrupt(where, 'not a manifest');
  }
  const format = Number(lines[0].slice(MANIFEST_MAGIC.length + 1));
  if (!Number.isInteger(format)) throw corrupt(where, 'bad format line');
  if (format > MANIFEST_FORMAT) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Manifest ${where} has format ${format}; this cairn reads up to ${MANIFEST_FORMAT}`, {
      details: { path: where, format },
    });
  }
  const body = Buffer.from(lines[1], 'utf8');
  if (lines[2] !== `crc32 ${hex32(crc32(body))}`) throw corrupt(where, 'checksum mismatch');
  let json: ManifestJson;
  try {
    json = JSON.parse(lines[1]) as ManifestJson;
  } catch (err) {
    throw corrupt(where, 'unparsable body', err);
  }
  return {
    partition: json.partition,
    partitionId: json.partitionId,
    persistedSeqno: json.persistedSeqno,
    nextFileNumber: json.nextFileNumber,
    levels: json.levels.map((level) =>
      level.map((s) => ({
        fileNumber: s.file,
        fileSize: s.size,
        entryCount: s.entries,
        tombstoneCount: s.tombstones,
        minKey: Buffer.from(s.minKey, 'base64'),
        maxKey: Buffer.from(s.maxKey, 'base64'),
        minSeqno: s.minSeqno,
        maxSeqno: s.maxSeqno,
        createdAt: s.created,
      })),
    ),
  };
}

/** CURRENT's content: the manifest's name and the crc32 of the manifest's bytes. */
export function encodeCurrent(manifestNumber: number, manifestBytes: Buffer): string {
  return `${manifestFileName(manifestNumber)} ${hex32(crc32(manifestBytes))}\n`;
}

/**
 * Durably writes `state` as manifest number `manifestNumber` and points CURRENT at it.
 * Either step may fail; until CURRENT is renamed into place the previous version stays
 * the live one, so a failure at any point leaves the partition as it was.
 */
export async function writeManifest(fs: FileSystem, partitionRoot: string, manifestNumber: number, state: VersionState): Promise<void> {
  const bytes = encodeManifest(state);
  await writeFileAtomic(fs, manifestPath(partitionRoot, manifestNumber), bytes);
  await writeFileAtomic(fs, currentPath(partitionRoot), encodeCurrent(manifestNumber, bytes));
}

/** Reads CURRENT and the manifest it names, verifying both. */
export async function readCurrentManifest(fs: FileSystem, partitionRoot: string): Promise<{ manifestNumber: number; state: VersionState }> {
  const cur = currentPath(partitionRoot);
  const text = (await fs.readFile(cur)).toString('utf8');
  const m = /^(MANIFEST-\d+) ([0-9a-f]{8})\n$/.exec(text);
  const manifestNumber = m ? parseManifestFileName(m[1]) : undefined;
  if (!m || manifestNumber === undefined) throw corrupt(cur, 'unparsable CURRENT');
  const where = manifestPath(partitionRoot, manifestNumber);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(where);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) throw corrupt(where, 'CURRENT names a missing manifest', err);
    throw err;
  }
  if (hex32(crc32(bytes)) !== m[2]) throw corrupt(where, 'manifest does not match the checksum in CURRENT');
  return { manifestNumber, state: decodeManifest(bytes, where) };
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function corrupt(where: string, what: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Corrupt manifest ${where}: ${what}`, { cause, details: { path: where } });
}
