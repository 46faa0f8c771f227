// Child process for cross-process lock tests. Usage: lock-child.ts <node|native> <hold|try> <path>.
// hold: takes the lock, prints "locked", and keeps it until killed or stdin closes (then
// exits without unlocking). try: attempts the lock and prints "locked" or the error code.
import type { FileSystem } from '../../lib/fs/file-system.js';

const [kind, mode, path] = process.argv.slice(2);

async function fileSystem(): Promise<FileSystem> {
  if (kind === 'native') return new (await import('../../lib/fs/native-file-system.js')).NativeFileSystem();
  return new (await import('../../lib/fs/node-file-system.js')).NodeFileSystem();
}

const fs = await fileSystem();
try {
  await fs.lock(path as string);
  process.stdout.write('locked\n');
  if (mode === 'hold') {
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  }
} catch (err) {
  process.stdout.write(`${(err as { code?: string }).code ?? 'ERROR'}\n`);
}
