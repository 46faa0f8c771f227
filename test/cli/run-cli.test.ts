// runCli in-process with a fake terminal: the progress bar appears on a TTY stderr only,
// ends with the line cleared, and the error line format strips a repeated code prefix.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, errorLine } from '../../lib/cli/run-cli.js';
import type { CliContext } from '../../lib/cli/command.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { CairnError, ErrorCodes } from '../../lib/errors.js';
import { buildKeyspace } from '../helpers/keyspace-content.js';

const scratch = await mkdtemp(join(tmpdir(), 'cairn-run-cli-'));
t.teardown(() => rm(scratch, { recursive: true, force: true }));
const src = join(scratch, 'ks');
await buildKeyspace(src, { keys: 30 });

function context(isTTY: boolean): { ctx: CliContext; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s), isTTY, columns: 100 },
    signal: new AbortController().signal,
    fileSystem: () => new NodeFileSystem(),
  };
  return { ctx, out, err };
}

t.test('a TTY stderr gets a progress bar that is cleared at the end', async (t) => {
  const { ctx, out, err } = context(true);
  t.equal(await runCli(['snapshot', src, join(scratch, 'tty')], ctx, '0.0.0'), 0);
  t.ok(err.length >= 2, 'the bar was drawn');
  const clearLine = '\r\u001b[K';
  t.ok(err.slice(0, -1).every((s) => s.startsWith(clearLine) && /^\[[#-]{24}\] +\d+% \d+\/\d+ files /.test(s.slice(clearLine.length))), 'every frame redraws one line');
  t.match(err[err.length - 2], /100% .* done$/, 'the last frame shows completion');
  t.equal(err[err.length - 1], clearLine, 'then the line is cleared');
  t.ok(err.every((s) => s.length <= 100 + 4), 'frames fit the terminal width');
  t.match(out.join(''), /^snapshot /);
});

t.test('no progress output when stderr is not a TTY', async (t) => {
  const { ctx, err } = context(false);
  t.equal(await runCli(['snapshot', src, join(scratch, 'pipe')], ctx, '0.0.0'), 0);
  t.same(err, []);
});

t.test('the error line', async (t) => {
  const sys = Object.assign(new Error("ENOSPC: no space left on device, write '/x'"), { code: 'ENOSPC' });
  t.equal(errorLine(sys), "cairn: no space left on device, write '/x' (ENOSPC)");
  t.equal(errorLine(new CairnError(ErrorCodes.LOCKED, 'held\nby another')), 'cairn: held by another (CAIRN_LOCKED)');
  t.equal(errorLine(new TypeError('oops')), 'cairn: oops (TypeError)');
});
