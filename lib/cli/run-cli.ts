// Parses a cairn command line and runs the command: the whole CLI minus the process
// (argv, streams, signals, exit), so tests can drive it in-process. One call per run.
import { parseArgs } from 'node:util';
import type { CliContext } from './command.js';
import { findCommand } from './command-table.js';
import { ExitCode, UsageError, codeOf, exitCodeFor } from './exit-codes.js';
import { commandHelp, overviewHelp } from './help.js';

/** Runs `argv` (without the node and script paths) and resolves with the exit status; never rejects. */
export async function runCli(argv: readonly string[], context: CliContext, version: string): Promise<number> {
  try {
    return await dispatch(argv, context, version);
  } catch (err) {
    context.stderr.write(`${errorLine(err)}\n`);
    const status = exitCodeFor(err);
    // A script that asked for JSON parses stdout: it gets the failure as JSON there too.
    if (argv.includes('--json')) context.stdout.write(`${JSON.stringify({ error: errorObject(err, status) }, null, 2)}\n`);
    return status;
  }
}

/** The `--json` form of a failure: { code, message, exitCode, details? }. */
function errorObject(err: unknown, exitCode: number): Record<string, unknown> {
  const details = typeof err === 'object' && err !== null ? (err as { details?: unknown }).details : undefined;
  return { code: codeOf(err), message: err instanceof Error ? err.message : String(err), exitCode, ...(details === undefined ? {} : { details }) };
}

async function dispatch(argv: readonly string[], context: CliContext, version: string): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    context.stderr.write(overviewHelp());
    return ExitCode.USAGE;
  }
  if (first === '--help' || first === '-h') {
    context.stdout.write(overviewHelp());
    return ExitCode.OK;
  }
  if (first === '--version' || first === '-v') {
    context.stdout.write(`${version}\n`);
    return ExitCode.OK;
  }
  if (first === 'help') {
    if (rest.length === 0) {
      context.stdout.write(overviewHelp());
      return ExitCode.OK;
    }
    const command = findCommand(rest[0]);
    if (command === undefined || rest.length > 1) throw new UsageError(`unknown help topic '${rest.join(' ')}'; see 'cairn --help'`);
    context.stdout.write(commandHelp(command));
    return ExitCode.OK;
  }
  const command = findCommand(first);
  if (command === undefined) throw new UsageError(`unknown command '${first}'; see 'cairn --help'`);

  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split(/\.\s/)[0]}; see 'cairn help ${command.name}'`);
  }
  if (parsed.values.help === true) {
    context.stdout.write(commandHelp(command));
    return ExitCode.OK;
  }
  const expected = command.positionals;
  if (parsed.positionals.length < expected.length) {
    throw new UsageError(`missing <${expected[parsed.positionals.length]}>; usage: ${command.usage}`);
  }
  if (parsed.positionals.length > expected.length) {
    throw new UsageError(`unexpected argument '${parsed.positionals[expected.length]}'; usage: ${command.usage}`);
  }
  return command.run({ values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals }, context);
}

/** `cairn: <message> (<code>)`, on one line, without the code repeated at the front of a system error's message. */
export function errorLine(err: unknown): string {
  const code = codeOf(err);
  let message = err instanceof Error ? err.message : String(err);
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  return `cairn: ${message.replace(/\s*\n\s*/g, ' ')} (${code})`;
}
