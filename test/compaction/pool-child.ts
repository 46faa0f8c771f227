// Child process for worker-pool.test.ts: runs one flush through a pool it never closes,
// prints "done", and must then exit on its own (idle workers are unref'd).
import path from 'node:path';
import { EntryKind } from '../../lib/codec/entry.js';
import { CompactionWorkerPool } from '../../lib/compaction/worker-pool.js';

const pool = new CompactionWorkerPool({ size: 1 });
const meta = await pool.flush([{ key: Buffer.from('k'), seqno: 1, kind: EntryKind.Put, value: Buffer.from('v') }], path.join(process.argv[2], '000001.sst'));
console.log(meta.entryCount === 1 ? 'done' : 'wrong');
