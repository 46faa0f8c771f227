// Deep checks of a keyspace's own checksums, fed the file's bytes as they stream past (so a
// backup checks what it hashes in the same pass): every block trailer of a segment (CRC-32
// over payload and kind byte) and every record of a journal (CRC-32 of its payload).
// Also the whole-directory check behind `ks.check()` and `cairn check`, each file on a
// worker-pool thread. A checker is one file's state, used by one thread.
import * as path from 'node:path';
import { crc32 } from '../codec/checksum.js';
import { CairnError, ErrorCodes } from '../errors.js';
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { defaultFileSystem } from '../fs/index.js';
import { JOURNAL_HEADER_BYTES, RECORD_HEADER_BYTES, decodeHeader } from '../journal/record.js';
import { journalDir, parseJournalFileName, parseSegmentFileName, partitionsDir, segmentsDir } from '../layout/file-names.js';
import { BLOCK_TRAILER_SIZE, BlockKind, FOOTER_SIZE, decodeFooter, openBlock } from '../segment/format.js';
import { SegmentIndex } from '../segment/index-block.js';
import { type JobContext, type WorkerPool, jobKind, sharedWorkerPool } from '../workers/worker-pool.js';

/** What to check a file as: a segment, a journal (optionally allowed a torn tail: the newest of a closed keyspace). */
export type FileCheck = 'sst' | 'jnl' | 'jnl-last';

/** Checks one file fed in order: `update` with each chunk at its position, then `finish` with the size. */
export interface ContentChecker {
  update(chunk: Uint8Array, position: number): void;
  finish(size: number): void;
}

/** The check for a keyspace file by its name, or undefined for files without checksums of their own here. */
export function checkFor(relativePath: string): FileCheck | undefined {
  if (relativePath.endsWith('.sst')) return 'sst';
  if (relativePath.endsWith('.jnl')) return 'jnl';
  return undefined;
}

function corruption(message: string, file: string, offset: number): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `${message} (${file} at offset ${offset})`, { details: { path: file, offset } });
}

function readExactlySync(handle: FileHandle, position: number, length: number, file: string): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = handle.readSync(buf, got, length - got, position + got);
    if (n === 0) throw corruption('file shorter than its footer says', file, position + got);
    got += n;
  }
  return buf;
}

/**
 * A checker for `handle`'s file. A segment's footer, index, filter and properties are
 * read and checked first (a small read at its end: they say where the data blocks lie);
 * its data blocks are checked as they stream past.
 */
export async function contentChecker(kind: FileCheck, handle: FileHandle, file: string): Promise<ContentChecker> {
  if (kind !== 'sst') return new JournalChecker(file, kind === 'jnl-last');
  const { size } = await handle.stat();
  if (size < FOOTER_SIZE) throw corruption('file too short to be a segment', file, 0);
  const footer = decodeFooter(readExactlySync(handle, size - FOOTER_SIZE, FOOTER_SIZE, file), size, file);
  const tailStart = footer.filter.offset;
  const tail = readExactlySync(handle, tailStart, size - FOOTER_SIZE - tailStart, file);
  const slice = (h: { offset: number; length: number }) => tail.subarray(h.offset - tailStart, h.offset - tailStart + h.length + BLOCK_TRAILER_SIZE);
  openBlock(slice(footer.properties), BlockKind.Properties, file, footer.properties.offset);
  openBlock(slice(footer.filter), BlockKind.Filter, file, footer.filter.offset);
  const index = new SegmentIndex(openBlock(slice(footer.index), BlockKind.Index, file, footer.index.offset), tailStart, file, footer.index.offset);
  return new SegmentChecker(file, index, size);
}

/** Data block trailers of a segment, checked as the bytes pass (CRC-32 continued across chunks). */
class SegmentChecker implements ContentChecker {
  readonly #file: string;
  readonly #index: SegmentIndex;
  readonly #size: number;
  readonly #stored = Buffer.alloc(4);
  #block = 0;
  #crc = 0;
  #kind = -1;
  #next = 0;

  constructor(file: string, index: SegmentIndex, size: number) {
    this.#file = file;
    this.#index = index;
    this.#size = size;
  }

  update(chunk: Uint8Array, position: number): void {
    if (position !== this.#next) throw new RangeError(`chunks must come in order (expected ${this.#next}, got ${position})`);
    this.#next = position + chunk.byteLength;
    let p = position;
    const end = this.#next;
    const index = this.#index;
    while (p < end && this.#block < index.count) {
      const offset = index.offsetOf(this.#block);
      const length = index.lengthOf(this.#block);
      const kindAt = offset + length;
      const crcEnd = kindAt + 1;
      const trailerEnd = kindAt + BLOCK_TRAILER_SIZE;
      if (p < crcEnd) {
        const upto = Math.min(end, crcEnd);
        this.#crc = crc32(chunk.subarray(p - position, upto - position), this.#crc);
        if (kindAt >= p && kindAt < upto) this.#kind = chunk[kindAt - position];
        p = upto;
      } else {
        const upto = Math.min(end, trailerEnd);
        this.#stored.set(chunk.subarray(p - position, upto - position), p - crcEnd);
        p = upto;
        if (p === trailerEnd) {
          if (this.#stored.readUInt32LE(0) !== this.#crc) throw corruption('block checksum mismatch', this.#file, offset);
          // A data block is stored plain or Snappy-compressed (segment format 2); its CRC covers the stored bytes either way.
          if (this.#kind !== BlockKind.Data && this.#kind !== BlockKind.SnappyData) throw corruption(`expected a data block (kind ${BlockKind.Data} or ${BlockKind.SnappyData}), found kind ${this.#kind}`, this.#file, offset);
          this.#block++;
          this.#crc = 0;
          this.#kind = -1;
        }
      }
    }
  }

  finish(size: number): void {
    if (size !== this.#size || this.#block !== this.#index.count) throw corruption('segment changed size while being read', this.#file, size);
  }
}

/** The header and every record's CRC-32 of a journal, checked as the bytes pass. */
class JournalChecker implements ContentChecker {
  readonly #file: string;
  readonly #allowTornTail: boolean;
  #torn = false;
  /** Header bytes, or the 8 bytes of a record header, gathered across chunks. */
  readonly #head = Buffer.alloc(JOURNAL_HEADER_BYTES);
  #headBytes = 0;
  #inHeader = true;
  /** Payload bytes of the current record still to come; -1 while reading a record header. */
  #remaining = -1;
  #stored = 0;
  #crc = 0;
  #recordAt = JOURNAL_HEADER_BYTES;
  #next = 0;

  constructor(file: string, allowTornTail: boolean) {
    this.#file = file;
    this.#allowTornTail = allowTornTail;
  }

  update(chunk: Uint8Array, position: number): void {
    if (position !== this.#next) throw new RangeError(`chunks must come in order (expected ${this.#next}, got ${position})`);
    this.#next = position + chunk.byteLength;
    let at = 0;
    while (at < chunk.byteLength && !this.#torn) {
      if (this.#inHeader || this.#remaining < 0) {
        const need = (this.#inHeader ? JOURNAL_HEADER_BYTES : RECORD_HEADER_BYTES) - this.#headBytes;
        const n = Math.min(need, chunk.byteLength - at);
        this.#head.set(chunk.subarray(at, at + n), this.#headBytes);
        this.#headBytes += n;
        at += n;
        if (n < need) continue;
        this.#headBytes = 0;
        if (this.#inHeader) {
          decodeHeader(this.#head, this.#file);
          this.#inHeader = false;
        } else {
          const length = this.#head.readUInt32LE(0);
          this.#stored = this.#head.readUInt32LE(4);
          if (length === 0) {
            this.#tornOrBad('zero-length record', position + at);
            return;
          }
          this.#remaining = length;
          this.#crc = 0;
        }
        continue;
      }
      const n = Math.min(this.#remaining, chunk.byteLength - at);
      this.#crc = crc32(chunk.subarray(at, at + n), this.#crc);
      this.#remaining -= n;
      at += n;
      if (this.#remaining === 0) {
        if (this.#crc !== this.#stored) {
          this.#tornOrBad('record checksum mismatch', this.#recordAt);
          return;
        }
        this.#recordAt = position + at;
        this.#remaining = -1;
      }
    }
  }

  /** A bad record ends the check: damage, or (in the newest journal of a closed keyspace) a torn tail recovery drops. */
  #tornOrBad(message: string, offset: number): void {
    if (!this.#allowTornTail) throw corruption(message, this.#file, offset);
    this.#torn = true;
  }

  finish(size: number): void {
    if (this.#torn || size === 0) {
      if (this.#allowTornTail) return;
      if (size === 0) throw corruption('empty journal', this.#file, 0);
    }
    if (this.#inHeader) {
      if (!this.#allowTornTail) throw corruption('truncated journal header', this.#file, 0);
      return;
    }
    if ((this.#remaining >= 0 || this.#headBytes > 0) && !this.#allowTornTail) throw corruption('truncated record', this.#file, this.#recordAt);
  }
}

/** One file checked in one read (worker side of checkFilesOnWorkers). */
export async function run({ file, kind }: { file: string; kind: FileCheck }, _context: JobContext): Promise<number> {
  return checkFile(defaultFileSystem(), file, kind);
}

const CHECK_JOB = jobKind<{ file: string; kind: FileCheck }, number>(import.meta.url);
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Reads the file once, checking it; resolves with its size. */
export async function checkFile(fs: FileSystem, file: string, kind: FileCheck): Promise<number> {
  const handle = await fs.open(file, 'r');
  try {
    const checker = await contentChecker(kind, handle, file);
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let size = 0;
    for (;;) {
      const n = handle.readSync(buf, 0, buf.length, size);
      if (n === 0) break;
      checker.update(buf.subarray(0, n), size);
      size += n;
    }
    checker.finish(size);
    return size;
  } finally {
    await handle.close();
  }
}

/** What `ks.check()` and `cairn check` report. */
export interface CheckResult {
  /** Segments and journals checked, and their bytes. */
  segments: number;
  journals: number;
  bytes: number;
}

/**
 * Every segment and journal of the keyspace directory `root`, each checked on a pool thread
 * (the injected `fs` instead, on this thread, when given). The newest journal may end in a
 * torn record when `newestMayBeTorn` (a closed keyspace's, which recovery would trim).
 * Rejects CAIRN_CORRUPTION naming the first damaged file.
 */
export async function checkKeyspaceFiles(fs: FileSystem, root: string, options: { newestMayBeTorn: boolean; injected: boolean; pool?: WorkerPool }): Promise<CheckResult> {
  const jobs: { file: string; kind: FileCheck }[] = [];
  const journals = (await fs.readdir(journalDir(root)).catch(() => [] as string[]))
    .filter((n) => parseJournalFileName(n) !== undefined)
    .sort((a, b) => parseJournalFileName(a)! - parseJournalFileName(b)!);
  journals.forEach((name, i) => jobs.push({ file: path.join(journalDir(root), name), kind: options.newestMayBeTorn && i === journals.length - 1 ? 'jnl-last' : 'jnl' }));
  let segments = 0;
  for (const partition of await fs.readdir(partitionsDir(root)).catch(() => [] as string[])) {
    const dir = segmentsDir(path.join(partitionsDir(root), partition));
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
      if (parseSegmentFileName(name) === undefined) continue;
      jobs.push({ file: path.join(dir, name), kind: 'sst' });
      segments++;
    }
  }
  const pool = options.pool ?? sharedWorkerPool();
  const sizes = await Promise.all(jobs.map((job) => (options.injected ? checkFile(fs, job.file, job.kind) : pool.run(CHECK_JOB, job))));
  return { segments, journals: journals.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}
