// The table of CLI commands, in the order `cairn --help` lists them. Adding a command is
// a file in lib/cli/commands/ and a line here. Immutable after load.
import type { Command } from './command.js';
import { inspectCommand } from './commands/inspect.js';
import { snapshotCommand } from './commands/snapshot.js';

export const COMMANDS: readonly Command[] = [snapshotCommand, inspectCommand];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
