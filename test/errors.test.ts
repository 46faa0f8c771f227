// CairnError and abort helpers: codes, names and causes are the stable contract.
import t from 'tap';
import { mkdir } from 'node:fs/promises';
import { CairnError, ErrorCodes, abortError, throwIfAborted, hasCode, systemError } from '../lib/errors.js';

t.test('CairnError carries its code, details and cause', async (t) => {
  const cause = new Error('inner');
  const err = new CairnError(ErrorCodes.CORRUPTION, 'bad block', { cause, details: { offset: 12 } });
  t.equal(err.code, 'CAIRN_CORRUPTION');
  t.equal(err.name, 'CairnError');
  t.equal(err.cause, cause);
  t.same(err.details, { offset: 12 });
  t.ok(err instanceof Error);
  t.ok(hasCode(err, 'CAIRN_CORRUPTION'));
  t.notOk(hasCode(err, 'ENOENT'));
});

t.test('an abort error is named AbortError and keeps the reason', async (t) => {
  const ac = new AbortController();
  throwIfAborted(ac.signal);
  ac.abort(new Error('stop'));
  const err = abortError(ac.signal);
  t.equal(err.name, 'AbortError');
  t.equal(err.code, 'CAIRN_ABORTED');
  t.equal((err.cause as Error).message, 'stop');
  t.throws(() => throwIfAborted(ac.signal), { code: 'CAIRN_ABORTED', name: 'AbortError' });
});

t.test('systemError builds the same shape and message as the errors Node raises', async (t) => {
  const dir = t.testdir({ exists: {} });
  const fromNode = await mkdir(`${dir}/exists`).then(() => undefined, (err: NodeJS.ErrnoException) => err);
  const ours = systemError('EEXIST', 'mkdir', { path: `${dir}/exists` });
  t.ok(fromNode !== undefined, 'Node refused to make the directory twice');
  for (const key of ['code', 'errno', 'syscall', 'path', 'message'] as const) t.equal(ours[key], fromNode![key], key);
  const pair = systemError('EXDEV', 'link', { path: '/a', dest: '/b', description: 'injected fault' });
  t.match(pair, { code: 'EXDEV', errno: -18, syscall: 'link', path: '/a', dest: '/b', message: "EXDEV: injected fault, link '/a' -> '/b'" });
  const custom = systemError('ENOTACODE', 'put', { cause: fromNode });
  t.equal(custom.errno, undefined, 'a code that is no errno name carries no errno');
  t.equal(custom.cause, fromNode);
});
