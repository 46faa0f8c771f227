// The help texts: the overview (`cairn --help`, with the exit status table) and one
// command's page (`cairn help <command>`). Pure functions over the command table.
import type { Command } from './command.js';
import { COMMANDS } from './command-table.js';
import { EXIT_CODE_TABLE } from './exit-codes.js';

export function overviewHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: cairn <command> [arguments] [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  show help for a command: cairn help <command>`,
    '',
    'Options:',
    '  -h, --help     show help (also after a command)',
    '  -v, --version  print the version',
    '',
    exitStatusSection(),
  ].join('\n') + '\n';
}

export function commandHelp(command: Command): string {
  return [`Usage: ${command.usage}`, '', command.summary, '', command.description, '', exitStatusSection()].join('\n') + '\n';
}

function exitStatusSection(): string {
  return ['Exit status:', ...EXIT_CODE_TABLE.map(([code, meaning]) => `  ${String(code).padStart(3)}  ${meaning}`)].join('\n');
}
