// Child process for lib/fs/index.ts tests: prints fileSystemKind(), the default's kind and
// whether the addon loaded, as one JSON line.
import { defaultFileSystem, fileSystemKind } from '../../lib/fs/index.js';
import { loadNative } from '../../lib/fs/native-binding.js';

process.stdout.write(`${JSON.stringify({ kind: fileSystemKind().kind, reason: fileSystemKind().reason, defaultKind: defaultFileSystem().kind, addonLoaded: loadNative() !== undefined })}\n`);
