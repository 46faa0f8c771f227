// Conformance of the pure-TypeScript NodeFileSystem, plus what only it does (pid-stamp locks).
import t from 'tap';
import * as nodePath from 'node:path';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { runConformance } from './conformance.js';

runConformance(t, 'node', () => new NodeFileSystem());

t.test('node: a stale pid stamp is taken over, a live one is not', async (t) => {
  const fs = new NodeFileSystem();
  const d = t.testdir({ 'LOCK.pid': `${process.ppid} 00` });
  const p = nodePath.join(d, 'LOCK');
  await t.rejects(fs.lock(p), { code: 'CAIRN_LOCKED' }, 'a stamp naming a live process (our parent) holds');
  await fs.writeFile(`${p}.pid`, '2147483646 00');
  const held = await fs.lock(p);
  t.match((await fs.readFile(`${p}.pid`)).toString(), new RegExp(`^${process.pid} `), 'the stamp now names us');
  await held.unlock();
  t.equal(await fs.statOrUndefined(`${p}.pid`), undefined, 'unlock removes our stamp');
  t.same(await fs.readdir(d), ['LOCK'], 'no draft stamps left behind');
});
