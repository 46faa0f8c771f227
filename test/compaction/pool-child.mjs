// Child process of worker-pool.test.ts, in plain JS over the compiled dist/ (so the pool
// starts its worker from compaction-worker.js): runs one flush through a pool it never
// closes, prints "done", and must then exit on its own (idle workers are unref'd).
import path from 'node:path';
import { CompactionWorkerPool } from '../../dist/compaction/worker-pool.js';

const pool = new CompactionWorkerPool({ size: 1 });
const meta = await pool.flush([{ key: Buffer.from('k'), seqno: 1, kind: 1, value: Buffer.from('v') }], path.join(process.argv[2], '000001.sst'));
console.log(meta.entryCount === 1 && Buffer.isBuffer(meta.minKey) ? 'done' : 'wrong');
