// How every backup command opens its store: the URL checked as a command-line argument
// (a bad scheme, a relative path or a path that is a file are usage errors, exit 2), and
// the engine options the commands share. One call per command run.
import { BackupEngine, type BackupEngineOptions } from '../backup/backup-engine.js';
import { hasCode } from '../errors.js';
import type { CliContext } from './command.js';
import { UsageError } from './exit-codes.js';

/**
 * BackupEngine.open(url) with the context's file system and, when CAIRN_BACKUP_KEY is set
 * (64 hex digits or base64 of 32 bytes), that key; argument mistakes become UsageError.
 */
export async function openBackupEngine(url: string, context: CliContext, options: Omit<BackupEngineOptions, 'fs' | 'encryption'> = {}): Promise<BackupEngine> {
  const key = process.env.CAIRN_BACKUP_KEY;
  try {
    return await BackupEngine.open(url, { ...options, fs: context.fileSystem(), ...(key === undefined || key === '' ? {} : { encryption: { key } }) });
  } catch (err) {
    if ((err instanceof TypeError || err instanceof RangeError) && err.message.includes('encryption.key')) throw new UsageError(`CAIRN_BACKUP_KEY: ${err.message}`);
    if (err instanceof TypeError || err instanceof RangeError) throw new UsageError(`bad <store-url>: ${err.message}`);
    if (hasCode(err, 'ENOTDIR')) throw new UsageError(`bad <store-url>: ${url} is not a directory`);
    throw err;
  }
}
