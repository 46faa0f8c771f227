// The backupTo protocol as a golden trace of FileSystem calls (testdata/backup-to.trace):
// a changed protocol shows up as a readable diff. CAIRN_UPDATE_GOLDEN=1 rewrites the file.
// Background journal work (sealing the cut file, creating the next spare) runs concurrently
// with the checkpoint's own calls, so it is listed per file; only that is normalised.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem, replaceRoot } from '../../lib/fs/fault-file-system.js';
import { defaultFileSystem } from '../../lib/fs/index.js';
import type { FileSystem } from '../../lib/fs/file-system.js';
import { dump, dumpDir, plain, tempDir } from './fixtures/checkpoint-fixtures.js';

const GOLDEN = new URL('testdata/backup-to.trace', import.meta.url);

/** Reads of data and handle closes say nothing about the protocol; everything else is kept. */
const NOISE = /^(read|readFile|fstat|readdir|close) /;

/**
 * Wraps a file system (and the handles it opens) to count calls in flight, so the test can
 * wait until background work has settled before and after the call under test.
 */
function tracked(inner: FileSystem): { fs: FileSystem; settled(): Promise<void> } {
  let inflight = 0;
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, prop) {
        const value: unknown = Reflect.get(obj, prop, obj);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const out: unknown = value.apply(obj, args);
          if (!(out instanceof Promise)) return out;
          inflight++;
          return out.then(
            (v: unknown) => {
              inflight--;
              return prop === 'open' ? wrap(v as object) : v;
            },
            (err: unknown) => {
              inflight--;
              throw err;
            },
          );
        };
      },
    });
  return {
    fs: wrap(inner),
    // A continuation issues its next call in the microtasks right after the previous one
    // resolves, so several quiet event-loop turns in a row mean nothing is left running.
    async settled() {
      for (let quiet = 0; quiet < 5; ) {
        await new Promise((r) => setImmediate(r));
        quiet = inflight === 0 ? quiet + 1 : 0;
      }
    },
  };
}

/**
 * Splits the trace into the source journal's background calls (those only on its files
 * or directory), grouped per file in file order (a `syncDir` of the journal directory
 * belongs to the spare file created just before it), and the checkpoint's own calls, all
 * the rest, in issue order. A batch header goes with its first item.
 */
function normalise(lines: string[]): string[] {
  const own: string[] = [];
  const byFile = new Map<string, string[]>();
  let lastCreated = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const about = /^\w+Batch \[|^syncDirs \[/.test(line) ? (lines[i + 1] ?? '') : line;
    if (!about.includes('<root>/src/journal') || about.includes('<root>/backups')) {
      own.push(line);
      continue;
    }
    const file = /<root>\/src\/journal\/\d+\.jnl/.exec(line)?.[0];
    if (file !== undefined && / \(wx\)$/.test(line)) lastCreated = file;
    const key = file ?? lastCreated;
    byFile.set(key, [...(byFile.get(key) ?? []), line]);
  }
  const background = [...byFile.keys()].sort().flatMap((k) => byFile.get(k)!);
  return ['## the checkpoint, in issue order', ...own, '## the source journal in the background, per file', ...background];
}

t.test('backupTo makes exactly the golden sequence of file-system calls', async (t) => {
  const root = await tempDir(t, 'cairn-golden-');
  const { fs: inner, settled } = tracked(defaultFileSystem());
  const rewrite = replaceRoot(root);
  const fs = new FaultFileSystem(inner, { rewritePath: (p) => rewrite(p).replace(/\.tmp-[0-9a-f]+/, '.tmp-<staging>') });
  const ks = await Keyspace.open(join(root, 'src'), { fs });
  const users = await ks.partition('users');
  const orders = await ks.partition('orders');
  for (let i = 0; i < 20; i++) {
    await users.put(`user${i}`, `name${i}`);
    await orders.put(`order${i}`, `amount${i * 7}`);
  }
  await users.delete('user3');
  await ks.flush();
  for (let i = 0; i < 5; i++) await users.put(`late${i}`, `v${i}`);
  await settled();
  fs.clearTrace();

  const dest = join(root, 'backups', 'daily', 'cp');
  const info = await ks.backupTo(dest);
  await settled();
  const raw = fs.trace().filter((l) => !NOISE.test(l));
  const actual = `${normalise(raw).join('\n')}\n`;

  if (process.env.CAIRN_UPDATE_GOLDEN === '1') {
    await writeFile(GOLDEN, actual);
    t.comment('golden trace rewritten');
  }
  t.equal(actual, await readFile(GOLDEN, 'utf8'), 'the trace matches testdata/backup-to.trace');

  // Orderings across the concurrent parts that the normalisation hides: the sealed journal
  // is durable before it is linked, and everything in staging is synced before the rename.
  const at = (re: RegExp) => raw.findIndex((l) => re.test(l));
  const sealed = at(/^datasync <root>\/src\/journal\//);
  t.ok(sealed >= 0 && sealed < at(/^linkBatch /), 'the cut journal is fdatasynced before any link');
  const rename = at(/^rename /);
  t.ok(rename > 0 && raw.findLastIndex((l) => /^(sync|syncDir) .*tmp-<staging>/.test(l)) < rename, 'staging is synced before the rename');
  t.equal(raw.findLastIndex((l) => l.includes('<root>/backups')), raw.lastIndexOf('syncDir <root>/backups/daily'), 'the parent is synced after the rename, last');
  t.same(plain((await dumpDir(dest)).data), plain(await dump(ks)), 'and the checkpoint it made is right');
  t.equal(info.filesLinked, 3);
  await ks.close();
});
