// Where the benchmarks find the compiled library and keep scratch data (bench/.work/,
// gitignored). Scratch directories are per process, so concurrent runs do not collide.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { emptyDir, remove } from 'fs-extra/esm';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');
export const distDir = path.join(repoRoot, 'dist');
export const workRoot = path.join(benchDir, '.work');

/** Imports `dist/<relative>`; throws a readable error naming the build step when it is missing. */
export async function importDist(relative) {
  const file = path.join(distDir, relative);
  if (!existsSync(file)) throw new Error(`${path.relative(repoRoot, file)} is missing: run \`npm run build\` first`);
  return import(pathToFileURL(file).href);
}

/** A fresh, empty scratch directory bench/.work/<name>-<pid>. */
export async function scratchDir(name) {
  const dir = path.join(workRoot, `${name}-${process.pid}`);
  await emptyDir(dir);
  return dir;
}

export async function removeScratch(dir) {
  await remove(dir);
}
