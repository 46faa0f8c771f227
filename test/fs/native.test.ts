// Conformance of the addon-backed NativeFileSystem. The addon must load here: a missing
// or broken build fails this file rather than skipping it.
import t from 'tap';
import { loadNative } from '../../lib/fs/native-binding.js';
import { NativeFileSystem } from '../../lib/fs/native-file-system.js';
import { runConformance } from './conformance.js';

t.ok(loadNative(), 'the native addon loads (build it with `npm run build:native`)');
t.equal(new NativeFileSystem().kind, 'native');
runConformance(t, 'native', () => new NativeFileSystem());
