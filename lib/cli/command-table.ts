// The table of CLI commands, in the order `cairn --help` lists them. Adding a command is
// a file in lib/cli/commands/ and a line here. Immutable after load.
import type { Command } from './command.js';
import { backupCommand } from './commands/backup.js';
import { checkCommand } from './commands/check.js';
import { compactCommand } from './commands/compact.js';
import { dumpCommand } from './commands/dump.js';
import { getCommand } from './commands/get.js';
import { infoCommand } from './commands/info.js';
import { inspectCommand } from './commands/inspect.js';
import { listCommand } from './commands/list.js';
import { loadCommand } from './commands/load.js';
import { pruneCommand } from './commands/prune.js';
import { restoreCommand } from './commands/restore.js';
import { scanCommand } from './commands/scan.js';
import { snapshotCommand } from './commands/snapshot.js';
import { statsCommand } from './commands/stats.js';
import { verifyCommand } from './commands/verify.js';
import { windowCommand } from './commands/window.js';

export const COMMANDS: readonly Command[] = [
  getCommand,
  scanCommand,
  dumpCommand,
  loadCommand,
  compactCommand,
  statsCommand,
  snapshotCommand,
  inspectCommand,
  checkCommand,
  backupCommand,
  listCommand,
  infoCommand,
  verifyCommand,
  restoreCommand,
  windowCommand,
  pruneCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
