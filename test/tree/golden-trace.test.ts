// A flush and the install of the version it makes, as a golden trace of FileSystem calls
// (testdata/flush-install.trace), beside the checkpoint protocols' (test/checkpoint/
// testdata): the segment written and made durable, then the new manifest and CURRENT
// (each atomically), then the old manifest removed. CAIRN_UPDATE_GOLDEN=1 rewrites it.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { goldenTracer, matchesGolden } from '../helpers/golden-trace.js';

t.test('a flush installs its segment with exactly the golden sequence of file-system calls', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cairn-golden-flush-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const tracer = goldenTracer(root);
  const ks = await Keyspace.open(join(root, 'ks'), { fs: tracer.fs });
  const users = await ks.partition('users');
  for (let i = 0; i < 20; i++) await users.put(`user${i}`, `name${i}`);
  await ks.flush();
  for (let i = 20; i < 30; i++) await users.put(`user${i}`, `name${i}`);
  await users.delete('user3');
  await tracer.start();

  await ks.flush();
  const lines = await tracer.lines();
  await matchesGolden(t, new URL('testdata/flush-install.trace', import.meta.url), lines);

  // Whatever else changes: the segment is durable before any manifest names it, and the
  // manifest before CURRENT names it; the old manifest goes only after CURRENT moved.
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const segmentSynced = at(/^sync <root>\/ks\/partitions\/users\/segments\/000004\.sst/);
  const manifestRenamed = at(/^rename .*MANIFEST-000005\.tmp-<staging> -> /);
  const currentRenamed = at(/^rename .*CURRENT\.tmp-<staging> -> /);
  t.ok(segmentSynced >= 0 && segmentSynced < manifestRenamed, 'segment durable before the manifest');
  t.ok(manifestRenamed < currentRenamed, 'manifest in place before CURRENT');
  t.ok(currentRenamed < at(/^unlink .*MANIFEST-000003$/), 'the old manifest is removed after CURRENT moved');
  t.same(ks.stats().partitions.users.segments, 2);
  await ks.close();
});
