// Golden traces (Pebble's testdata style): a protocol's exact sequence of FileSystem calls,
// recorded by FaultFileSystem and compared with a file under testdata/, so that a changed
// protocol shows up as a readable diff. CAIRN_UPDATE_GOLDEN=1 rewrites the files.
// Test-only; one traced file system per test.
import { readFile, writeFile } from 'node:fs/promises';
import type { Test } from 'tap';
import { FaultFileSystem, replaceRoot } from '../../lib/fs/fault-file-system.js';
import { defaultFileSystem } from '../../lib/fs/index.js';
import type { FileSystem } from '../../lib/fs/file-system.js';
import { Keyspace, type Partition } from '../../lib/index.js';

/** Reads of data and handle closes say nothing about a protocol; everything else is kept. */
const NOISE = /^(read|readFile|fstat|readdir|close) /;

/**
 * Wraps a file system (and the handles it opens) to count calls in flight, so a test can
 * wait until background work has settled before and after the call under test.
 */
function tracked(inner: FileSystem): { fs: FileSystem; settled(): Promise<void> } {
  let inflight = 0;
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, prop) {
        const value: unknown = Reflect.get(obj, prop, obj);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const out: unknown = value.apply(obj, args);
          if (!(out instanceof Promise)) return out;
          inflight++;
          return out.then(
            (v: unknown) => {
              inflight--;
              return prop === 'open' ? wrap(v as object) : v;
            },
            (err: unknown) => {
              inflight--;
              throw err;
            },
          );
        };
      },
    });
  return {
    fs: wrap(inner),
    // A continuation issues its next call in the microtasks right after the previous one
    // resolves, so several quiet event-loop turns in a row mean nothing is left running.
    async settled() {
      for (let quiet = 0; quiet < 5; ) {
        await new Promise((r) => setImmediate(r));
        quiet = inflight === 0 ? quiet + 1 : 0;
      }
    },
  };
}

export interface GoldenTracer {
  /** The traced file system to hand to the code under test. */
  fs: FaultFileSystem;
  /** Resolves once no call is in flight (background work included). */
  settled(): Promise<void>;
  /** Waits until settled, then forgets everything traced so far. */
  start(): Promise<void>;
  /** Waits until settled, then returns the protocol's lines since start(), noise dropped. */
  lines(): Promise<string[]>;
}

/**
 * A traced file system over the default one. Paths under `root` read `<root>/…`; temp and
 * staging names (`*.tmp-<hex>`) read `.tmp-<staging>`; a backup store's content objects
 * (`files/<64 hex>.<ext>`, named by content that holds random ids) read `files/<object>.<ext>`.
 */
export function goldenTracer(root: string): GoldenTracer {
  const { fs: inner, settled } = tracked(defaultFileSystem());
  const rewrite = replaceRoot(root);
  const fs = new FaultFileSystem(inner, {
    rewritePath: (p) =>
      rewrite(p)
        .replace(/\.tmp-[0-9a-f]+/, '.tmp-<staging>')
        .replace(/\/files\/[0-9a-f]{64}\./, '/files/<object>.'),
  });
  return {
    fs,
    settled,
    async start() {
      await settled();
      fs.clearTrace();
    },
    async lines() {
      await settled();
      return fs.trace().filter((l) => !NOISE.test(l));
    },
  };
}

/** Compares `lines` with the golden file (rewriting it first under CAIRN_UPDATE_GOLDEN=1). */
export async function matchesGolden(t: Test, golden: URL, lines: readonly string[]): Promise<void> {
  const actual = `${lines.join('\n')}\n`;
  if (process.env.CAIRN_UPDATE_GOLDEN === '1') {
    await writeFile(golden, actual);
    t.comment(`${golden.pathname} rewritten`);
  }
  const name = golden.pathname.split('/').slice(-2).join('/');
  t.equal(actual, await readFile(golden, 'utf8'), `the trace matches ${name}`);
}

/**
 * The keyspace a whole-directory trace starts from, the same every run: a segment in each
 * of two partitions (`users`, `orders`), then writes that are only in the journal. The
 * caller closes it.
 */
export async function goldenKeyspace(dir: string): Promise<{ ks: Keyspace; users: Partition; orders: Partition }> {
  const ks = await Keyspace.open(dir);
  const users = await ks.partition('users');
  const orders = await ks.partition('orders');
  for (let i = 0; i < 40; i++) {
    await users.put(`user${i}`, `name${i}`);
    await orders.put(`order${i}`, `amount${i * 7}`);
  }
  await ks.flush();
  for (let i = 0; i < 10; i++) await users.put(`late${i}`, `v${i}`);
  return { ks, users, orders };
}
