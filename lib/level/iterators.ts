// The adapter's iterators: entries, keys and values over a RangeCursor, decoded to the
// format abstract-level asked for. abstract-level guarantees one call at a time per
// iterator and counts the limit itself. Main-thread only.
import { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } from 'abstract-level';
import type { RangeCursor, LevelKey } from './range-cursor.js';

/** The encoding formats the adapter declares; abstract-level transcodes everything else to them. */
export type Format = 'buffer' | 'utf8';

export function decode(bytes: Buffer, format: Format): Buffer | string {
  return format === 'utf8' ? bytes.toString('utf8') : bytes;
}

/** The private-API options every iterator receives (already normalised by abstract-level). */
export interface PrivateIteratorOptions {
  keyEncoding: Format;
  valueEncoding: Format;
  keys: boolean;
  values: boolean;
}

type Entry = [Buffer | string | undefined, Buffer | string | undefined];
/** The owning CairnLevel; abstract-level only needs it as a resource owner, whatever its key and value types. */
type Database = object;

export class CairnIterator extends AbstractIterator<Database, LevelKey, LevelKey> {
  readonly #rows: RangeCursor<[Buffer, Buffer] | Buffer>;
  readonly #toEntry: (row: [Buffer, Buffer] | Buffer) => Entry;

  /** `rows` yields [key, value] pairs, or bare values when the caller asked for no keys. */
  constructor(db: Database, options: PrivateIteratorOptions, rows: RangeCursor<[Buffer, Buffer] | Buffer>) {
    super(db, options);
    this.#rows = rows;
    const { keyEncoding, valueEncoding, keys, values } = options;
    this.#toEntry = !keys
      ? (row) => [undefined, values ? decode(row as Buffer, valueEncoding) : undefined]
      : (row) => {
          const [k, v] = row as [Buffer, Buffer];
          return [decode(k, keyEncoding), values ? decode(v, valueEncoding) : undefined];
        };
  }

  async _next(): Promise<Entry | undefined> {
    const [row] = this.#rows.take(1);
    return row === undefined ? undefined : this.#toEntry(row);
  }

  async _nextv(size: number): Promise<Entry[]> {
    return this.#rows.take(size).map(this.#toEntry);
  }

  async _all(): Promise<Entry[]> {
    return this.#rows.take(Infinity).map(this.#toEntry);
  }

  _seek(target: LevelKey): void {
    this.#rows.seek(target);
  }

  async _close(): Promise<void> {
    this.#rows.close();
  }
}

/** Keys only: reads keys from the partition, never copying values. */
export class CairnKeyIterator extends AbstractKeyIterator<Database, LevelKey> {
  readonly #rows: RangeCursor<Buffer>;
  readonly #format: Format;

  constructor(db: Database, options: PrivateIteratorOptions, rows: RangeCursor<Buffer>) {
    super(db, options);
    this.#rows = rows;
    this.#format = options.keyEncoding;
  }

  async _next(): Promise<Buffer | string | undefined> {
    const [key] = this.#rows.take(1);
    return key === undefined ? undefined : decode(key, this.#format);
  }

  async _nextv(size: number): Promise<(Buffer | string)[]> {
    return this.#decodeAll(this.#rows.take(size));
  }

  async _all(): Promise<(Buffer | string)[]> {
    return this.#decodeAll(this.#rows.take(Infinity));
  }

  _seek(target: LevelKey): void {
    this.#rows.seek(target);
  }

  async _close(): Promise<void> {
    this.#rows.close();
  }

  #decodeAll(keys: Buffer[]): (Buffer | string)[] {
    return this.#format === 'buffer' ? keys : keys.map((k) => k.toString('utf8'));
  }
}

/** Values only. */
export class CairnValueIterator extends AbstractValueIterator<Database, LevelKey, LevelKey> {
  readonly #rows: RangeCursor<Buffer>;
  readonly #format: Format;

  constructor(db: Database, options: PrivateIteratorOptions, rows: RangeCursor<Buffer>) {
    super(db, options);
    this.#rows = rows;
    this.#format = options.valueEncoding;
  }

  async _next(): Promise<Buffer | string | undefined> {
    const [value] = this.#rows.take(1);
    return value === undefined ? undefined : decode(value, this.#format);
  }

  async _nextv(size: number): Promise<(Buffer | string)[]> {
    return this.#decodeAll(this.#rows.take(size));
  }

  async _all(): Promise<(Buffer | string)[]> {
    return this.#decodeAll(this.#rows.take(Infinity));
  }

  _seek(target: LevelKey): void {
    this.#rows.seek(target);
  }

  async _close(): Promise<void> {
    this.#rows.close();
  }

  #decodeAll(values: Buffer[]): (Buffer | string)[] {
    return this.#format === 'buffer' ? values : values.map((v) => v.toString('utf8'));
  }
}
