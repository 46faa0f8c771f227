// Lint configuration: typescript-eslint's recommended rules over lib/, test/ and bench/,
// the file-system seam rule (nothing above lib/fs/ imports node:fs) and the layer rule
// (cairn/layers: no import in lib/ points up; the table is LAYERS, the map in docs/design.md).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LIB = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib');

/**
 * The layers of lib/, top first. A module may import from its own folder and from any
 * layer below its own; from another folder of its own layer only when the two are PEERS.
 * Folders are named by their directory under lib/; `index`, `errors` and `demo` are the
 * files lib/index.ts (the package face), lib/errors.ts and lib/demo.ts.
 */
const LAYERS = [
  ['cli', 'demo'],
  ['backup', 'level'],
  ['index'],
  ['checkpoint', 'inspect'],
  ['keyspace'],
  ['tree', 'compaction'],
  ['journal', 'memtable', 'segment'],
  ['layout'],
  ['workers'],
  ['fs'],
  ['codec', 'errors'],
];

/** Folders of one layer that use each other (a tree schedules compactions, a merge writes tree manifests). */
const PEERS = [['tree', 'compaction'], ['codec', 'errors']];

/** Layers that are single files of lib/ rather than folders. */
const FILES = new Set(['index', 'errors', 'demo']);
const show = (folder) => (FILES.has(folder) ? `lib/${folder}.ts` : `lib/${folder}/`);

const rankOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, LAYERS.length - i])));
const peers = new Set(PEERS.flatMap(([a, b]) => [`${a}>${b}`, `${b}>${a}`]));

/** The folder (or top-level file, without extension) of lib/ that `file` belongs to; undefined outside lib/. */
function folderOf(file) {
  const rel = path.relative(LIB, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const [first, ...rest] = rel.split(path.sep);
  return rest.length === 0 ? first.replace(/\.[cm]?[jt]s$/, '') : first;
}

const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Modules of lib/ import only from their own folder, peers of their layer, and layers below (eslint.config.js LAYERS).' },
    schema: [],
    messages: {
      upward: "{{from}} may not import {{to}} ('{{source}}'): it is {{where}} (see LAYERS in eslint.config.js and the map in docs/design.md)",
      unknown: '{{folder}} is in no layer: add it to LAYERS in eslint.config.js and to the map in docs/design.md',
    },
  },
  create(context) {
    const from = folderOf(context.filename);
    if (from === undefined) return {};
    if (!rankOf.has(from)) {
      return { Program: (node) => context.report({ node, messageId: 'unknown', data: { folder: show(from) } }) };
    }
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = folderOf(path.resolve(path.dirname(context.filename), source));
      if (to === undefined || to === from) return;
      const fromRank = rankOf.get(from);
      const toRank = rankOf.get(to);
      if (toRank === undefined) {
        context.report({ node, messageId: 'unknown', data: { folder: show(to) } });
      } else if (toRank > fromRank || (toRank === fromRank && !peers.has(`${from}>${to}`))) {
        const where = toRank > fromRank ? 'a higher layer' : 'in the same layer but not a peer';
        context.report({ node, messageId: 'upward', data: { from: show(from), to: show(to), source, where } });
      }
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

const seamMessage = 'Go through the FileSystem seam (lib/fs/).';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'build-cmake/', 'prebuilds/', 'node_modules/', 'bench/node_modules/', 'bench/.work/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setImmediate: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', queueMicrotask: 'readonly', performance: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    plugins: { cairn: { rules: { layers: layersRule } } },
    rules: { 'cairn/layers': 'error' },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/fs/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [
        { name: 'node:fs', message: seamMessage },
        { name: 'fs', message: seamMessage },
        { name: 'node:fs/promises', message: seamMessage },
        { name: 'fs/promises', message: seamMessage },
        { name: 'fs-extra', message: seamMessage },
      ] }],
    },
  },
);
