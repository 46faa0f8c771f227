// Test helper: runs a TypeScript script in a child Node process through the same TS
// loader tap uses (test/helpers/ts-loader.mjs), without tap's own hooks or env.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Spawns `node --import <tap's TS loader> script ...args` with TAP variables removed. */
export function spawnTs(script: string, args: readonly string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const loader = import.meta.resolve('./ts-loader.mjs');
  const cleanEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(TAP|_TAPJS)/.test(key)) cleanEnv[key] = value;
  }
  return spawn(process.execPath, ['--import', loader, script, ...args], {
    env: { ...cleanEnv, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** The path of a script beside the calling module, e.g. scriptPath(import.meta.url, 'lock-child.ts'). */
export function scriptPath(from: string, name: string): string {
  return fileURLToPath(new URL(name, from));
}

/** Resolves with the first stdout line the child prints; rejects if it exits first. */
export function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(out.slice(0, nl));
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`child exited (${code}) before printing a line: ${err}`));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
