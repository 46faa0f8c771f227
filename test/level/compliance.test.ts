// abstract-level's own compliance suite (tape) run in-process against CairnLevel, each
// factory call a fresh keyspace in its own directory. Every tape assertion is mirrored as a
// tap assertion, so one compliance failure fails this file.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import t from 'tap';
import tape from 'tape';
import { CairnLevel } from '../../lib/level/index.js';

/** What abstract-level 3.1.1's suite runs for this adapter's manifest; fewer means tests went missing. */
const EXPECTED_MIN_TESTS = 1443;
const EXPECTED_MIN_ASSERTIONS = 4670;

interface TapeRow {
  type: 'test' | 'assert' | 'end';
  id?: number;
  test?: number;
  name?: string;
  ok?: boolean;
  operator?: string;
  actual?: unknown;
  expected?: unknown;
}

const require = createRequire(import.meta.url);
const suite = require('abstract-level/test') as (options: { test: unknown; factory: (options?: object) => unknown }) => void;

t.test('abstract-level compliance suite', async (t) => {
  // The suite creates about 950 keyspaces, each creation fsyncing: shared memory halves the run where there is one.
  const root = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'cairn-level-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const databases: CairnLevel[] = [];
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
      t.ok(row.ok === true, name, row.ok === true ? {} : { operator: row.operator, found: row.actual, wanted: row.expected });
    }
  });
  suite({
    test: harness,
    factory: (options) => {
      const db = new CairnLevel(path.join(root, `db-${databases.length}`), options);
      databases.push(db);
      return db;
    },
  });
  await finished;
  // Some compliance tests leave their database open, a few with listeners that reopen it on
  // 'closed'; two leave it deliberately locked open, which the process exit settles.
  for (const db of databases) db.removeAllListeners();
  await Promise.allSettled(databases.map((db) => db.close()));
  t.comment(`${tests} compliance tests, ${passed} assertions passed, ${databases.length} databases`);
  t.ok(tests >= EXPECTED_MIN_TESTS, `at least ${EXPECTED_MIN_TESTS} compliance tests ran (got ${tests})`);
  t.ok(passed >= EXPECTED_MIN_ASSERTIONS, `at least ${EXPECTED_MIN_ASSERTIONS} compliance assertions passed (got ${passed})`);
});
