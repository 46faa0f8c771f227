// What a CLI command is: its help text, its options for node:util parseArgs, and a run
// function. A new command is one file in lib/cli/commands/ plus one line in
// command-table.ts. Commands run one per process, on the main thread.
import type { ParseArgsConfig } from 'node:util';
import type { FileSystem } from '../fs/file-system.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** The process around a command, injectable so the commands stay testable. */
export interface CliContext {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  /** What `cairn load` reads its records from. */
  stdin: AsyncIterable<Buffer | string>;
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** Fires on SIGINT: a command stops at its next step and removes what it was building. */
  signal: AbortSignal;
  /** The file system to use (the default seam, chosen lazily so `--help` loads no addon). */
  fileSystem(): FileSystem;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The synopsis, e.g. `cairn snapshot <keyspace-dir> <dest> [--json]`. */
  usage: string;
  /** Paragraphs for `cairn help <name>`. */
  description: string;
  options: OptionSpec;
  /** Names of the positional arguments, all required. */
  positionals: readonly string[];
  /** Resolves with the exit status; throws for failures (main maps them to statuses). */
  run(args: ParsedArgs, context: CliContext): Promise<number>;
}
