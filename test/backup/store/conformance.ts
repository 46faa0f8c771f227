// The BackupStore conformance suite, parameterised by a factory: every implementation
// (file://, s3://) runs the same cases. The factory gives each subtest a fresh, empty
// store (and closes it in teardown), so subtests are independent.
import type { Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { BackupStore, StoreObjectInfo } from '../../../lib/backup/store.js';

/** Makes a fresh, empty store for one subtest. An S3 factory must use a partSize of 5 MiB. */
export type StoreFactory = (t: Test) => Promise<BackupStore>;

const MiB = 1024 * 1024;

/** Every object under `prefix`, page by page; also checks each page's size against `limit`. */
export async function listAll(t: Test, store: BackupStore, prefix: string, limit?: number): Promise<{ objects: StoreObjectInfo[]; pages: number }> {
  const objects: StoreObjectInfo[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.list(prefix, { ...(cursor === undefined ? {} : { cursor }), ...(limit === undefined ? {} : { limit }) });
    pages++;
    if (limit !== undefined && page.objects.length > limit) t.fail(`page of ${page.objects.length} objects exceeds limit ${limit}`);
    objects.push(...page.objects);
    cursor = page.next;
  } while (cursor !== undefined);
  return { objects, pages };
}

export async function readAll(store: BackupStore, key: string): Promise<Buffer> {
  return buffer(await store.get(key));
}

/** A stream of `data` cut into uneven chunks (the store must not assume chunk sizes). */
export function chunked(data: Buffer, sizes: readonly number[] = [1, 1000, 65536, 7]): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length] as number;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return Readable.from(chunks, { objectMode: false });
}

/**
 * A stream that hands out `first` and then stalls forever; `stalled` resolves when the
 * consumer has taken `first` and asks for more, i.e. the put is mid-body.
 */
export function stallingStream(first: Buffer): { stream: Readable; stalled: Promise<void> } {
  let reads = 0;
  let onStall: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => {
    onStall = resolve;
  });
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      reads++;
      if (reads === 1) this.push(first);
      else onStall();
    },
  });
  return { stream, stalled };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const byKey = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export interface ConformanceOptions {
  /**
   * The store lists a key 'a/…' before its siblings 'a-…' and 'a.…' (a walk of directories,
   * as s3rver does) instead of in byte order ('-' and '.' sort below '/'). The listing test
   * then checks the same keys, the same order on every paging, and byte order among the keys
   * not affected.
   */
  listsInDirectoryOrder?: boolean;
  /**
   * The server writes an object in place as it arrives (s3rver streams each PUT straight
   * into the object's file), so concurrent PUTs of one key can interleave into a torn
   * object. Real S3, and our FileStore (temp file + rename), never do. For such a server
   * the overwrite test runs its PUTs one after another and checks the last one wins.
   */
  overwritesInPlace?: boolean;
}

/** Keys of the listing test that sort before a sibling directory of a shared name. */
const DIRECTORY_ORDER_KEYS = new Set(['a-c', 'a.json', 'a/a-1', 'backups.json']);

/** Runs the whole suite as subtests of `t` against stores made by `factory`. */
export function runStoreConformance(t: Test, name: string, factory: StoreFactory, options: ConformanceOptions = {}): void {
  const sameOrder = (t: Test, listed: string[], expected: string[], message: string): void => {
    if (options.listsInDirectoryOrder !== true) {
      t.same(listed, expected, message);
      return;
    }
    t.same([...listed].sort(byKey), expected, `${message}: the same keys`);
    const unaffected = (keys: string[]): string[] => keys.filter((k) => !DIRECTORY_ORDER_KEYS.has(k));
    t.same(unaffected(listed), unaffected(expected), `${message}: byte order among keys without a sibling directory`);
  };

  t.test(`${name}: put/get round trip of bytes, head reports size and time`, async (t) => {
    const store = await factory(t);
    const data = randomBytes(100_000);
    const before = Date.now();
    await store.put('a/b/c.bin', data);
    t.same(await readAll(store, 'a/b/c.bin'), data);
    const info = await store.head('a/b/c.bin');
    t.equal(info?.key, 'a/b/c.bin');
    t.equal(info?.size, data.length);
    // Coarse clocks (S3 reports whole seconds) and clock skew: within a minute is "now".
    t.ok(info !== undefined && Math.abs(info.mtimeMs - before) < 60_000, 'mtime is about now');
    t.type(store.url, 'string');
  });

  t.test(`${name}: put of a stream body in uneven chunks`, async (t) => {
    const store = await factory(t);
    const data = randomBytes(300_000);
    await store.put('files/streamed.sst', { stream: chunked(data), size: data.length });
    t.same(await readAll(store, 'files/streamed.sst'), data);
    t.equal((await store.head('files/streamed.sst'))?.size, data.length);
  });

  t.test(`${name}: empty objects, as bytes and as a stream`, async (t) => {
    const store = await factory(t);
    await store.put('empty-bytes', new Uint8Array(0));
    await store.put('empty-stream', { stream: Readable.from([]), size: 0 });
    for (const key of ['empty-bytes', 'empty-stream']) {
      t.equal((await readAll(store, key)).length, 0, `${key} reads back empty`);
      t.equal((await store.head(key))?.size, 0, `${key} has size 0`);
    }
    t.same(
      (await store.list('')).objects.map((o) => o.key),
      ['empty-bytes', 'empty-stream'],
    );
  });

  t.test(`${name}: 20 MiB objects (multipart on S3 with 5 MiB parts) as a stream and as bytes`, async (t) => {
    const store = await factory(t);
    const data = randomBytes(20 * MiB + 12345);
    await store.put('files/big-stream', { stream: chunked(data, [MiB, 3 * MiB + 17, 65536]), size: data.length });
    const back = await readAll(store, 'files/big-stream');
    t.equal(back.length, data.length);
    t.equal(sha256(back), sha256(data), 'streamed content intact');
    await store.put('files/big-bytes', data);
    t.equal(sha256(await readAll(store, 'files/big-bytes')), sha256(data), 'byte content intact');
    t.equal((await store.head('files/big-bytes'))?.size, data.length);
  });

  t.test(`${name}: put over an existing object replaces it`, async (t) => {
    const store = await factory(t);
    await store.put('backups/1.json', Buffer.from('first version, longer'));
    await store.put('backups/1.json', Buffer.from('second'));
    t.equal((await readAll(store, 'backups/1.json')).toString(), 'second');
    t.equal((await store.head('backups/1.json'))?.size, 6);
    t.same(
      (await store.list('')).objects.map((o) => o.key),
      ['backups/1.json'],
    );
  });

  t.test(`${name}: ifNoneMatch creates a new object, rejects EEXIST on an existing one and keeps it`, async (t) => {
    const store = await factory(t);
    await store.put('store.json', Buffer.from('original'), { ifNoneMatch: true });
    t.equal((await readAll(store, 'store.json')).toString(), 'original');
    await t.rejects(store.put('store.json', Buffer.from('intruder'), { ifNoneMatch: true }), { code: 'EEXIST' });
    const body = Buffer.from('streamed intruder');
    await t.rejects(store.put('store.json', { stream: Readable.from([body]), size: body.length }, { ifNoneMatch: true }), { code: 'EEXIST' });
    t.equal((await readAll(store, 'store.json')).toString(), 'original', 'the original is intact');
    t.same(
      (await store.list('')).objects.map((o) => o.key),
      ['store.json'],
      'nothing else appeared',
    );
  });

  t.test(`${name}: 8 concurrent ifNoneMatch puts on an existing key all reject EEXIST`, async (t) => {
    const store = await factory(t);
    await store.put('manifest.json', Buffer.from('first'), { ifNoneMatch: true });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.put('manifest.json', Buffer.from(`writer ${i}`), { ifNoneMatch: true })),
    );
    t.ok(
      results.every((r) => r.status === 'rejected' && (r.reason as { code?: unknown }).code === 'EEXIST'),
      'every later creator rejects EEXIST',
    );
    t.equal((await readAll(store, 'manifest.json')).toString(), 'first');
  });

  t.test(`${name}: get, head and delete of a missing key`, async (t) => {
    const store = await factory(t);
    await t.rejects(store.get('missing/key'), { code: 'CAIRN_NOT_FOUND', details: { key: 'missing/key' } });
    t.equal(await store.head('missing/key'), undefined);
    await store.delete('missing/key');
    await store.put('present', Buffer.from('x'));
    await store.delete('present');
    t.equal(await store.head('present'), undefined, 'deleted object is gone');
    await t.rejects(store.get('present'), { code: 'CAIRN_NOT_FOUND' });
    await store.delete('present');
    t.same((await store.list('')).objects, []);
  });

  t.test(`${name}: list is sorted by key bytes, filters by prefix, pages with a cursor`, async (t) => {
    const store = await factory(t);
    // 'a' as a path segment next to 'a-c' and 'a.json': '-' and '.' sort below '/'.
    const keys = ['a-c', 'a/b', 'a.json', 'a/a/x', 'a/a-1', 'b', 'backups/1.json', 'backups.json', 'files/aa.sst', 'files/ab.sst', 'files/b.sst', 'A', '0', '_x', 'z/z/z/z'];
    await Promise.all(keys.map((key) => store.put(key, Buffer.from(key))));
    const sorted = [...keys].sort(byKey);
    const all = await store.list('');
    const order = all.objects.map((o) => o.key);
    sameOrder(t, order, sorted, 'whole listing in byte order');
    t.equal(all.next, undefined);
    t.ok(
      all.objects.every((o) => o.size === o.key.length),
      'sizes listed',
    );
    const cases: [string, string[]][] = [
      ['files/', ['files/aa.sst', 'files/ab.sst', 'files/b.sst']],
      ['files/a', ['files/aa.sst', 'files/ab.sst']],
      ['a', sorted.filter((k) => k.startsWith('a'))],
      ['a/', ['a/a-1', 'a/a/x', 'a/b']],
      ['a/a', ['a/a-1', 'a/a/x']],
      ['backups', ['backups.json', 'backups/1.json']],
      ['z/z/', ['z/z/z/z']],
      ['nothing/', []],
      ['files/c', []],
    ];
    for (const [prefix, expected] of cases) {
      const page = await store.list(prefix);
      sameOrder(
        t,
        page.objects.map((o) => o.key),
        expected,
        `prefix '${prefix}'`,
      );
      t.equal(page.next, undefined);
    }
    // A cursor means "after this key", so paging a listing that is not in byte order skips
    // keys: with directory order, page only where that order is byte order.
    let paged = order;
    if (options.listsInDirectoryOrder === true) {
      await Promise.all([...DIRECTORY_ORDER_KEYS].map((key) => store.delete(key)));
      paged = sorted.filter((k) => !DIRECTORY_ORDER_KEYS.has(k));
    }
    for (const limit of [1, 2, 4]) {
      const { objects, pages } = await listAll(t, store, '', limit);
      t.same(
        objects.map((o) => o.key),
        paged,
        `paging with limit ${limit} yields the same listing`,
      );
      t.equal(pages, Math.ceil(paged.length / limit), `limit ${limit}: no empty trailing page`);
    }
    const { objects } = await listAll(t, store, 'a', 2);
    t.same(
      objects.map((o) => o.key),
      paged.filter((k) => k.startsWith('a')),
      'paging within a prefix',
    );
  });

  t.test(`${name}: 2,500 keys list as 3 pages of at most 1000, no duplicates`, async (t) => {
    const store = await factory(t);
    const keys = Array.from({ length: 2500 }, (_, i) => `files/${String((i * 7919) % 2500).padStart(4, '0')}.sst`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, Buffer.from(key.slice(6, 10)))));
    }
    const { objects, pages } = await listAll(t, store, 'files/', 1000);
    t.equal(pages, 3);
    const listed = objects.map((o) => o.key);
    t.equal(new Set(listed).size, 2500, 'no duplicates');
    t.same(listed, [...keys].sort(byKey), 'every key, in order');
    const first = await store.list('files/', { limit: 1000 });
    t.equal(first.objects.length, 1000);
    t.type(first.next, 'string');
    t.equal((await store.list('files/')).objects.length, 1000, 'default limit is 1000');
  });

  t.test(`${name}: 50 concurrent puts of different keys, then 10 concurrent overwrites of one key`, async (t) => {
    const store = await factory(t);
    const keys = Array.from({ length: 50 }, (_, i) => `c/${i % 5}/obj-${i}`);
    await Promise.all(keys.map((key, i) => store.put(key, i % 2 === 0 ? Buffer.from(key) : { stream: chunked(Buffer.from(key), [3]), size: key.length })));
    const { objects } = await listAll(t, store, 'c/');
    t.equal(objects.length, 50);
    const contents = await Promise.all(keys.map(async (key) => (await readAll(store, key)).toString()));
    t.same(contents, keys, 'each object holds its own bytes');

    const versions = Array.from({ length: 10 }, (_, i) => Buffer.alloc(100_000 + i, 65 + i));
    if (options.overwritesInPlace === true) {
      for (const v of versions) await store.put('c/shared', v);
      t.ok(versions.at(-1)!.equals(await readAll(store, 'c/shared')), 'the last overwrite wins');
      return;
    }
    await Promise.all(versions.map((v) => store.put('c/shared', v)));
    const final = await readAll(store, 'c/shared');
    t.ok(
      versions.some((v) => v.equals(final)),
      'the surviving object is one whole version',
    );
  });

  t.test(`${name}: invalid keys, prefixes, options and bodies are TypeError / RangeError, with nothing stored`, async (t) => {
    const store = await factory(t);
    const badKeys: unknown[] = ['', '/abs', 'a//b', 'a/', '../x', 'a/../b', './a', 'a/.', 'a\\b', 'a b', 'ü', 'x.tmp-0a1b2c', 'a?b', 123, undefined, 'k'.repeat(1025)];
    for (const key of badKeys) {
      const label = JSON.stringify(key)?.slice(0, 20) ?? String(key);
      const expected = typeof key === 'string' && key.length > 1024 ? RangeError : TypeError;
      await t.rejects(store.put(key as string, Buffer.from('x')), expected, `put ${label}`);
      await t.rejects(store.get(key as string), expected, `get ${label}`);
      await t.rejects(store.head(key as string), expected, `head ${label}`);
      await t.rejects(store.delete(key as string), expected, `delete ${label}`);
    }
    for (const prefix of ['/a', '../', 'a//', 'a b', 7]) {
      await t.rejects(store.list(prefix as string), TypeError, `list prefix ${JSON.stringify(prefix)}`);
    }
    for (const limit of [0, 1001, 1.5, -1]) {
      await t.rejects(store.list('', { limit }), RangeError, `limit ${limit}`);
    }
    await t.rejects(store.list('', { cursor: 5 as unknown as string }), TypeError);
    await t.rejects(store.put('k', 'text' as unknown as Uint8Array), TypeError);
    await t.rejects(store.put('k', { stream: 'no' as unknown as Readable, size: 1 }), TypeError);
    await t.rejects(store.put('k', { stream: Readable.from([]), size: -1 }), RangeError);
    await t.rejects(store.put('k', { stream: Readable.from([]), size: 1.5 }), RangeError);
    await t.rejects(store.put('k', Buffer.from('x'), { ifNoneMatch: 'yes' as unknown as boolean }), TypeError);
    await t.rejects(store.put('k', Buffer.from('x'), { signal: {} as AbortSignal }), TypeError);
    t.same((await store.list('')).objects, [], 'nothing was stored');
  });

  t.test(`${name}: a stream body of the wrong size rejects and stores nothing`, async (t) => {
    const store = await factory(t);
    await t.rejects(store.put('short', { stream: Readable.from([Buffer.alloc(10)]), size: 11 }), RangeError);
    await t.rejects(store.put('long', { stream: Readable.from([Buffer.alloc(10)]), size: 9 }), RangeError);
    await t.rejects(store.put('long-multi', { stream: chunked(Buffer.alloc(6 * MiB), [MiB]), size: 6 * MiB - 1 }), RangeError);
    t.same((await store.list('')).objects, []);
  });

  t.test(`${name}: an aborted put leaves nothing visible`, async (t) => {
    const store = await factory(t);
    const done = new AbortController();
    done.abort();
    await t.rejects(store.put('pre-aborted', Buffer.from('x'), { signal: done.signal }), { code: 'CAIRN_ABORTED', name: 'AbortError' });

    const small = stallingStream(Buffer.alloc(100_000, 1));
    const smallAbort = new AbortController();
    const smallPut = store.put('mid-body', { stream: small.stream, size: 1_000_000 }, { signal: smallAbort.signal });
    await small.stalled;
    smallAbort.abort(new Error('user cancelled'));
    await t.rejects(smallPut, { code: 'CAIRN_ABORTED', name: 'AbortError' });

    // 8 MiB then a stall: on S3 (5 MiB parts) the first part is uploading or done.
    const big = stallingStream(Buffer.alloc(8 * MiB, 2));
    const bigAbort = new AbortController();
    const bigPut = store.put('mid-multipart', { stream: big.stream, size: 20 * MiB }, { signal: bigAbort.signal });
    await big.stalled;
    bigAbort.abort();
    await t.rejects(bigPut, { code: 'CAIRN_ABORTED' });

    for (const key of ['pre-aborted', 'mid-body', 'mid-multipart']) t.equal(await store.head(key), undefined, `${key} is not visible`);
    t.same((await store.list('')).objects, [], 'list shows nothing');
    await store.put('mid-body', Buffer.from('retried'));
    t.equal((await readAll(store, 'mid-body')).toString(), 'retried', 'a retry after the abort succeeds');
  });

  t.test(`${name}: an aborted get rejects before data, or errors the stream`, async (t) => {
    const store = await factory(t);
    await store.put('obj', randomBytes(3 * MiB));
    const done = new AbortController();
    done.abort();
    await t.rejects(store.get('obj', { signal: done.signal }), { code: 'CAIRN_ABORTED' });
    const later = new AbortController();
    const stream = await store.get('obj', { signal: later.signal });
    later.abort();
    await t.rejects(buffer(stream), { code: 'CAIRN_ABORTED' });
    t.equal((await readAll(store, 'obj')).length, 3 * MiB, 'the object is unaffected');
  });

  t.test(`${name}: close is idempotent and later calls reject CAIRN_CLOSED`, async (t) => {
    const store = await factory(t);
    await store.put('k', Buffer.from('v'));
    await store.close();
    await store.close();
    await t.rejects(store.put('k2', Buffer.from('v')), { code: 'CAIRN_CLOSED' });
    await t.rejects(store.get('k'), { code: 'CAIRN_CLOSED' });
    await t.rejects(store.head('k'), { code: 'CAIRN_CLOSED' });
    await t.rejects(store.list(''), { code: 'CAIRN_CLOSED' });
    await t.rejects(store.delete('k'), { code: 'CAIRN_CLOSED' });
  });
}
