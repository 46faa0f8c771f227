// The format-2 object codec: round trips for every compression, with and without keys, fed
// in odd pieces; incompressible frames stored raw; every kind of damage (a flipped byte, a
// truncation, trailing bytes, another context, another key, a missing key) refused with
// its code; HMAC names; and the key envelope (wrap, unwrap, wrong key is CAIRN_BAD_KEY).
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import {
  FRAME_BYTES,
  ObjectDecoder,
  ObjectEncoder,
  ZSTD_AVAILABLE,
  decodeObject,
  defaultCompression,
  effectiveCompression,
  encodeObject,
  objectName,
  type Compression,
} from '../../lib/backup/object-codec.js';
import { newStoreKeys, parseUserKey, unwrapStoreKeys, wrapStoreKeys } from '../../lib/backup/store-keys.js';
import { ErrorCodes } from '../../lib/errors.js';

/** Half compressible: each 1 KiB is 512 random bytes then 512 repeated ones. */
function halfCompressible(size: number): Buffer {
  const out = Buffer.alloc(size, 0x61);
  for (let at = 0; at < size; at += 1024) randomBytes(Math.min(512, size - at)).copy(out, at);
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

t.test('zstd is what node:zlib offers here; on Node 20 it falls back to gzip', async (t) => {
  const major = Number(process.versions.node.split('.')[0]);
  t.equal(ZSTD_AVAILABLE, major >= 23 || (major === 22 && Number(process.versions.node.split('.')[1]) >= 15));
  t.equal(defaultCompression(), ZSTD_AVAILABLE ? 'zstd' : 'gzip');
  t.equal(effectiveCompression('zstd'), ZSTD_AVAILABLE ? 'zstd' : 'gzip');
  t.equal(new ObjectEncoder({ compression: 'zstd' }).compression, ZSTD_AVAILABLE ? 'zstd' : 'gzip');
});

t.test('round trips: every compression, plain and encrypted, fed in odd pieces', async (t) => {
  const plain = halfCompressible(FRAME_BYTES * 2 + 12_345);
  const keys = newStoreKeys();
  for (const compression of ['zstd', 'gzip', 'none'] as Compression[]) {
    for (const withKeys of [false, true]) {
      const encoder = new ObjectEncoder({ compression, keys: withKeys ? keys : undefined });
      const stored: Buffer[] = [];
      for (let at = 0; at < plain.length; at += 777_777) for (const b of encoder.update(plain.subarray(at, at + 777_777))) stored.push(Buffer.from(b));
      const { out, summary } = encoder.final();
      stored.push(...out);
      const bytes = Buffer.concat(stored);
      t.equal(summary.sha256, sha(plain), 'the summary names the plaintext hash');
      t.equal(summary.size, plain.length);
      t.equal(summary.storedSize, bytes.length);
      t.equal(summary.frames, 3, 'two whole frames and a final one');
      if (compression !== 'none') t.ok(bytes.length < plain.length * 0.6, `${compression}: ${bytes.length} of ${plain.length} bytes stored`);
      else t.equal(summary.rawFrames, 3);

      const decoder = new ObjectDecoder({ keys: withKeys ? keys : undefined, sha256: summary.sha256 });
      const back: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += 65_537) for (const b of decoder.update(bytes.subarray(at, at + 65_537))) back.push(Buffer.from(b));
      const decoded = decoder.final();
      t.ok(Buffer.concat(back).equals(plain), `${compression}${withKeys ? ' encrypted' : ''}: the same bytes come back`);
      t.equal(decoded.sha256, summary.sha256);
      if (withKeys) t.equal(bytes.indexOf(plain.subarray(600, 1000)), -1, 'no plaintext run appears in the ciphertext');
    }
  }
  const empty = encodeObject(Buffer.alloc(0), { compression: 'gzip', keys });
  t.equal(decodeObject(empty.bytes, { keys }).bytes.length, 0, 'an empty object round-trips');
});

t.test('incompressible frames are stored raw, compressible ones compressed, per frame', async (t) => {
  const plain = Buffer.concat([randomBytes(FRAME_BYTES), Buffer.alloc(FRAME_BYTES, 0x62)]);
  const { bytes, summary } = encodeObject(plain, { compression: 'gzip' });
  t.equal(summary.rawFrames, 2, 'the random frame and the empty final frame are raw');
  t.equal(summary.frames, 3);
  t.ok(bytes.length < plain.length * 0.55);
  t.ok(decodeObject(bytes).bytes.equals(plain));
});

t.test('damage is CAIRN_CORRUPTION; a missing or unexpected key is CAIRN_BAD_KEY', async (t) => {
  const plain = halfCompressible(300_000);
  const keys = newStoreKeys();
  for (const withKeys of [false, true]) {
    const k = withKeys ? keys : undefined;
    const { bytes, summary } = encodeObject(plain, { compression: 'gzip', keys: k, context: 'backups/x.json' });
    const ctx = { keys: k, context: 'backups/x.json', sha256: summary.sha256 };
    const flipped = Buffer.from(bytes);
    flipped[bytes.length >> 1] ^= 1;
    t.throws(() => decodeObject(flipped, ctx), { code: ErrorCodes.CORRUPTION }, 'a flipped byte');
    t.throws(() => decodeObject(bytes.subarray(0, bytes.length - 10), ctx), { code: ErrorCodes.CORRUPTION }, 'a truncation');
    t.throws(() => decodeObject(Buffer.concat([bytes, Buffer.from('x')]), ctx), { code: ErrorCodes.CORRUPTION }, 'trailing bytes');
    t.throws(() => decodeObject(bytes, { ...ctx, sha256: '0'.repeat(64) }), { code: ErrorCodes.CORRUPTION }, 'another expected hash');
    t.throws(() => decodeObject(Buffer.from('plain file bytes'), ctx), { code: ErrorCodes.CORRUPTION }, 'not an object');
    if (withKeys) {
      t.throws(() => decodeObject(bytes, { ...ctx, context: 'backups/y.json' }), { code: ErrorCodes.CORRUPTION }, 'under another name');
      t.throws(() => decodeObject(bytes, { ...ctx, keys: newStoreKeys() }), { code: ErrorCodes.CORRUPTION }, 'another key');
      t.throws(() => decodeObject(bytes, { sha256: summary.sha256 }), { code: ErrorCodes.BAD_KEY }, 'no key');
    } else {
      t.throws(() => decodeObject(bytes, { ...ctx, keys }), { code: ErrorCodes.BAD_KEY }, 'a key for a plain object');
    }
  }
});

t.test('object names: the hash, or an HMAC of it that still deduplicates', async (t) => {
  const keys = newStoreKeys();
  const hash = sha(Buffer.from('content'));
  t.equal(objectName(hash, undefined), hash);
  const named = objectName(hash, keys);
  t.match(named, /^[0-9a-f]{64}$/);
  t.not(named, hash);
  t.equal(objectName(hash, keys), named, 'same content, same name');
  t.not(objectName(hash, newStoreKeys()), named, 'another store, another name');
});

t.test('the key envelope: wrap, unwrap, a wrong key or another store is CAIRN_BAD_KEY', async (t) => {
  const user = randomBytes(32);
  const keys = newStoreKeys();
  const wrapped = wrapStoreKeys(keys, user, 'store-1');
  const back = unwrapStoreKeys(wrapped, user, 'store-1', 'file:///s');
  t.ok(back.dataKey.equals(keys.dataKey) && back.nameKey.equals(keys.nameKey));
  t.throws(() => unwrapStoreKeys(wrapped, randomBytes(32), 'store-1', 'file:///s'), { code: ErrorCodes.BAD_KEY });
  t.throws(() => unwrapStoreKeys(wrapped, user, 'store-2', 'file:///s'), { code: ErrorCodes.BAD_KEY });
  t.ok(parseUserKey(user.toString('hex')).equals(user));
  t.ok(parseUserKey(user.toString('base64')).equals(user));
  t.throws(() => parseUserKey('short'), TypeError);
  t.throws(() => parseUserKey(randomBytes(16)), TypeError);
});
