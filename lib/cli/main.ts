#!/usr/bin/env node
// The `cairn` executable: wires the process (argv, stdio, SIGINT, exit status) to runCli.
// One run per process; a first SIGINT aborts the command cleanly, a second kills it.
import { createRequire } from 'node:module';
import { defaultFileSystem } from '../fs/index.js';
import { runCli } from './run-cli.js';

// dist/cli/main.js and lib/cli/main.ts both sit two levels below the package root.
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stdin: process.stdin,
  stderr: process.stderr,
  signal: interrupt.signal,
  fileSystem: defaultFileSystem,
}, version);
