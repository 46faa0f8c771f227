// Keyspaces for the tests of whole-directory tools (the CLI, the offline snapshot): build
// one through the public API with segments, several journals and a delete; read one back;
// fingerprint a directory's files for "nothing changed" checks. Test-only.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Keyspace, type KeyspaceOptions } from '../../lib/index.js';

/** Contents as partition -> key -> value (utf8). */
export type Contents = Map<string, Map<string, string>>;

/**
 * A keyspace with segments in two partitions, several journal files (a small journal file
 * size and a memtable large enough that the last writes stay journal-only), and a delete.
 */
export async function buildKeyspace(dir: string, options: { valueBytes?: number; keys?: number; incompressible?: boolean } & KeyspaceOptions = {}): Promise<Contents> {
  const { valueBytes = 40, keys = 200, incompressible = false, ...ksOptions } = options;
  // Letters from a small LCG: printable, and too irregular for Snappy to shrink (for tests that need the bytes on disk).
  let state = 12345;
  const letter = (): string => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return String.fromCharCode(97 + (state % 26));
  };
  const ks = await Keyspace.open(dir, { memtableBytes: 64 * 1024, journalFileBytes: 4096, ...ksOptions });
  const expected: Contents = new Map();
  try {
    for (const name of ['users', 'audit']) {
      const p = await ks.partition(name);
      const kv = new Map<string, string>();
      for (let i = 0; i < keys; i++) {
        const key = `${name}:${String(i).padStart(5, '0')}`;
        const prefix = `${name}-${i}-`;
        const value = incompressible ? prefix + Array.from({ length: Math.max(0, valueBytes - prefix.length) }, letter).join('') : prefix.padEnd(valueBytes, String.fromCharCode(97 + (i % 26)));
        await p.put(key, value);
        kv.set(key, value);
      }
      expected.set(name, kv);
    }
    await ks.flush();
    const users = await ks.partition('users');
    for (let i = 0; i < 40; i++) {
      await users.put(`late:${i}`, `late value ${i}`.padEnd(200, '.'));
      expected.get('users')!.set(`late:${i}`, `late value ${i}`.padEnd(200, '.'));
    }
    await users.delete('users:00001');
    expected.get('users')!.delete('users:00001');
  } finally {
    await ks.close();
  }
  return expected;
}

/** Opens `dir` with the public API and reads every partition in full. */
export async function readKeyspace(dir: string): Promise<Contents> {
  const ks = await Keyspace.open(dir);
  try {
    const out: Contents = new Map();
    for (const name of ks.partitionNames()) {
      const kv = new Map<string, string>();
      for await (const [k, v] of (await ks.partition(name)).entries()) kv.set(k.toString('utf8'), v.toString('utf8'));
      out.set(name, kv);
    }
    return out;
  } finally {
    await ks.close();
  }
}

/** Every file under `dir` (relative path -> size and sha256), for "nothing changed" checks. */
export async function fingerprint(dir: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      const rel = relative(dir, full);
      if (skip(rel)) continue;
      if (entry.isDirectory()) {
        out.set(`${rel}/`, 'dir');
        await walk(full);
      } else {
        const bytes = await readFile(full);
        out.set(rel, `${(await stat(full)).size}:${createHash('sha256').update(bytes).digest('hex')}`);
      }
    }
  }
  await walk(dir);
  return out;
}

/** The lock file and the pure-JS lock's pid stamp are not keyspace content. */
export function isLockFile(rel: string): boolean {
  return rel === 'LOCK' || rel.startsWith('LOCK.');
}
