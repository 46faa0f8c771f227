// CairnError and abort helpers: codes, names and causes are the stable contract.
import t from 'tap';
import { CairnError, ErrorCodes, abortError, throwIfAborted, hasCode } from '../lib/errors.js';

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
