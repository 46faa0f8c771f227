// The peer stores (classic-level, lmdb) live in bench/package.json, never in cairn's own
// dependencies. Installs them on first use. Called once per run, before any child starts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { benchDir } from './paths.js';

const peers = ['classic-level', 'lmdb'];

export function ensurePeers() {
  const missing = peers.filter((name) => !existsSync(path.join(benchDir, 'node_modules', name, 'package.json')));
  if (missing.length === 0) return;
  process.stdout.write(`installing benchmark peers (${missing.join(', ')}): npm install --prefix bench\n`);
  execFileSync('npm', ['install', '--prefix', benchDir, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  const still = peers.filter((name) => !existsSync(path.join(benchDir, 'node_modules', name, 'package.json')));
  if (still.length > 0) throw new Error(`benchmark peers still missing after npm install: ${still.join(', ')}`);
}
