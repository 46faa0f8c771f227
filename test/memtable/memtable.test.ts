// Memtable against a sorted-array model: inserts, point reads at random snapshots, and
// cursors with random bounds in both directions, including inserts while a cursor is open.
import t from 'tap';
import { Memtable, compareKeys, type CursorOptions } from '../../lib/memtable/memtable.js';
import { EntryKind, compareEntries, type Entry } from '../../lib/codec/entry.js';

/** Deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function randomKey(r: () => number): Buffer {
  // Small alphabet and mostly short keys so keys repeat and share prefixes (including
  // empty keys); some run past the 6 bytes the skip list caches per node.
  const len = r() < 0.7 ? Math.floor(r() * 4) : 4 + Math.floor(r() * 6);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = 0x61 + Math.floor(r() * 4);
  return b;
}

function inRange(key: Buffer, o: CursorOptions): boolean {
  if (o.gte && Buffer.compare(key, o.gte) < 0) return false;
  if (o.gt && Buffer.compare(key, o.gt) <= 0) return false;
  if (o.lte && Buffer.compare(key, o.lte) > 0) return false;
  if (o.lt && Buffer.compare(key, o.lt) >= 0) return false;
  return true;
}

function modelCursor(model: Entry[], o: CursorOptions): Entry[] {
  const sorted = model.filter((e) => inRange(e.key, o)).sort(compareEntries);
  if (!o.reverse) return sorted;
  // Keys descending, seqno still descending within a key.
  return sorted.sort((a, b) => Buffer.compare(b.key, a.key) || b.seqno - a.seqno);
}

function drain(c: { next(): Entry | undefined }): Entry[] {
  const out: Entry[] = [];
  for (let e = c.next(); e !== undefined; e = c.next()) out.push(e);
  return out;
}

const show = (es: Entry[]) => es.map((e) => `${e.key.toString()}@${e.seqno}:${e.kind}`);

function randomOptions(r: () => number): CursorOptions {
  const o: CursorOptions = {};
  if (r() < 0.4) o.gte = randomKey(r);
  if (r() < 0.3) o.gt = randomKey(r);
  if (r() < 0.4) o.lte = randomKey(r);
  if (r() < 0.3) o.lt = randomKey(r);
  if (r() < 0.5) o.reverse = true;
  return o;
}

t.test('randomized insert/get/cursor against a sorted-array model', async (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const mem = new Memtable();
    const model: Entry[] = [];
    const seqnos = Array.from({ length: 300 }, (_, i) => i + 1);
    // Out-of-order seqnos for some keys exercise the splice path.
    if (seed % 2 === 0) seqnos.sort(() => r() - 0.5);
    for (const seqno of seqnos) {
      const key = randomKey(r);
      const kind = r() < 0.2 ? EntryKind.Delete : EntryKind.Put;
      const value = kind === EntryKind.Put ? Buffer.from(`v${seqno}`) : Buffer.alloc(0);
      mem.insert(key, seqno, kind, value);
      model.push({ key, seqno, kind, value });
    }
    t.equal(mem.entryCount, model.length);
    t.equal(mem.minSeqno, 1);
    t.equal(mem.maxSeqno, 300);

    for (let i = 0; i < 100; i++) {
      const key = randomKey(r);
      const at = Math.floor(r() * 320);
      const expected = model
        .filter((e) => e.key.equals(key) && e.seqno <= at)
        .sort((a, b) => b.seqno - a.seqno)[0];
      const got = mem.get(key, at);
      if (got?.seqno !== expected?.seqno || got?.kind !== expected?.kind) {
        t.fail(`seed ${seed}: get(${key}, ${at}) = ${got?.seqno}, model ${expected?.seqno}`);
      }
    }
    for (let i = 0; i < 60; i++) {
      const o = randomOptions(r);
      const got = show(drain(mem.cursor(o)));
      const want = show(modelCursor(model, o));
      if (JSON.stringify(got) !== JSON.stringify(want)) t.same(got, want, `seed ${seed} cursor ${JSON.stringify(o)}`);
    }
    t.same(show([...mem.entries()]), show(modelCursor(model, {})), `seed ${seed} entries()`);
  }
});

t.test('cursors opened before inserts never skip or repeat pre-existing entries', async (t) => {
  for (let seed = 100; seed < 160; seed++) {
    const r = rng(seed);
    const mem = new Memtable();
    const model: Entry[] = [];
    // Pre-existing writes sit in the middle of the seqno space so that later inserts can
    // be both newer (counting up) and older (counting down).
    let seqno = 1_000_000;
    let older = seqno;
    for (let i = 0; i < 150; i++) {
      const key = randomKey(r);
      seqno++;
      if (i === 0) older = seqno;
      mem.insert(key, seqno, EntryKind.Put, Buffer.from(String(seqno)));
      model.push({ key, seqno, kind: EntryKind.Put, value: Buffer.alloc(0) });
    }
    const o = randomOptions(r);
    const before = new Set(model.filter((e) => inRange(e.key, o)).map((e) => e.seqno));
    const cursor = mem.cursor(o);
    const seen: Entry[] = [];
    const seenSeqnos = new Set<number>();
    for (let e = cursor.next(); e !== undefined; e = cursor.next()) {
      if (seenSeqnos.has(e.seqno)) t.fail(`seed ${seed}: repeated seqno ${e.seqno}`);
      seenSeqnos.add(e.seqno);
      seen.push(e);
      // Interleave writes: new keys, new versions of existing keys (including the one
      // under the cursor), and occasionally an older seqno slipped into a version list.
      for (let j = Math.floor(r() * 3); j > 0; j--) {
        const which = r();
        const key = which < 0.3 ? e.key : randomKey(r);
        const s = which > 0.9 ? --older : ++seqno;
        mem.insert(key, s, EntryKind.Put, Buffer.alloc(0));
      }
    }
    for (const s of before) if (!seenSeqnos.has(s)) t.fail(`seed ${seed}: skipped pre-existing seqno ${s}`);
    // Whatever the cursor returned is still in cursor order.
    for (let i = 1; i < seen.length; i++) {
      const c = Buffer.compare(seen[i - 1].key, seen[i].key);
      const ordered = o.reverse ? c > 0 || (c === 0 && seen[i - 1].seqno > seen[i].seqno) : c < 0 || (c === 0 && seen[i - 1].seqno > seen[i].seqno);
      if (!ordered) t.fail(`seed ${seed}: out of order at ${i}`);
    }
    t.ok(before.size === 0 || seen.length >= before.size, `seed ${seed}: saw all ${before.size} pre-existing`);
  }
});

t.test('empty memtable, bounds that exclude everything', async (t) => {
  const mem = new Memtable();
  t.equal(mem.get(Buffer.from('a'), 10), undefined);
  t.equal(mem.cursor().next(), undefined);
  t.equal(mem.cursor({ reverse: true }).next(), undefined);
  t.equal(mem.minSeqno, undefined);
  t.equal(mem.maxSeqno, undefined);
  mem.insert(Buffer.from('b'), 1, EntryKind.Put, Buffer.from('x'));
  t.equal(mem.cursor({ gt: Buffer.from('b') }).next(), undefined);
  t.equal(mem.cursor({ lt: Buffer.from('b'), reverse: true }).next(), undefined);
  t.equal(mem.cursor({ gte: Buffer.from('c'), lte: Buffer.from('a') }).next(), undefined);
  t.equal(mem.get(Buffer.from('b'), 0), undefined, 'a read below the oldest version sees nothing');
});

t.test('tombstones are returned to the caller, sizes and freeze', async (t) => {
  const mem = new Memtable();
  const k = Buffer.from('key');
  mem.insert(k, 1, EntryKind.Put, Buffer.from('hello'));
  const afterOne = mem.approximateBytes;
  t.ok(afterOne >= 3 + 5, 'counts key and value bytes');
  mem.insert(k, 2, EntryKind.Delete, Buffer.alloc(0));
  t.ok(mem.approximateBytes > afterOne, 'each version adds overhead');
  t.equal(mem.get(k, 5)?.kind, EntryKind.Delete);
  t.equal(mem.get(k, 1)?.value.toString(), 'hello');
  mem.insert(k, 2, EntryKind.Put, Buffer.from('again'));
  t.equal(mem.entryCount, 2, 're-inserting the same (key, seqno) replaces it');
  t.equal(mem.get(k, 2)?.kind, EntryKind.Put);
  mem.freeze();
  t.ok(mem.frozen);
  t.throws(() => mem.insert(k, 3, EntryKind.Put, Buffer.alloc(0)), { code: 'CAIRN_CLOSED' });
  t.equal(mem.get(k, 5)?.seqno, 2, 'reads still work when frozen');
});

t.test('compareKeys agrees with Buffer.compare, around the 16-byte switch to native', async (t) => {
  const r = rng(7);
  let mismatches = 0;
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(r() * 40);
    const a = Buffer.alloc(len);
    for (let j = 0; j < len; j++) a[j] = Math.floor(r() * 3);
    const b = Buffer.from(a.subarray(0, Math.floor(r() * (len + 1))));
    if (r() < 0.5 && b.length > 0) b[Math.floor(r() * b.length)] = Math.floor(r() * 3);
    if (r() < 0.3) continue;
    if (Math.sign(compareKeys(a, b)) !== Buffer.compare(a, b) || Math.sign(compareKeys(b, a)) !== Buffer.compare(b, a)) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('many keys (a tree several levels deep): order, gets, and cursors across leaf splits', async (t) => {
  const r = rng(2024);
  const mem = new Memtable();
  const keys = new Map<string, number[]>();
  let seqno = 0;
  const addRandom = () => {
    const len = 1 + Math.floor(r() * 12);
    const k = Buffer.alloc(len);
    for (let j = 0; j < len; j++) k[j] = Math.floor(r() * 256);
    const hex = k.toString('hex');
    mem.insert(k, ++seqno, EntryKind.Put, k);
    const list = keys.get(hex) ?? [];
    list.push(seqno);
    keys.set(hex, list);
  };
  for (let i = 0; i < 20000; i++) addRandom();
  const sortedHex = [...keys.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
  const expected = (hexes: string[]) => hexes.flatMap((hex) => [...(keys.get(hex) as number[])].reverse().map((sq) => `${hex}@${sq}`));
  const label = (e: Entry) => `${e.key.toString('hex')}@${e.seqno}`;
  // Compared as one string each: a deep diff of 20,000-element arrays is slow in tap.
  t.equal(drain(mem.cursor()).map(label).join(), expected(sortedHex).join(), 'forward order over all versions');
  t.equal(drain(mem.cursor({ reverse: true })).map(label).join(), expected([...sortedHex].reverse()).join(), 'reverse order over all versions');
  let wrong = 0;
  for (const [hex, seqnos] of keys) if (mem.get(Buffer.from(hex, 'hex'), seqno)?.seqno !== seqnos[seqnos.length - 1]) wrong++;
  t.equal(wrong, 0, 'every key found');
  // Cursors in both directions while 20,000 more keys each split leaves under them.
  for (const reverse of [false, true]) {
    const before = new Set(drain(mem.cursor()).map((e) => e.seqno));
    const c = mem.cursor({ reverse });
    const seen = new Set<number>();
    let prev: Entry | undefined;
    let disorder = 0;
    for (let e = c.next(); e !== undefined; e = c.next()) {
      if (seen.has(e.seqno)) disorder++;
      seen.add(e.seqno);
      if (prev !== undefined) {
        const c = Buffer.compare(prev.key, e.key);
        if (c === 0 ? prev.seqno <= e.seqno : c !== (reverse ? 1 : -1)) disorder++;
      }
      prev = e;
      if (seen.size <= 20000) addRandom();
    }
    let skipped = 0;
    for (const s of before) if (!seen.has(s)) skipped++;
    t.equal(skipped, 0, `reverse=${reverse}: no pre-existing entry skipped`);
    t.equal(disorder, 0, `reverse=${reverse}: in cursor order, nothing repeated`);
  }
  t.equal(mem.entryCount, seqno);
});
