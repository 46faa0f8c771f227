// How every backup command opens its store: the URL checked as a command-line argument
// (a bad scheme, a relative path or a path that is a file are usage errors, exit 2), and
// the engine options the commands share. One call per command run.
import { BackupEngine, type BackupEngineOptions } from '../backup/backup-engine.js';
import { hasCode } from '../errors.js';
import type { CliContext } from './command.js';
import { UsageError } from './exit-codes.js';

/** BackupEngine.open(url) with the context's file system; argument mistakes become UsageError. */
export async function openBackupEngine(url: string, context: CliContext, options: Omit<BackupEngineOptions, 'fs'> = {}): Promise<BackupEngine> {
  try {
    return await BackupEngine.open(url, { ...options, fs: context.fileSystem() });
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw new UsageError(`bad <store-url>: ${err.message}`);
    if (hasCode(err, 'ENOTDIR')) throw new UsageError(`bad <store-url>: ${url} is not a directory`);
    throw err;
  }
}
