// The bloom filter: no false negatives, a measured false-positive rate near 1% at 10
// bits per key, a stable hash (it is part of the on-disk format).
import t from 'tap';
import { BloomFilter, BloomFilterBuilder, bloomHash, probesFor } from '../../lib/segment/bloom.js';

function key(i: number, prefix = 'user:'): Buffer {
  return Buffer.from(`${prefix}${i}`);
}

t.test('the hash is MurmurHash3_x86_32 with the documented seed', async (t) => {
  // Reference values computed independently from the published algorithm.
  t.equal(bloomHash(Buffer.alloc(0)), murmurReference(Buffer.alloc(0), 0xbc9f1d34));
  for (const s of ['a', 'ab', 'abc', 'abcd', 'abcde', 'hello, world', '\u0000\u00ff']) {
    const b = Buffer.from(s, 'latin1');
    t.equal(bloomHash(b), murmurReference(b, 0xbc9f1d34), JSON.stringify(s));
  }
  const b = Buffer.from('xxabcyy');
  t.equal(bloomHash(b, 2, 5), bloomHash(Buffer.from('abc')), 'hashes a range in place');
  // Pinned: the filter format depends on these exact values.
  t.equal(murmurReference(Buffer.from('hello'), 0), 0x248bfa47, 'reference matches the published test vector');
});

t.test('no false negatives, and about 1% false positives at 10 bits per key', async (t) => {
  const n = 20_000;
  const builder = new BloomFilterBuilder(10);
  for (let i = 0; i < n; i++) builder.add(key(i));
  const filter = new BloomFilter(builder.finish());
  let missing = 0;
  for (let i = 0; i < n; i++) if (!filter.mayContain(key(i))) missing++;
  t.equal(missing, 0, 'every added key is reported as possibly present');
  let falsePositives = 0;
  const probes = 100_000;
  for (let i = 0; i < probes; i++) if (filter.mayContain(key(i, 'other:'))) falsePositives++;
  const rate = falsePositives / probes;
  t.comment(`false-positive rate at 10 bits/key: ${(rate * 100).toFixed(2)}%`);
  t.ok(rate < 0.03, `rate ${rate} below 3%`);
  t.ok(rate > 0.001, 'and not suspiciously low (the filter is really probabilistic)');
});

t.test('more bits per key, fewer false positives; 0 bits means no filter', async (t) => {
  const rateAt = (bits: number): number => {
    const builder = new BloomFilterBuilder(bits);
    for (let i = 0; i < 5000; i++) builder.add(key(i));
    const filter = new BloomFilter(builder.finish());
    let fp = 0;
    for (let i = 0; i < 50_000; i++) if (filter.mayContain(key(i, 'x'))) fp++;
    return fp / 50_000;
  };
  t.ok(rateAt(16) < rateAt(6), 'rate falls as bits grow');
  const none = new BloomFilter(new BloomFilterBuilder(0).finish());
  t.ok(none.mayContain(Buffer.from('anything')));
  t.equal(probesFor(10), 7);
  t.equal(probesFor(1), 1);
  t.equal(probesFor(100), 30);
});

t.test('a damaged filter block is rejected', async (t) => {
  t.throws(() => new BloomFilter(Buffer.alloc(0), 'f.sst', 10), { code: 'CAIRN_CORRUPTION' });
  t.throws(() => new BloomFilter(Buffer.from([0, 0, 7]), 'f.sst', 10), { code: 'CAIRN_CORRUPTION' }, 'not whole lines');
  t.throws(() => new BloomFilter(Buffer.concat([Buffer.alloc(64), Buffer.from([31])]), 'f.sst', 10), { code: 'CAIRN_CORRUPTION' }, 'too many probes');
});

/** A deliberately plain transcription of MurmurHash3_x86_32, independent of lib/. */
function murmurReference(data: Buffer, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = BigInt(seed);
  const mask = 0xffffffffn;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (32n - r))) & mask;
  const mul = (a: bigint, b: number) => (a * BigInt(b)) & mask;
  const blocks = Math.floor(data.length / 4);
  for (let i = 0; i < blocks; i++) {
    let k = BigInt(data.readUInt32LE(i * 4));
    k = mul(rotl(mul(k, c1), 15n), c2);
    h = rotl(h ^ k, 13n);
    h = (h * 5n + 0xe6546b64n) & mask;
  }
  let k = 0n;
  const tail = data.length & 3;
  const at = blocks * 4;
  if (tail >= 3) k ^= BigInt(data[at + 2]) << 16n;
  if (tail >= 2) k ^= BigInt(data[at + 1]) << 8n;
  if (tail >= 1) {
    k ^= BigInt(data[at]);
    h ^= mul(rotl(mul(k, c1), 15n), c2);
  }
  h ^= BigInt(data.length);
  h ^= h >> 16n;
  h = mul(h, 0x85ebca6b);
  h ^= h >> 13n;
  h = mul(h, 0xc2b2ae35);
  h ^= h >> 16n;
  return Number(h);
}
