// The per-segment bloom filter over user keys: MurmurHash3 (x86, 32-bit), cache-line
// blocked (every probe of a key lands in one 64-byte line: one memory miss per lookup).
// A builder belongs to one writer; a built filter is immutable.
import { corruption } from './format.js';

const HASH_SEED = 0xbc9f1d34;
const MAX_PROBES = 30;
/** Bytes per line: all of a key's probes fall in one line. */
const LINE_BYTES = 64;
/** The multiplier that derives each next in-line probe (2^32 / golden ratio). */
const PROBE_MULTIPLIER = 0x9e3779b9;

/** MurmurHash3_x86_32 of buf[start, end) with cairn's fixed seed, as an unsigned 32-bit integer. */
export function bloomHash(buf: Uint8Array, start = 0, end = buf.length): number {
  let h = HASH_SEED;
  const length = end - start;
  const wordsEnd = start + (length & ~3);
  let i = start;
  for (; i < wordsEnd; i += 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = buf[i];
    if (tail > 1) k |= buf[i + 1] << 8;
    if (tail > 2) k |= buf[i + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Probes per key for a budget of bits per key: ln 2 × bits/key minimises the false-positive rate. */
export function probesFor(bitsPerKey: number): number {
  return Math.min(MAX_PROBES, Math.max(1, Math.round(bitsPerKey * 0.69)));
}

/** Collects the hashes of distinct user keys, then lays out the filter block payload. */
export class BloomFilterBuilder {
  private hashes = new Uint32Array(1024);
  private count = 0;

  constructor(readonly bitsPerKey: number) {}

  /** Adds one user key (call once per distinct key; repeats only waste nothing but time). */
  add(key: Uint8Array): void {
    if (this.count === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.count++] = bloomHash(key);
  }

  get keyCount(): number {
    return this.count;
  }

  /** The filter block payload: whole 64-byte lines of bits, then one byte with the probe count (0: no filter). */
  finish(): Buffer {
    if (this.bitsPerKey <= 0) return Buffer.alloc(1);
    const probes = probesFor(this.bitsPerKey);
    const lines = Math.max(1, Math.ceil((this.count * this.bitsPerKey) / (LINE_BYTES * 8)));
    const payload = Buffer.alloc(lines * LINE_BYTES + 1);
    for (let i = 0; i < this.count; i++) {
      const h = this.hashes[i];
      const base = (h % lines) * LINE_BYTES;
      let probe = Math.imul(h, PROBE_MULTIPLIER);
      for (let j = 0; j < probes; j++) {
        const bit = probe >>> 23;
        payload[base + (bit >>> 3)] |= 1 << (bit & 7);
        probe = Math.imul(probe, PROBE_MULTIPLIER);
      }
    }
    payload[lines * LINE_BYTES] = probes;
    return payload;
  }
}

/** A decoded filter block. `mayContain` false means the key is certainly absent. */
export class BloomFilter {
  private readonly bits: Buffer;
  private readonly lines: number;
  private readonly probes: number;

  constructor(payload: Buffer, path = '', offset = 0) {
    if (payload.length < 1 || (payload.length - 1) % LINE_BYTES !== 0) throw corruption('filter block size is not whole lines', path, offset);
    this.probes = payload[payload.length - 1];
    this.bits = payload.subarray(0, payload.length - 1);
    this.lines = this.bits.length / LINE_BYTES;
    if (this.probes > MAX_PROBES) throw corruption(`filter probe count ${this.probes} out of range`, path, offset);
  }

  mayContain(key: Uint8Array): boolean {
    return this.mayContainHash(bloomHash(key));
  }

  mayContainHash(hash: number): boolean {
    if (this.probes === 0 || this.lines === 0) return true;
    const bits = this.bits;
    const base = (hash % this.lines) * LINE_BYTES;
    let probe = Math.imul(hash, PROBE_MULTIPLIER);
    for (let j = 0; j < this.probes; j++) {
      const bit = probe >>> 23;
      if ((bits[base + (bit >>> 3)] & (1 << (bit & 7))) === 0) return false;
      probe = Math.imul(probe, PROBE_MULTIPLIER);
    }
    return true;
  }
}
