// A read-only report of what a keyspace or checkpoint directory holds: identity,
// partitions and their levels, journals and their seqno ranges, and crash debris. Takes
// no lock and writes nothing, so it may run while the keyspace is open elsewhere (files
// are immutable or append-only); a live keyspace may then show an append in progress.
import * as path from 'node:path';
import type { FileSystem } from '../fs/file-system.js';
import { CairnError, ErrorCodes, hasCode } from '../errors.js';
import { readCurrentManifest, type SegmentDescriptor } from '../tree/manifest.js';
import { readKeyspaceMeta } from '../layout/keyspace-meta.js';
import { readJournal } from '../journal/journal-reader.js';
import { listJournalFiles, type JournalListing } from '../journal/journal-files.js';
import {
  JOURNAL_DIR,
  KEYSPACE_FILE,
  PARTITIONS_DIR,
  SEGMENTS_DIR,
  CURRENT_FILE,
  isTempName,
  journalFileName,
  keyspaceFilePath,
  manifestFileName,
  parseManifestFileName,
  parseSegmentFileName,
  partitionDir,
  partitionsDir,
  segmentFileName,
  segmentsDir,
} from '../layout/file-names.js';

/** A problem met while reading one part; the rest of the report stays valid. */
export interface InspectProblem {
  code: string;
  message: string;
}

export interface LevelReport {
  level: number;
  segments: number;
  bytes: number;
  entries: number;
  tombstones: number;
  /** Smallest and largest key of the level, shown as text when printable, else `0x` + hex. */
  minKey?: string;
  maxKey?: string;
  minKeyHex?: string;
  maxKeyHex?: string;
}

export interface PartitionReport {
  name: string;
  id: number;
  manifest?: string;
  persistedSeqno?: number;
  levels: LevelReport[];
  error?: InspectProblem;
}

export interface JournalReport {
  file: string;
  bytes: number;
  records: number;
  firstSeqno?: number;
  lastSeqno?: number;
  /** A trailing file of at most a header, made ahead of a journal switch; recovery deletes it. */
  spare?: boolean;
  /** Bytes after the last whole record of the newest journal; recovery cuts them off. */
  tornTail?: { offset: number; bytes: number };
  error?: InspectProblem;
}

export interface InspectReport {
  path: string;
  keyspaceId: string;
  format: number;
  createdAt: string;
  partitions: PartitionReport[];
  journals: JournalReport[];
  /** The highest seqno found in the journals or persisted in the manifests. */
  lastSeqno: number;
  /** Paths (relative to the directory) that open would delete: temp files, unreferenced segments and manifests, unregistered partitions. */
  debris: string[];
}

/** Reads `dir` without modifying it. CAIRN_NOT_A_KEYSPACE when it holds no keyspace.json. */
export async function inspectKeyspace(fs: FileSystem, dir: string): Promise<InspectReport> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
  const root = path.resolve(dir);
  const dirStat = await fs.statOrUndefined(root);
  if (dirStat === undefined || !dirStat.isDirectory || (await fs.statOrUndefined(keyspaceFilePath(root))) === undefined) {
    throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not a cairn keyspace (no ${KEYSPACE_FILE})`, { details: { path: root } });
  }
  const meta = await readKeyspaceMeta(fs, root);
  const debris: string[] = [];
  for (const name of await fs.readdir(root)) if (isTempName(name)) debris.push(name);

  const registered = Object.keys(meta.partitions).sort();
  const partitions: PartitionReport[] = [];
  for (const name of registered) partitions.push(await inspectPartition(fs, root, name, meta.partitions[name].id, debris));
  for (const name of await readdirOrEmpty(fs, partitionsDir(root))) {
    if (!Object.hasOwn(meta.partitions, name)) debris.push(path.join(PARTITIONS_DIR, name));
  }

  const journals = await inspectJournals(fs, root, debris);
  let lastSeqno = 0;
  for (const p of partitions) lastSeqno = Math.max(lastSeqno, p.persistedSeqno ?? 0);
  for (const j of journals) lastSeqno = Math.max(lastSeqno, j.lastSeqno ?? 0);
  return { path: root, keyspaceId: meta.id, format: meta.format, createdAt: meta.createdAt, partitions, journals, lastSeqno, debris };
}

/** The first problem in the report, for a caller that turns one into an exit status. */
export function firstProblem(report: InspectReport): InspectProblem | undefined {
  return [...report.partitions, ...report.journals].find((part) => part.error !== undefined)?.error;
}

async function inspectPartition(fs: FileSystem, root: string, name: string, id: number, debris: string[]): Promise<PartitionReport> {
  const dir = partitionDir(root, name);
  const report: PartitionReport = { name, id, levels: [] };
  let live: { manifestNumber: number; state: { persistedSeqno: number; levels: SegmentDescriptor[][] } };
  try {
    live = await readLive(fs, dir);
  } catch (err) {
    report.error = problem(err);
    return report;
  }
  report.manifest = manifestFileName(live.manifestNumber);
  report.persistedSeqno = live.state.persistedSeqno;
  report.levels = live.state.levels.map((segments, level) => levelReport(level, segments));

  const named = new Set(live.state.levels.flat().map((s) => s.fileNumber));
  const rel = path.join(PARTITIONS_DIR, name);
  for (const entry of await readdirOrEmpty(fs, dir)) {
    const n = parseManifestFileName(entry);
    if (isTempName(entry) || (n !== undefined && n !== live.manifestNumber)) debris.push(path.join(rel, entry));
    else if (n === undefined && entry !== CURRENT_FILE && entry !== SEGMENTS_DIR) debris.push(path.join(rel, entry));
  }
  for (const entry of await readdirOrEmpty(fs, segmentsDir(dir))) {
    const n = parseSegmentFileName(entry);
    if (n === undefined || !named.has(n) || entry !== segmentFileName(n)) debris.push(path.join(rel, SEGMENTS_DIR, entry));
  }
  return report;
}

/**
 * CURRENT and its manifest. While the keyspace is open elsewhere a flush may replace both
 * between the two reads (the old manifest is deleted): read again a few times before
 * reporting the failure.
 */
async function readLive(fs: FileSystem, dir: string): Promise<Awaited<ReturnType<typeof readCurrentManifest>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readCurrentManifest(fs, dir);
    } catch (err) {
      if (attempt >= 3 || !(hasCode(err, ErrorCodes.CORRUPTION) || hasCode(err, 'ENOENT'))) throw err;
    }
  }
}

function levelReport(level: number, segments: SegmentDescriptor[]): LevelReport {
  const report: LevelReport = {
    level,
    segments: segments.length,
    bytes: segments.reduce((n, s) => n + s.fileSize, 0),
    entries: segments.reduce((n, s) => n + s.entryCount, 0),
    tombstones: segments.reduce((n, s) => n + s.tombstoneCount, 0),
  };
  if (segments.length > 0) {
    const minKey = segments.map((s) => s.minKey).reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
    const maxKey = segments.map((s) => s.maxKey).reduce((a, b) => (Buffer.compare(a, b) >= 0 ? a : b));
    report.minKey = displayKey(minKey);
    report.maxKey = displayKey(maxKey);
    report.minKeyHex = minKey.toString('hex');
    report.maxKeyHex = maxKey.toString('hex');
  }
  return report;
}

/** Printable ASCII keys as they are; anything else (or text that would read as hex) as `0x` + hex. */
export function displayKey(key: Buffer): string {
  const printable = key.length > 0 && key.every((b) => b >= 0x20 && b < 0x7f);
  const text = key.toString('latin1');
  return printable && !text.startsWith('0x') ? text : `0x${key.toString('hex')}`;
}

/** Every journal, read through with the same rules as recovery but without truncating anything. */
async function inspectJournals(fs: FileSystem, root: string, debris: string[]): Promise<JournalReport[]> {
  let listing: JournalListing;
  try {
    listing = await listJournalFiles(fs, root);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return [];
    throw err;
  }
  for (const name of listing.others) debris.push(path.join(JOURNAL_DIR, name));
  const files = [...listing.files, ...listing.spares];
  const reports: JournalReport[] = files.map((f, i) => {
    const report: JournalReport = { file: path.join(JOURNAL_DIR, journalFileName(f.fileNumber)), bytes: f.bytes, records: 0 };
    if (i >= listing.files.length) report.spare = true;
    return report;
  });
  for (let i = 0; i < reports.length; i++) {
    const report = reports[i];
    // The newest file holding data may have a torn tail; spares are read the same way.
    const isLast = i >= listing.files.length - 1;
    try {
      const reading = readJournal(fs, files[i].path, { isLast, fileNumber: files[i].fileNumber });
      for await (const _record of reading.records) report.records++;
      const end = await reading.end;
      if (end.firstSeqno !== undefined) report.firstSeqno = end.firstSeqno;
      if (end.lastSeqno !== undefined) report.lastSeqno = end.lastSeqno;
      if (end.tornTail !== undefined && !report.spare) report.tornTail = end.tornTail;
    } catch (err) {
      report.error = problem(err);
    }
  }
  return reports;
}

async function readdirOrEmpty(fs: FileSystem, dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return [];
    throw err;
  }
}

function problem(err: unknown): InspectProblem {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'UNKNOWN';
  return { code, message: err instanceof Error ? err.message : String(err) };
}
