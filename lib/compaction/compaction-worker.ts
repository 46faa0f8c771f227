// Entry point of a compaction worker thread (started by worker-pool.ts): runs merge and
// flush jobs with its own default FileSystem, one job at a time as the pool sends them,
// and answers each with its result or a serialized error. Aborts arrive as messages.
import { parentPort } from 'node:worker_threads';
import { defaultFileSystem } from '../fs/index.js';
import { unpackEntries } from './packed-entries.js';
import { runFlush, runMerge } from './run-merge.js';
import { type WorkerRequest, type WorkerResponse, serializeError } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('compaction-worker.ts must run as a worker thread');

const fs = defaultFileSystem();
const running = new Map<number, AbortController>();

port.on('message', (request: WorkerRequest) => {
  if (request.type === 'abort') {
    running.get(request.id)?.abort();
    return;
  }
  void handle(request).then((response) => port.postMessage(response));
});

async function handle(request: Exclude<WorkerRequest, { type: 'abort' }>): Promise<WorkerResponse> {
  const controller = new AbortController();
  running.set(request.id, controller);
  try {
    if (request.type === 'merge') {
      return { id: request.id, ok: true, merged: await runMerge(fs, { ...request.job, signal: controller.signal }) };
    }
    return { id: request.id, ok: true, flushed: await runFlush(fs, unpackEntries(request.packed), request.file, { ...request.options, signal: controller.signal }) };
  } catch (err) {
    return { id: request.id, ok: false, error: serializeError(err) };
  } finally {
    running.delete(request.id);
  }
}
