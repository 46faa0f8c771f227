// abstract-level's own compliance suite (tape) run in-process against CairnLevel, each
// factory call a fresh keyspace under this file's test directory. Every tape assertion is
// mirrored as a tap assertion, so one compliance failure fails this file.
import * as path from 'node:path';
import { createRequire } from 'node:module';
import t from 'tap';
import tape from 'tape';
import { CairnLevel } from '../../lib/level/index.js';

/** Assertions abstract-level 3.1.1's suite makes on this adapter's manifest; fewer means tests went missing. */
const EXPECTED_MIN_ASSERTIONS = 4670;

interface TapeRow {
  type: 'test' | 'assert' | 'end';
  id?: number;
  test?: number;
  name?: string;
  ok?: boolean;
  skip?: boolean | string;
  todo?: boolean | string;
  operator?: string;
  actual?: unknown;
  expected?: unknown;
}

const require = createRequire(import.meta.url);
const suite = require('abstract-level/test') as (options: { test: unknown; factory: (options?: object) => unknown }) => void;

t.test('abstract-level compliance suite', async (t) => {
  const root = t.testdir();
  let databases = 0;
  const harness = tape.createHarness();
  const testNames = new Map<number, string>();
  let passed = 0;
  let tests = 0;
  const finished = new Promise<void>((resolve) => harness.onFinish(() => resolve()));
  harness.createStream({ objectMode: true }).on('data', (row: TapeRow) => {
    if (row.type === 'test' && row.id !== undefined) {
      tests++;
      testNames.set(row.id, row.name ?? '');
    } else if (row.type === 'assert') {
      const name = `${testNames.get(row.test ?? -1) ?? '?'}: ${row.name ?? ''}`;
      if (row.ok === true) passed++;
      t.ok(row.ok === true || row.todo !== undefined && row.todo !== false, name, row.ok === true ? {} : { operator: row.operator, found: row.actual, wanted: row.expected });
    }
  });
  suite({
    test: harness,
    factory: (options) => new CairnLevel(path.join(root, `db-${++databases}`), options),
  });
  await finished;
  t.comment(`${tests} compliance tests, ${passed} assertions passed, ${databases} databases`);
  t.ok(passed >= EXPECTED_MIN_ASSERTIONS, `at least ${EXPECTED_MIN_ASSERTIONS} compliance assertions passed (got ${passed})`);
});
