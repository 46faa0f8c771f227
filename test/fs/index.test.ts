// lib/fs/index.ts: the default file system follows the addon and CAIRN_NATIVE (decided per process).
import t from 'tap';
import { defaultFileSystem, fileSystemKind, NodeFileSystem, NativeFileSystem, FaultFileSystem, writeFileAtomic } from '../../lib/fs/index.js';
import { loadNative } from '../../lib/fs/native-binding.js';
import { exited, firstLine, scriptPath, spawnTs } from '../helpers/spawn-ts.js';

const PRINT_KIND = scriptPath(import.meta.url, '../helpers/print-fs-kind.ts');

t.test('the default is native when the addon loads, and stays the same instance', async (t) => {
  const expected = process.env.CAIRN_NATIVE !== '0' && loadNative() !== undefined ? 'native' : 'node';
  t.equal(fileSystemKind().kind, expected);
  t.equal(defaultFileSystem().kind, expected);
  t.equal(defaultFileSystem(), defaultFileSystem());
  t.ok(defaultFileSystem() instanceof (expected === 'native' ? NativeFileSystem : NodeFileSystem));
});

t.test('CAIRN_NATIVE=0 selects NodeFileSystem; the addon still loads when asked for by name', async (t) => {
  const child = spawnTs(PRINT_KIND, [], { CAIRN_NATIVE: '0' });
  t.same(JSON.parse(await firstLine(child)), { kind: 'node', reason: 'CAIRN_NATIVE=0', defaultKind: 'node', addonLoaded: loadNative() !== undefined });
  await exited(child);
});

t.test('CAIRN_NATIVE unset selects NativeFileSystem exactly when the addon loads', async (t) => {
  const child = spawnTs(PRINT_KIND, [], { CAIRN_NATIVE: '' });
  const reported = JSON.parse(await firstLine(child)) as { kind: string; reason: string; defaultKind: string; addonLoaded: boolean };
  await exited(child);
  const expected = reported.addonLoaded ? { kind: 'native', reason: 'addon loaded' } : { kind: 'node', reason: 'addon failed to load' };
  t.match(reported, { ...expected, defaultKind: expected.kind });
  t.equal(reported.addonLoaded, loadNative() !== undefined, 'the child sees the same addon as this process');
});

t.test('the face re-exports the implementations and helpers', async (t) => {
  t.type(FaultFileSystem, 'function');
  t.type(writeFileAtomic, 'function');
});
