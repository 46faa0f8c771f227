// The model of a writer's history for point-in-time restores and followers: every commit
// with its seqno, and the data as of any seqno. Test-only.
import type { Keyspace } from '../../lib/index.js';
import type { Contents } from '../helpers/keyspace-content.js';

export type { Contents };

/** One commit: a batch (its last seqno) or a partition's creation (its registry record's seqno). */
export interface Committed {
  seqno: number;
  created?: string;
  ops: { partition: string; key: string; value: string | undefined }[];
}

/** The data as of `seqno`: every commit at or below it, applied in order. */
export function modelAt(history: readonly Committed[], seqno: number): Contents {
  const out: Contents = new Map();
  for (const c of history) {
    if (c.seqno > seqno) break;
    if (c.created !== undefined) out.set(c.created, out.get(c.created) ?? new Map());
    for (const op of c.ops) {
      const kv = out.get(op.partition) ?? new Map<string, string>();
      out.set(op.partition, kv);
      if (op.value === undefined) kv.delete(op.key);
      else kv.set(op.key, op.value);
    }
  }
  return out;
}

/** A canonical string of contents (sorted); `dropEmpty` treats an empty partition as absent. */
export function normalized(c: Contents, dropEmpty = false): string {
  return JSON.stringify([...c].filter(([, kv]) => !dropEmpty || kv.size > 0).sort(([x], [y]) => (x < y ? -1 : 1)).map(([p, kv]) => [p, [...kv].sort(([x], [y]) => (x < y ? -1 : 1))]));
}

/**
 * Commits `count` random batches of 1-3 puts (15% deletes) over `partitions` (keys
 * k0..k<keys-1>, values numbered by `counter`), recording each in `history`.
 */
export async function commitRandomBatches(ks: Keyspace, partitions: readonly string[], history: Committed[], random: () => number, count: number, options: { keys: number; counter: { n: number } }): Promise<void> {
  for (let i = 0; i < count; i++) {
    const b = ks.batch();
    const ops: Committed['ops'] = [];
    const size = 1 + Math.floor(random() * 3);
    for (let j = 0; j < size; j++) {
      const partition = partitions[Math.floor(random() * partitions.length)];
      const key = `k${Math.floor(random() * options.keys)}`;
      const p = await ks.partition(partition);
      if (random() < 0.15) {
        b.delete(p, key);
        ops.push({ partition, key, value: undefined });
      } else {
        const value = `${options.counter.n++}`.padEnd(20 + Math.floor(random() * 60), 'v');
        b.put(p, key, value);
        ops.push({ partition, key, value });
      }
    }
    await b.commit();
    history.push({ seqno: ks.seqno, ops });
  }
}
