// `npm run prebuild`: builds prebuilds/<platform>-<arch>/ with prebuildify (--napi --strip).
// npm also runs a script named "prebuild" before every `npm run build`, so when the
// prebuild is already newer than every native source this does nothing; --force rebuilds.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const inputs = ['binding.gyp', 'CMakeLists.txt', 'native/sources.txt', ...readdirSync(join(root, 'native')).map((n) => `native/${n}`)];
const newestInput = Math.max(...inputs.map((f) => statSync(join(root, f)).mtimeMs));
const built = existsSync(prebuildDir) ? readdirSync(prebuildDir).filter((n) => n.endsWith('.node')) : [];
const oldestBuilt = built.length === 0 ? 0 : Math.min(...built.map((n) => statSync(join(prebuildDir, n)).mtimeMs));

if (!process.argv.includes('--force') && built.length > 0 && oldestBuilt >= newestInput) {
  console.log(`prebuild: ${built.join(', ')} is newer than the native sources; nothing to do (--force rebuilds)`);
} else {
  // Offline machines build against the system's Node headers (see README).
  if (process.env.npm_config_nodedir === undefined && existsSync('/usr/include/node/node_api.h')) process.env.npm_config_nodedir = '/usr';
  execFileSync('npx', ['prebuildify', '--napi', '--strip'], { cwd: root, stdio: 'inherit', env: process.env });
}
