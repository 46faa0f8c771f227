// Test helper: runs a plain-JS child script (which imports the compiled dist/) in a fresh
// Node process. Starts in milliseconds, unlike a TypeScript child, so tests that spawn
// many children (crash rounds) stay fast. `npm test` builds dist/ before running tap.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export function spawnDist(script: string, args: readonly string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}
