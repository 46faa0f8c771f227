// The journal directory as found on disk: the journal files oldest first, the trailing
// spares, and whatever else lies there. The one reading of that directory shared by
// recovery, the offline snapshot and inspect. Reads only; safe to call concurrently.
import type { FileSystem } from '../fs/file-system.js';
import { journalDir, journalFileName, journalPath, parseJournalFileName } from '../layout/file-names.js';
import { JOURNAL_HEADER_BYTES } from './record.js';

export interface JournalFile {
  fileNumber: number;
  path: string;
  /** Size on disk, header included. */
  bytes: number;
}

export interface JournalListing {
  /** Journal files, oldest first, up to the newest one holding more than a header. */
  files: JournalFile[];
  /**
   * Files after the last of `files` holding at most a header: spares created ahead of a
   * switch, or files whose creation a crash cut short. They hold no record, so "the newest
   * journal" (the only one allowed a torn tail) is the last of `files`, never a spare.
   */
  spares: JournalFile[];
  /** Names in the directory that are not journal files (temp files, strays). */
  others: string[];
}

/**
 * Lists the journals of the keyspace at `root`. A file deleted between the listing and its
 * stat (journal GC of a keyspace open elsewhere) is left out. Rejects ENOENT when the
 * journal directory is missing.
 */
export async function listJournalFiles(fs: FileSystem, root: string): Promise<JournalListing> {
  const numbers: number[] = [];
  const others: string[] = [];
  for (const name of await fs.readdir(journalDir(root))) {
    const n = parseJournalFileName(name);
    // A name that parses but is not the canonical spelling (`0000042.jnl`) is not ours.
    if (n !== undefined && name === journalFileName(n)) numbers.push(n);
    else others.push(name);
  }
  numbers.sort((a, b) => a - b);
  const files: JournalFile[] = [];
  for (const fileNumber of numbers) {
    const file = journalPath(root, fileNumber);
    const stat = await fs.statOrUndefined(file);
    if (stat !== undefined) files.push({ fileNumber, path: file, bytes: stat.size });
  }
  let end = files.length;
  while (end > 0 && files[end - 1].bytes <= JOURNAL_HEADER_BYTES) end--;
  return { files: files.slice(0, end), spares: files.slice(end), others };
}
