// Shared helpers of the backupTo tests: scratch directories, whole-keyspace dumps to
// compare a checkpoint with its source, and the "nothing left behind" check. Test-only;
// each helper is independent and safe to call concurrently on different directories.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Keyspace } from '../../lib/index.js';

/** partition -> key -> value, all as strings (the tests write UTF-8 keys and values). */
export type Dump = Map<string, Map<string, string>>;

export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = 'cairn-ckpt-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every live key of every partition, read through the public API. */
export async function dump(ks: Keyspace): Promise<Dump> {
  const out: Dump = new Map();
  for (const name of ks.partitionNames()) {
    const kv = new Map<string, string>();
    for await (const [k, v] of (await ks.partition(name)).entries()) kv.set(k.toString(), v.toString());
    out.set(name, kv);
  }
  return out;
}

/** Opens a directory (a checkpoint), dumps it and closes it; also returns what it reports. */
export async function dumpDir(dir: string): Promise<{ data: Dump; seqno: number; id: string }> {
  const ks = await Keyspace.open(dir);
  try {
    return { data: await dump(ks), seqno: ks.seqno, id: ks.id };
  } finally {
    await ks.close();
  }
}

/** A dump as plain nested objects with sorted keys, for t.same diffs that read well. */
export function plain(d: Dump): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of [...d.keys()].sort()) out[name] = Object.fromEntries([...d.get(name)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return out;
}

/** Staging directories (`<dest>.tmp-*`) of `dest` that exist in its parent. */
export async function stagingLeft(dest: string): Promise<string[]> {
  const names = await readdir(dirname(dest)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(`${basename(dest)}.tmp-`));
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Puts `count` numbered keys into partition `name` (created if missing), one write each. */
export async function fill(ks: Keyspace, name: string, count: number, prefix: string): Promise<void> {
  const p = await ks.partition(name);
  for (let i = 0; i < count; i++) await p.put(`${prefix}${String(i).padStart(4, '0')}`, `${name}:${prefix}${i}`);
}
