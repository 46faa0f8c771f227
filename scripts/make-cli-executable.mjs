// Runs after `npm run build`: marks the compiled `cairn` entry (package.json "bin")
// executable, which tsc does not do. Idempotent; single process.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
