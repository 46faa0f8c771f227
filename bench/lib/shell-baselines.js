// The shell baselines shared by the checkpoint and backup suites: `cp -al` / `cp -a` of a
// tree followed by a whole-system `sync`, timed as one wall-clock measurement, and the C
// floor (bench/floor.c) built once per suite run. Synchronous: they block the caller.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { benchDir } from './paths.js';

export const hrMs = (start) => Number(process.hrtime.bigint() - start) / 1e6;

// A dirty page cache left by the previous step would be flushed by whichever variant
// syncs first; every timed measurement starts from a clean one.
export function syncAll() {
  execFileSync('sync');
}

/** `cp <flag> src dst` then `sync`; returns wall milliseconds. dst must not exist. */
export function timeCopy(flag, src, dst) {
  const start = process.hrtime.bigint();
  const cp = spawnSync('cp', [flag, src, dst], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`cp ${flag} failed: ${cp.stderr}`);
  syncAll();
  return hrMs(start);
}

/** Compiles bench/floor.c into `work`; returns the binary's path. */
export function buildFloor(work) {
  const binary = path.join(work, 'floor');
  execFileSync('cc', ['-O2', '-pthread', '-o', binary, path.join(benchDir, 'floor.c')], { stdio: 'inherit' });
  return binary;
}

/** Runs the floor on prepared lists; returns the milliseconds it timed inside (links + dir fsyncs). */
export function runFloor(binary, pairsFile, dirsFile, expectedLinks) {
  const inner = JSON.parse(execFileSync(binary, [pairsFile, dirsFile], { encoding: 'utf8' }));
  if (inner.links !== expectedLinks) throw new Error(`floor linked ${inner.links} of ${expectedLinks}`);
  return inner.totalUs / 1e3;
}
