// The built package's types as a user gets them (dist/*.d.ts, after `npm run build`):
// every name test/exported-types.test.ts imports from lib/'s entry files must import by
// package name ('cairn', 'cairn/backup', 'cairn/level'); every export must be in that list;
// and every named type the exported API mentions must itself be exported, so a caller can
// name whatever it passes or receives. Read-only over dist/; safe to run in parallel.
import t from 'tap';
import * as path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');
const typedTest = path.join(root, 'test', 'exported-types.test.ts');
/** Entry file imported by the typed test → the package specifier a user writes. */
const entries = new Map([
  ['../lib/index.js', 'cairn'],
  ['../lib/backup/index.js', 'cairn/backup'],
  ['../lib/level/index.js', 'cairn/level'],
]);

/** The names the typed test imports, per package specifier. */
function importedNames(): Map<string, string[]> {
  const source = ts.createSourceFile(typedTest, readFileSync(typedTest, 'utf8'), ts.ScriptTarget.ES2022);
  const names = new Map<string, string[]>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const specifier = entries.get(statement.moduleSpecifier.text);
    const bindings = statement.importClause?.namedBindings;
    if (specifier === undefined || bindings === undefined || !ts.isNamedImports(bindings)) continue;
    names.set(specifier, [...(names.get(specifier) ?? []), ...bindings.elements.map((e) => e.name.text)]);
  }
  return names;
}

/** A program holding one in-memory file that imports `names` by package name. */
function probeProgram(names: Map<string, string[]>): { program: ts.Program; probe: string } {
  const probe = path.join(root, 'published-types-probe.ts');
  const text = [...names].map(([specifier, list]) => `import type { ${list.join(', ')} } from '${specifier}';\n`).join('');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) =>
    file === probe ? ts.createSourceFile(file, text, language) : getSourceFile(file, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === probe || fileExists(file);
  return { program: ts.createProgram([probe], options, host), probe };
}

if (!existsSync(path.join(root, 'dist', 'index.d.ts'))) throw new Error('dist/index.d.ts is missing: run `npm run build` first');
const names = importedNames();
const { program, probe } = probeProgram(names);

t.test('the typed test imports every export, and each resolves from the built package', async (t) => {
  t.same([...names.keys()].sort(), [...entries.values()].sort(), 'the typed test imports from all three entry points');
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.same(diagnostics, [], 'every imported name is exported by the built package');

  const checker = program.getTypeChecker();
  const probeFile = program.getSourceFile(probe)!;
  for (const statement of probeFile.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
    const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
    const file = module?.valueDeclaration?.getSourceFile().fileName;
    t.ok(file?.startsWith(path.join(root, 'dist') + path.sep), `${specifier} resolves into dist/ (${file})`);
    const exported = module === undefined ? [] : checker.getExportsOfModule(module).map((s) => s.name);
    const untested = exported.filter((name) => !names.get(specifier)!.includes(name));
    t.same(untested, [], `every export of ${specifier} is used by test/exported-types.test.ts`);
  }
});

t.test('every named type the public API mentions is exported', async (t) => {
  const checker = program.getTypeChecker();
  const exported = new Set<ts.Symbol>();
  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  for (const statement of program.getSourceFile(probe)!.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
    for (const s of module === undefined ? [] : checker.getExportsOfModule(module)) exported.add(resolve(s));
  }
  const dist = path.join(root, 'dist') + path.sep;
  const unexported = new Map<string, string>();
  const queue = [...exported];
  const seen = new Set<ts.Symbol>();
  const reached = new Set<string>();
  const reference = (node: ts.Node, from: ts.Symbol): void => {
    let name: ts.Node | undefined;
    if (ts.isTypeReferenceNode(node)) name = node.typeName;
    else if (ts.isExpressionWithTypeArguments(node)) name = node.expression;
    else if (ts.isTypeQueryNode(node)) name = node.exprName;
    const target = name === undefined ? undefined : checker.getSymbolAtLocation(name);
    const declaration = target === undefined ? undefined : resolve(target).declarations?.[0];
    if (target !== undefined && declaration !== undefined && declaration.getSourceFile().fileName.startsWith(dist)) {
      const symbol = resolve(target);
      if (!(symbol.flags & ts.SymbolFlags.TypeParameter)) {
        reached.add(symbol.name);
        if (!exported.has(symbol) && !unexported.has(symbol.name)) unexported.set(symbol.name, from.name);
        queue.push(symbol);
      }
    }
    ts.forEachChild(node, (child) => reference(child, from));
  };
  // Members a user cannot reach: #private, private/protected, @internal, and _underscored
  // (abstract-level's implementation hooks and cairn's internal cross-class calls).
  const hidden = (member: ts.ClassElement): boolean =>
    (member.name !== undefined && (ts.isPrivateIdentifier(member.name) || member.name.getText().startsWith('_'))) ||
    (ts.getCombinedModifierFlags(member as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 ||
    ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'internal');
  while (queue.length > 0) {
    const symbol = queue.pop()!;
    if (seen.has(symbol)) continue;
    seen.add(symbol);
    for (const declaration of symbol.declarations ?? []) {
      if (!ts.isClassDeclaration(declaration)) {
        reference(declaration, symbol);
        continue;
      }
      for (const member of declaration.members) if (!hidden(member)) reference(member, symbol);
      for (const clause of declaration.heritageClauses ?? []) reference(clause, symbol);
    }
  }
  // Through an option's property (KeyspaceOptions.fs), a union (CompactionOptions) and a method's result (FileSystem.open).
  t.ok(['FileSystem', 'LeveledConfig', 'FileHandle'].every((name) => reached.has(name)), 'the walk follows members, unions and signatures');
  t.same(
    [...unexported].map(([name, from]) => `${name} (used by ${from})`).sort(),
    [],
    'no unexported type is reachable from the exported API',
  );
});
