// Describes the machine a benchmark ran on, for results/*.json and RESULTS.md.
// Synchronous (reads /proc/mounts, runs `git rev-parse`); call once per suite run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The mount whose mount point is the longest prefix of `dir` holds it; statfs's magic
// number cannot tell ext4 from ext2/ext3, /proc/mounts can.
function fileSystemOf(dir) {
  let best = { mountPoint: '', type: 'unknown', device: 'unknown' };
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return best;
  }
  const target = path.resolve(dir);
  for (const line of mounts.split('\n')) {
    const [device, rawMountPoint, type] = line.split(' ');
    if (!rawMountPoint) continue;
    const mountPoint = rawMountPoint.replace(/\\040/g, ' ');
    const inside = target === mountPoint || target.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && mountPoint.length >= best.mountPoint.length) best = { mountPoint, type, device };
  }
  return best;
}

function gitCommit(cwd) {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Machine facts for a benchmark report; `workDir` is where the benchmark's files live. */
export function machineInfo(workDir, repoRoot) {
  const cpus = os.cpus();
  const fsInfo = fileSystemOf(workDir);
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cpuCount: cpus.length,
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    // Benchmarks on a shared machine are only as quiet as its load; say how busy it was.
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
    workDir,
    workDirFs: fsInfo.type,
    workDirDevice: fsInfo.device,
    workDirMount: fsInfo.mountPoint,
    gitCommit: gitCommit(repoRoot),
  };
}

/** One line for a table header: "node v20 · AMD EPYC ×2 · linux 6.x · ext4". */
export function machineSummary(info) {
  return `node ${info.node} · ${info.cpuModel} ×${info.cpuCount} · kernel ${info.kernel} · work dir on ${info.workDirFs} (${info.workDirDevice}) · load ${info.loadAverage.join('/')} (1/5/15 min) · ${info.date} · commit ${info.gitCommit}`;
}
