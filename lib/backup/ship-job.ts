// Building one shipped journal object from the keyspace's journal files: read a byte range
// of whole records, check each record's CRC, hash the chain over them and lay out the
// object (lib/backup/shipped-object.ts). This is the CPU of shipping, so it runs as a
// worker-pool job (buildOnWorker), keeping it off the thread that serves writes; with an
// injected file system (which a thread cannot share) the same code runs in-process.
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { defaultFileSystem } from '../fs/index.js';
import { crc32 } from '../codec/checksum.js';
import { CairnError, ErrorCodes } from '../errors.js';
import { JOURNAL_HEADER_BYTES, RECORD_HEADER_BYTES, decodeHeader, recordSeqnoRange } from '../journal/record.js';
import { type JobContext, type WorkerPool, jobKind, sharedWorkerPool } from '../workers/worker-pool.js';
import { type ShippedCodec, encodeShipped } from './shipped-codec.js';
import { encodeShippedObject } from './shipped-object.js';
import { shippedObjectKey } from './store-layout.js';

/** A byte range of one journal file, of whole records. */
export interface JournalRange {
  fileNumber: number;
  path: string;
  offset: number;
  /** Exclusive end: the durable length of the file. */
  end: number;
}

export interface ShipJobPayload {
  /** Consecutive ranges, oldest first; the first starts at the shipper's cursor. */
  ranges: JournalRange[];
  /** Records whose last seqno is at or below this are skipped (already shipped). */
  afterSeqno: number;
  keyspaceId: string;
  epoch: number;
  /** Hex of the chain value before the first record. */
  preChain: string;
  /** Stop before a record that would make the object larger (an object holds at least one record). */
  maxObjectBytes: number;
  /** How the object is stored (compression, encryption). */
  codec: ShippedCodec;
}

export interface ShipJobResult {
  /** The object's key. */
  key: string;
  /** The object as stored (encoded); undefined when the ranges held no new record. */
  object: Uint8Array | undefined;
  /** Plaintext length. */
  plainBytes: number;
  firstSeqno: number;
  lastSeqno: number;
  firstTimeMs: number;
  lastTimeMs: number;
  records: number;
  /** Hex of the chain value after the last record. */
  postChain: string;
  /** Where the next object starts: the file and offset just after the last record read. */
  end: { fileNumber: number; offset: number };
}

const SHIP = jobKind<ShipJobPayload, ShipJobResult>(import.meta.url);

/** Worker side. */
export function run(payload: ShipJobPayload, _context: JobContext): Promise<ShipJobResult> {
  return buildShippedObject(defaultFileSystem(), payload);
}

/** Builds the object through `fs` (in-process). */
export async function buildShippedObject(fs: FileSystem, payload: ShipJobPayload): Promise<ShipJobResult> {
  const records: Buffer[] = [];
  let bytes = 0;
  let end = { fileNumber: payload.ranges[0]?.fileNumber ?? 0, offset: payload.ranges[0]?.offset ?? 0 };
  let afterSeqno = payload.afterSeqno;
  outer: for (const range of payload.ranges) {
    end = { fileNumber: range.fileNumber, offset: range.offset };
    if (range.offset >= range.end) continue;
    const handle = await fs.open(range.path, 'r');
    try {
      const header = await readExactly(handle, 0, JOURNAL_HEADER_BYTES, range.path);
      const { version } = decodeHeader(header, range.path);
      if (version < 2) {
        throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Journal ${range.path} is format ${version}: only format-2 journals (with commit times) are shipped`, {
          details: { path: range.path, version },
        });
      }
      let pos = Math.max(range.offset, JOURNAL_HEADER_BYTES);
      end = { fileNumber: range.fileNumber, offset: pos };
      // Read in windows of about the object budget; a record larger than a window gets one of its own.
      while (pos < range.end) {
        const want = Math.min(range.end - pos, Math.max(payload.maxObjectBytes - bytes, RECORD_HEADER_BYTES) + RECORD_HEADER_BYTES);
        const window = await readExactly(handle, pos, want, range.path);
        let o = 0;
        let progressed = false;
        while (o + RECORD_HEADER_BYTES <= window.length) {
          const length = window.readUInt32LE(o);
          const framedLength = RECORD_HEADER_BYTES + length;
          if (length === 0 || pos + o + framedLength > range.end) throw notWhole(range, pos + o);
          if (records.length > 0 && bytes + framedLength > payload.maxObjectBytes) break outer;
          let framed: Buffer;
          if (o + framedLength <= window.length) framed = window.subarray(o, o + framedLength);
          else if (o === 0) framed = await readExactly(handle, pos, framedLength, range.path);
          else break;
          if (crc32(framed.subarray(RECORD_HEADER_BYTES)) !== framed.readUInt32LE(4)) throw notWhole(range, pos + o);
          const { last } = recordSeqnoRange(framed);
          if (last > afterSeqno) {
            records.push(framed);
            bytes += framedLength;
            afterSeqno = last;
          }
          o += framedLength;
          progressed = true;
          end = { fileNumber: range.fileNumber, offset: pos + o };
          if (bytes >= payload.maxObjectBytes) break outer;
        }
        if (!progressed) throw notWhole(range, pos);
        pos += o;
      }
    } finally {
      await handle.close();
    }
  }
  if (records.length === 0) {
    return { key: '', object: undefined, plainBytes: 0, firstSeqno: 0, lastSeqno: payload.afterSeqno, firstTimeMs: 0, lastTimeMs: 0, records: 0, postChain: payload.preChain, end };
  }
  const { bytes: plaintext, info } = encodeShippedObject({ level: 0, keyspaceId: payload.keyspaceId, epoch: payload.epoch, preChain: Buffer.from(payload.preChain, 'hex'), records });
  const key = shippedObjectKey(info.firstSeqno, info.lastSeqno, payload.epoch);
  return {
    key,
    object: encodeShipped(plaintext, key, payload.codec),
    plainBytes: plaintext.length,
    firstSeqno: info.firstSeqno,
    lastSeqno: info.lastSeqno,
    firstTimeMs: info.firstTimeMs,
    lastTimeMs: info.lastTimeMs,
    records: info.records,
    postChain: info.postChain.toString('hex'),
    end,
  };
}

async function readExactly(handle: FileHandle, pos: number, length: number, path: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await handle.read(buf, got, length - got, pos + got);
    if (n === 0) throw new CairnError(ErrorCodes.CORRUPTION, `Journal ${path} ends before offset ${pos + length}`, { details: { path, offset: pos + got } });
    got += n;
  }
  return buf;
}

function notWhole(range: JournalRange, offset: number): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Journal ${range.path} holds no whole record at offset ${offset} (below its durable end ${range.end})`, {
    details: { path: range.path, offset },
  });
}

/** Builds the object on a pool thread. */
export async function buildOnWorker(payload: ShipJobPayload, pool: WorkerPool = sharedWorkerPool()): Promise<ShipJobResult> {
  const result = await pool.run(SHIP, payload);
  const object = result.object;
  // Structured clone hands back a plain Uint8Array: view it as a Buffer without a copy.
  return { ...result, object: object === undefined ? undefined : Buffer.from(object.buffer, object.byteOffset, object.byteLength) };
}
