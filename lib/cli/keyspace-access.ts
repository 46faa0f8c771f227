// What the data commands (get, scan, dump, load, compact, stats) share: opening an
// existing keyspace (never creating one), finding a partition without creating it, and
// turning keys and values into text and back (--encoding, truncation for a terminal).
// Pure helpers plus one open; one command per process.
import * as path from 'node:path';
import { CairnError, ErrorCodes } from '../errors.js';
import { Keyspace, type Partition } from '../index.js';
import { keyspaceFilePath } from '../layout/file-names.js';
import type { CliContext } from './command.js';
import { UsageError } from './exit-codes.js';

export type TextEncoding = 'utf8' | 'hex' | 'base64';
const ENCODINGS: readonly TextEncoding[] = ['utf8', 'hex', 'base64'];

/** Keys and values longer than this many characters are cut on a terminal (unless --full). */
export const TERMINAL_TEXT_LIMIT = 64;

/** --encoding's value (default utf8), or a usage error. */
export function parseEncoding(value: string | boolean | undefined): TextEncoding {
  if (value === undefined) return 'utf8';
  if (typeof value === 'string' && (ENCODINGS as readonly string[]).includes(value)) return value as TextEncoding;
  throw new UsageError(`--encoding must be one of ${ENCODINGS.join(', ')}, not '${String(value)}'`);
}

/** A key or value given as text in `encoding`; a usage error when it is not valid in it. */
export function decodeText(text: string, encoding: TextEncoding, what: string): Buffer {
  if (encoding === 'hex' && !/^(?:[0-9a-fA-F]{2})*$/.test(text)) throw new UsageError(`${what} '${text}' is not hex`);
  if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new UsageError(`${what} '${text}' is not base64`);
  return Buffer.from(text, encoding);
}

export function encodeBytes(bytes: Buffer, encoding: TextEncoding): string {
  return bytes.toString(encoding);
}

/** Text for a terminal: cut to TERMINAL_TEXT_LIMIT characters with a note of the full length, unless `full`. */
export function forTerminal(text: string, full: boolean): string {
  if (full || text.length <= TERMINAL_TEXT_LIMIT) return text;
  return `${text.slice(0, TERMINAL_TEXT_LIMIT)}… (${text.length} chars)`;
}

/** Whether printed keys and values are cut: on a terminal stdout, unless --full. */
export function truncates(context: CliContext, full: boolean | string | undefined): boolean {
  return context.stdout.isTTY === true && full !== true;
}

/** Fails with CAIRN_NOT_A_KEYSPACE unless `dir` holds a keyspace (Keyspace.open would create one). */
export async function requireKeyspace(context: CliContext, dir: string): Promise<string> {
  const root = path.resolve(dir);
  if ((await context.fileSystem().statOrUndefined(keyspaceFilePath(root))) === undefined) {
    throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not a cairn keyspace (no keyspace.json)`, { details: { path: root } });
  }
  return root;
}

/** Opens the existing keyspace in `dir` (taking its LOCK: CAIRN_LOCKED while it is open anywhere). */
export async function openExisting(context: CliContext, dir: string): Promise<Keyspace> {
  const root = await requireKeyspace(context, dir);
  return Keyspace.open(root, { fs: context.fileSystem(), createIfMissing: false });
}

/** The partition `name` of `ks`; CAIRN_NOT_FOUND (never created) when it does not exist. */
export async function existingPartition(ks: Keyspace, name: string): Promise<Partition> {
  if (!ks.partitionNames().includes(name)) {
    throw new CairnError(ErrorCodes.NOT_FOUND, `No partition '${name}' in ${ks.path} (partitions: ${ks.partitionNames().join(', ') || 'none'})`, {
      details: { partition: name },
    });
  }
  return ks.partition(name);
}
