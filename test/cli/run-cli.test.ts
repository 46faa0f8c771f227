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
    stdin: (async function* () {})(),
    stderr: { write: (s: string) => err.push(s), isTTY, columns: 100 },
    signal: new AbortController().signal,
    fileSystem: () => new NodeFileSystem(),
  };
  return { ctx, out, err };
}

t.test('a TTY stderr gets a progress bar that is cleared at the end', async (t) => {
  const { ctx, out, err } = context(true);
  t.equal(await runCli(['snapshot', src, join(scratch, 'tty')], ctx, '0.0.0'), 0);
  const frames = err.filter((s) => s.startsWith('['));
  t.ok(frames.length >= 1, 'the bar was drawn');
  t.ok(frames.every((s) => /^\[[#-]{24}\] \d+% \d+\/\d+ files .* \w+$/.test(s)), 'every frame is one line: bar, percentage, files, bytes, phase');
  t.match(frames[frames.length - 1], /^\[#{24}\] 100% .* done$/, 'the last frame shows completion');
  t.equal(err[err.length - 1], '\u001b[2K', 'then the line is erased');
  t.ok(frames.every((s) => s.length <= 100), 'frames fit the terminal width');
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
