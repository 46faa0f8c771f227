// Failures of background work. A bug (any error that is not a failed write or fsync) in a
// flush or a compaction is reported (ks.stats().lastBackgroundError and the
// onBackgroundError option), retried with back-off, never an unhandled rejection, and never
// poisons: writes go on. A failed fsync still poisons, and the poison says what failed.
import t from 'tap';
import * as nodePath from 'node:path';
import { Keyspace, type BackgroundError } from '../../lib/index.js';
import { ErrorCodes } from '../../lib/errors.js';
import type { FileHandle, OpenMode } from '../../lib/fs/file-system.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { scratchDir } from '../helpers/scratch.js';
import { until } from '../helpers/until.js';
import { unhandledRejections } from '../helpers/unhandled-rejections.js';

/**
 * The seam for a non-I/O failure: the Nth creation of a segment file (a flush's or a
 * merge's output) throws a TypeError, as a bug on that path would.
 */
class BuggyFileSystem extends NodeFileSystem {
  #countdown = 0;

  failNthSegmentCreation(n: number): void {
    this.#countdown = n;
  }

  override async open(path: string, mode: OpenMode): Promise<FileHandle> {
    if (mode === 'wx' && path.endsWith('.sst') && this.#countdown > 0 && --this.#countdown === 0) {
      throw new TypeError(`a bug while creating ${nodePath.basename(path)}`);
    }
    return super.open(path, mode);
  }
}

t.test('a bug in a flush is reported and retried; writes go on', async (t) => {
  const rejections = unhandledRejections(t);
  const dir = await scratchDir(t, 'bg-flush');
  const fs = new BuggyFileSystem();
  const reports: BackgroundError[] = [];
  const ks = await Keyspace.open(dir, { fs, onBackgroundError: (report) => reports.push(report) });
  t.teardown(() => ks.close());
  t.equal(ks.stats().lastBackgroundError, undefined, 'nothing to report yet');
  const p = await ks.partition('p');
  await p.put('a', '1');
  fs.failNthSegmentCreation(1);
  const before = Date.now();
  await t.rejects(ks.flush(), TypeError, 'the flush asked for reports the failed attempt');
  await until('the retried flush lands', () => ks.stats().partitions.p.segments === 1 && !ks.stats().partitions.p.flushing);
  const last = ks.stats().lastBackgroundError;
  t.match(last, { operation: 'flush', partition: 'p', message: /a bug while creating \d+\.sst/, attempt: 1 });
  t.ok(last!.cause instanceof TypeError, 'the error itself is the cause');
  t.ok(last!.time >= before && last!.time <= Date.now());
  t.ok(last!.retryInMs > 0);
  t.equal(reports.length, 1, 'onBackgroundError heard it once');
  t.equal(reports[0].cause, last!.cause);
  await p.put('b', '2');
  t.same(await p.get('a'), Buffer.from('1'));
  t.same(await p.get('b'), Buffer.from('2'));
  await ks.flush();
  t.equal(ks.stats().partitions.p.segments, 2, 'later flushes work');
  t.same(rejections, [], 'no unhandled rejection');
});

t.test('a bug in a compaction is reported and retried; writes go on', async (t) => {
  const rejections = unhandledRejections(t);
  const dir = await scratchDir(t, 'bg-compaction');
  const fs = new BuggyFileSystem();
  const reports: BackgroundError[] = [];
  const ks = await Keyspace.open(dir, { fs, compaction: { level0Trigger: 2 }, onBackgroundError: (report) => reports.push(report) });
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  await ks.flush();
  await p.put('b', '2');
  // The second flush's segment is created first, then the merge it starts creates its output.
  fs.failNthSegmentCreation(2);
  await ks.flush();
  await until('the retried merge drains level 0', () => ks.stats().partitions.p.compactionsDone === 1 && ks.stats().partitions.p.levels[0].segments === 0);
  t.equal(reports.length, 1);
  t.match(reports[0], { operation: 'compaction', partition: 'p', message: /a bug while creating/, attempt: 1 });
  t.match(ks.stats().lastBackgroundError, { operation: 'compaction' });
  await p.put('c', '3');
  for (const [k, v] of [['a', '1'], ['b', '2'], ['c', '3']]) t.same(await p.get(k), Buffer.from(v));
  t.same(rejections, [], 'no unhandled rejection');
});

t.test('a listener that throws does not take the process down', async (t) => {
  const rejections = unhandledRejections(t);
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const dir = await scratchDir(t, 'bg-throwing-listener');
  const fs = new BuggyFileSystem();
  const ks = await Keyspace.open(dir, {
    fs,
    onBackgroundError: () => {
      throw new Error('the listener is broken too');
    },
  });
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  fs.failNthSegmentCreation(1);
  await t.rejects(ks.flush(), TypeError);
  await until('the retried flush lands', () => ks.stats().partitions.p.segments === 1);
  await until('the warning is out', () => warnings.length > 0);
  t.match(warnings[0].message, /onBackgroundError threw/);
  t.same(rejections, []);
});

t.test('a failed fsync poisons, and the poison says what failed', async (t) => {
  const dir = await scratchDir(t, 'bg-poison');
  const fs = new FaultFileSystem(new NodeFileSystem());
  const ks = await Keyspace.open(dir, { fs });
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  fs.inject({ op: 'sync', path: '.sst', nth: 1, code: 'EIO' });
  await t.rejects(ks.flush(), { code: 'EIO', syscall: 'fsync' });
  const err = (await p.put('b', '2').catch((e: unknown) => e)) as Error;
  t.match(err, { code: ErrorCodes.POISONED, cause: { code: 'EIO' } });
  t.match(err.message, /flush of partition "p"/, 'names the operation');
  t.match(err.message, /segments\/\d+\.sst/, 'names the file');
  t.match(err.message, /EIO/, 'names the failure');
  t.equal(ks.stats().lastBackgroundError, undefined, 'a disk failure is a poison, not a retried background error');
});
