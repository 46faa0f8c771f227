// The layer rule (cairn/layers in eslint.config.js) through ESLint's Node API: modules
// placed in lib/ folders import across layers, and the rule must reject each upward
// arrow and let each downward one through. `npm run lint` applies it to the real tree.
import t from 'tap';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The cairn/layers messages for `code` as if it were the file `file` (relative to the repository). */
async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${file}` });
  return result!.messages.filter((m) => m.ruleId === 'cairn/layers').map((m) => m.message);
}

t.test('an upward import fails lint, whatever its form', async (t) => {
  const upward: [file: string, code: string][] = [
    ['lib/keyspace/probe.ts', "import { backupTo } from '../checkpoint/checkpoint.js';\nexport { backupTo };\n"],
    ['lib/keyspace/probe.ts', "import type { Keyspace } from '../index.js';\nexport type { Keyspace };\n"],
    ['lib/tree/probe.ts', "export { Keyspace } from '../keyspace/keyspace.js';\n"],
    ['lib/layout/probe.ts', "export * from '../journal/record.js';\n"],
    ['lib/fs/probe.ts', "export const load = () => import('../layout/file-names.js');\n"],
    ['lib/checkpoint/probe.ts', "import '../backup/backup-engine.js';\n"],
    ['lib/cli/commands/probe.ts', "import '../../cli/command.js';\nimport '../../backup/index.js';\n"],
  ];
  for (const [file, code] of upward.slice(0, -1)) {
    const errors = await layerErrors(file, code);
    t.equal(errors.length, 1, `${file}: ${code.split('\n')[0]}`);
    t.match(errors[0], /may not import .*a higher layer/);
  }
  t.same(await layerErrors(...upward[upward.length - 1]!), [], 'the CLI may import anything (a nested folder counts as its top folder)');
});

t.test('a downward import, or one within a folder or between peers, passes', async (t) => {
  const fine: [file: string, code: string][] = [
    ['lib/checkpoint/probe.ts', "import type { CheckpointCut } from '../keyspace/checkpoint-source.js';\nimport { tempPathFor } from '../fs/durable.js';\nexport type { CheckpointCut };\nexport { tempPathFor };\n"],
    ['lib/keyspace/probe.ts', "import { Tree } from '../tree/tree.js';\nimport { journalFileName } from '../layout/file-names.js';\nimport { KeyspaceState } from './keyspace-state.js';\nexport { Tree, journalFileName, KeyspaceState };\n"],
    ['lib/tree/probe.ts', "import { applyChoice } from '../compaction/choice.js';\nexport { applyChoice };\n"],
    ['lib/compaction/probe.ts', "import type { VersionState } from '../tree/manifest.js';\nexport type { VersionState };\n"],
    ['lib/level/probe.ts', "import { Keyspace } from '../index.js';\nimport * as path from 'node:path';\nexport { Keyspace, path };\n"],
    ['lib/codec/probe.ts', "import { CairnError } from '../errors.js';\nexport { CairnError };\n"],
  ];
  for (const [file, code] of fine) t.same(await layerErrors(file, code), [], `${file}: ${code.split('\n')[0]}`);
});

t.test('folders of one layer that are not peers may not import each other', async (t) => {
  const errors = await layerErrors('lib/journal/probe.ts', "import { SegmentReader } from '../segment/segment-reader.js';\nexport { SegmentReader };\n");
  t.equal(errors.length, 1);
  t.match(errors[0], /lib\/journal\/ may not import lib\/segment\/.*same layer but not a peer/);
});

t.test('a new folder of lib/ must be placed in a layer first', async (t) => {
  const errors = await layerErrors('lib/shipping/probe.ts', 'export const x = 1;\n');
  t.match(errors, [/lib\/shipping\/ is in no layer/]);
  t.match(await layerErrors('lib/keyspace/probe.ts', "import '../shipping/x.js';\n"), [/lib\/shipping\/ is in no layer/]);
});

t.test('the rule holds for all of lib/ as it is', async (t) => {
  const results = await eslint.lintFiles(['lib/']);
  const layerProblems = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'cairn/layers').map((m) => `${r.filePath}: ${m.message}`));
  t.same(layerProblems, []);
  t.ok(results.length > 100, `it saw the whole tree (${results.length} files)`);
});
