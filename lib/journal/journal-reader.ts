// Recovery: reads one journal file record by record, verifying every checksum. A torn
// tail of the LAST journal (a crash mid-append) is dropped and reported; any other damage
// rejects CAIRN_CORRUPTION. Main thread; one reading per call, not shareable.
import { crc32 } from '../codec/checksum.js';
import { CairnError, ErrorCodes } from '../errors.js';
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { JOURNAL_HEADER_BYTES, RECORD_HEADER_BYTES, decodeBatch, decodeHeader, type DecodedOp } from './record.js';

export interface ReadJournalOptions {
  /** The newest journal, the only one allowed a torn tail. */
  isLast: boolean;
  /** When given, the header's file number must equal it. */
  fileNumber?: number;
}

export interface JournalRecord {
  /** Seqno of ops[0]; op i has seqno + i. */
  seqno: number;
  /** Views into a buffer that is never reused: safe to keep. */
  ops: DecodedOp[];
  /** Commit time (ms since the epoch); undefined in a format-1 file. */
  timeMs: number | undefined;
  /** File offset of the record's length field. */
  offset: number;
  /** The record's payload (a view; the framed record is RECORD_HEADER_BYTES longer). */
  payload: Buffer;
}

export interface JournalEnd {
  /** Length of the valid prefix (header + whole records); truncate a torn file to this. */
  validBytes: number;
  /** Present when a torn tail was dropped: where it starts and how long it is. */
  tornTail?: { offset: number; bytes: number };
  /** From the header; undefined for an empty file (created, crash before the header). */
  fileNumber?: number;
  /** Seqno range of the records read; undefined when there were none. */
  firstSeqno?: number;
  lastSeqno?: number;
}

export interface JournalReading extends AsyncIterable<JournalRecord> {
  records: AsyncIterable<JournalRecord>;
  /** Settles once `records` has been iterated to the end; rejects with the same error as the iteration. */
  end: Promise<JournalEnd>;
}

/** Bytes read per refill; a record larger than this gets a buffer of its own size. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Reads `path`. Iterate `records` once; then `end` says where the valid data stops. Never
 * yields a record whose checksum failed and never skips a good one silently.
 */
export function readJournal(fs: FileSystem, path: string, options: ReadJournalOptions): JournalReading {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  if (typeof options?.isLast !== 'boolean') throw new TypeError('options.isLast must be a boolean');
  let settle!: (end: JournalEnd) => void;
  let fail!: (err: unknown) => void;
  const end = new Promise<JournalEnd>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  // A caller that stops at the iteration's error need not also await `end`.
  end.catch(() => undefined);
  const records = scan(fs, path, options, settle, fail);
  return { records, end, [Symbol.asyncIterator]: () => records[Symbol.asyncIterator]() };
}

async function* scan(
  fs: FileSystem,
  path: string,
  options: ReadJournalOptions,
  settle: (end: JournalEnd) => void,
  fail: (err: unknown) => void,
): AsyncGenerator<JournalRecord> {
  let finished = false;
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    const size = (await handle.stat()).size;
    const file = new WindowedFile(handle, size);
    const result: JournalEnd = { validBytes: 0 };

    if (size === 0) {
      finished = true;
      settle(result);
      return;
    }
    if (size < JOURNAL_HEADER_BYTES) {
      if (!options.isLast) throw corruption(path, 0, 'truncated header');
      result.tornTail = { offset: 0, bytes: size };
      finished = true;
      settle(result);
      return;
    }
    const header = decodeHeader(await file.view(0, JOURNAL_HEADER_BYTES), path);
    if (options.fileNumber !== undefined && header.fileNumber !== options.fileNumber) {
      throw corruption(path, 0, `header names file ${header.fileNumber}, expected ${options.fileNumber}`);
    }
    result.fileNumber = header.fileNumber;

    let pos = JOURNAL_HEADER_BYTES;
    while (pos < size) {
      const payload = await readRecordAt(file, pos);
      if (payload === undefined) {
        if (!options.isLast) throw corruption(path, pos, 'bad record in a sealed journal');
        if (await file.hasValidRecordAfter(pos, result.lastSeqno ?? -1, header.version)) {
          throw corruption(path, pos, 'bad record followed by valid records');
        }
        result.tornTail = { offset: pos, bytes: size - pos };
        break;
      }
      let batch;
      try {
        batch = decodeBatch(payload, header.version);
      } catch (err) {
        throw corruption(path, pos, 'record with a valid checksum does not decode', err);
      }
      result.firstSeqno ??= batch.seqno;
      result.lastSeqno = batch.seqno + batch.ops.length - 1;
      yield { seqno: batch.seqno, ops: batch.ops, timeMs: batch.timeMs, offset: pos, payload };
      pos += RECORD_HEADER_BYTES + payload.length;
    }
    result.validBytes = pos;
    finished = true;
    settle(result);
  } catch (err) {
    finished = true;
    fail(err);
    throw err;
  } finally {
    if (!finished) fail(new CairnError(ErrorCodes.CLOSED, `Reading of ${path} was stopped before its end`, { details: { path } }));
    await handle?.close();
  }
}

/** The payload of the record at `pos`, or undefined when no whole, checksummed record starts there. */
async function readRecordAt(file: WindowedFile, pos: number): Promise<Buffer | undefined> {
  const avail = file.size - pos;
  if (avail < RECORD_HEADER_BYTES) return undefined;
  const head = await file.view(pos, RECORD_HEADER_BYTES);
  const length = head.readUInt32LE(0);
  const crc = head.readUInt32LE(4);
  // Zero length is never written; rejecting it keeps a zero-filled tail from passing (crc32 of nothing is 0).
  if (length === 0 || length > avail - RECORD_HEADER_BYTES) return undefined;
  const record = await file.view(pos, RECORD_HEADER_BYTES + length);
  const payload = record.subarray(RECORD_HEADER_BYTES);
  return crc32(payload) === crc ? payload : undefined;
}

/** Positional reads through a window; every refill is a fresh buffer, so earlier views stay valid. */
class WindowedFile {
  #buf = Buffer.alloc(0);
  #start = 0;

  constructor(
    readonly handle: FileHandle,
    readonly size: number,
  ) {}

  /** A view of [pos, pos + length); the caller has checked it lies within the file. */
  async view(pos: number, length: number): Promise<Buffer> {
    if (pos < this.#start || pos + length > this.#start + this.#buf.length) {
      const want = Math.min(Math.max(length, CHUNK_BYTES), this.size - pos);
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const n = await this.handle.read(buf, got, want - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      if (got < length) {
        throw new CairnError(ErrorCodes.CORRUPTION, `Journal ${this.handle.path} shrank while being read`, {
          details: { path: this.handle.path, offset: pos + got },
        });
      }
      this.#buf = buf.subarray(0, got);
      this.#start = pos;
    }
    return this.#buf.subarray(pos - this.#start, pos - this.#start + length);
  }

  /**
   * Scans every byte offset after `pos` for a whole record with a matching checksum that
   * decodes and is newer than `afterSeqno` (a later real record always is; the seqno test
   * keeps a record-shaped value inside the torn record from counting).
   */
  async hasValidRecordAfter(pos: number, afterSeqno: number, version: number): Promise<boolean> {
    const rest = await this.view(pos, this.size - pos);
    for (let q = 1; q + RECORD_HEADER_BYTES < rest.length; q++) {
      const length = rest.readUInt32LE(q);
      if (length === 0 || length > rest.length - q - RECORD_HEADER_BYTES) continue;
      const payload = rest.subarray(q + RECORD_HEADER_BYTES, q + RECORD_HEADER_BYTES + length);
      if (crc32(payload) !== rest.readUInt32LE(q + 4)) continue;
      try {
        if (decodeBatch(payload, version).seqno > afterSeqno) return true;
      } catch {
        // A checksum match by chance over bytes that are not a record.
      }
    }
    return false;
  }
}

function corruption(path: string, offset: number, what: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Journal ${path} is corrupt at offset ${offset}: ${what}`, {
    cause,
    details: { path, offset },
  });
}
