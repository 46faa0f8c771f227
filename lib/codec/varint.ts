// Unsigned LEB128 varints up to 2^53 - 1 (JavaScript's exact integer range), as used
// by the journal and segment formats. Pure functions over Buffers.
import { CairnError, ErrorCodes } from '../errors.js';

/** Bytes `value` takes as a varint. */
export function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Writes `value` at `offset` and returns the offset after it. */
export function writeVarint(buf: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[offset++] = value;
  return offset;
}

/**
 * A cursor that decodes varints and byte runs from a buffer. Every read checks bounds
 * and throws CAIRN_CORRUPTION rather than returning garbage.
 */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public offset = 0,
    readonly end = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.offset;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.offset >= this.end) throw corrupt('varint runs past the end');
      const byte = this.buf[this.offset++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw corrupt('varint out of range');
        return result;
      }
      scale *= 128;
    }
    throw corrupt('varint too long');
  }

  byte(): number {
    if (this.offset >= this.end) throw corrupt('byte runs past the end');
    return this.buf[this.offset++];
  }

  /** A view (not a copy) of the next `length` bytes. */
  bytes(length: number): Buffer {
    if (length > this.end - this.offset) throw corrupt('byte run past the end');
    const out = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
}

function corrupt(what: string): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Malformed record: ${what}`);
}
