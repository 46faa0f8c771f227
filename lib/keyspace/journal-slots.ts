// Journal slots: named positions of journal consumers (the shipper of docs/shipping.md
// §4). A slot at seqno S keeps every sealed journal file holding a record above S from
// journal GC. Positions are persisted in slots.json (atomic rewrite) so that a reopen
// before the consumer starts again deletes nothing it has not consumed; GC trusts only
// the persisted positions. Main thread only; rewrites are serialised.
import { writeFileAtomic } from '../fs/durable.js';
import type { FileSystem } from '../fs/file-system.js';
import { CairnError, ErrorCodes, hasCode } from '../errors.js';
import { slotsFilePath } from '../layout/file-names.js';

const SLOTS_FORMAT = 1;
const SLOT_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function isValidSlotName(name: unknown): name is string {
  return typeof name === 'string' && SLOT_NAME_RE.test(name);
}

/** Reads slots.json; an empty map when it does not exist. CAIRN_CORRUPTION when malformed. */
export async function readSlots(fs: FileSystem, root: string): Promise<Map<string, number>> {
  const file = slotsFilePath(root);
  let text: string;
  try {
    text = (await fs.readFile(file)).toString('utf8');
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return new Map();
    throw err;
  }
  const bad = (cause?: unknown) => new CairnError(ErrorCodes.CORRUPTION, `Malformed ${file}`, { cause, details: { path: file } });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(err);
  }
  const slots = (doc as { slots?: unknown } | null)?.slots;
  if (typeof doc !== 'object' || doc === null || (doc as { format?: unknown }).format !== SLOTS_FORMAT || typeof slots !== 'object' || slots === null) throw bad();
  const out = new Map<string, number>();
  for (const [name, seqno] of Object.entries(slots)) {
    if (!isValidSlotName(name) || !Number.isSafeInteger(seqno) || (seqno as number) < 0) throw bad();
    out.set(name, seqno as number);
  }
  return out;
}

export class JournalSlots {
  readonly #fs: FileSystem;
  readonly #root: string;
  /** Persisted positions: what GC obeys. */
  readonly #persisted: Map<string, number>;
  #writing: Promise<void> = Promise.resolve();

  constructor(fs: FileSystem, root: string, persisted: Map<string, number>) {
    this.#fs = fs;
    this.#root = root;
    this.#persisted = persisted;
  }

  /** Records with a seqno at or above this are kept for some slot (Infinity without slots). */
  neededFrom(): number {
    let needed = Infinity;
    for (const seqno of this.#persisted.values()) needed = Math.min(needed, seqno + 1);
    return needed;
  }

  /** The persisted position of slot `name`, or undefined when there is no such slot. */
  get(name: string): number | undefined {
    return this.#persisted.get(name);
  }

  names(): string[] {
    return [...this.#persisted.keys()].sort();
  }

  /** Creates or moves slot `name` to `seqno`, durably. A slot never moves back unless `force`. */
  set(name: string, seqno: number, force = false): Promise<void> {
    return this.#rewrite((slots) => {
      const old = slots.get(name);
      if (old !== undefined && seqno <= old && !force) return false;
      slots.set(name, seqno);
      return true;
    });
  }

  /** Removes slot `name` (a no-op when absent), durably. */
  drop(name: string): Promise<void> {
    return this.#rewrite((slots) => slots.delete(name));
  }

  /** Applies `change` to a copy, writes the copy, and only then makes it what GC obeys. */
  #rewrite(change: (slots: Map<string, number>) => boolean): Promise<void> {
    const next = this.#writing.then(async () => {
      const copy = new Map(this.#persisted);
      if (!change(copy)) return;
      const slots = Object.fromEntries([...copy].sort(([a], [b]) => (a < b ? -1 : 1)));
      await writeFileAtomic(this.#fs, slotsFilePath(this.#root), `${JSON.stringify({ format: SLOTS_FORMAT, slots })}\n`);
      this.#persisted.clear();
      for (const [k, v] of copy) this.#persisted.set(k, v);
    });
    this.#writing = next.catch(() => undefined);
    return next;
  }
}
