// Entry point of a WorkerPool thread: imports each job kind's module on first use and
// runs the jobs the pool sends (one at a time: the pool never sends a second before the
// first is answered), answering each with its result or a serialized error.
import { parentPort } from 'node:worker_threads';
import type { JobContext, JobModule } from './worker-pool.js';
import { type WorkerRequest, type WorkerResponse, serializeError } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('worker-entry must run as a worker thread');

const running = new Map<number, AbortController>();

port.on('message', (request: WorkerRequest) => {
  if (request.type === 'abort') running.get(request.id)?.abort();
  else void handle(request).then((response) => port.postMessage(response));
});

async function handle({ id, kind, payload }: Extract<WorkerRequest, { type: 'run' }>): Promise<WorkerResponse> {
  const controller = new AbortController();
  running.set(id, controller);
  const context: JobContext = {
    signal: controller.signal,
    progress: (value) => port!.postMessage({ id, progress: value } satisfies WorkerResponse),
  };
  try {
    const module = (await import(kind)) as JobModule<unknown, unknown>;
    if (typeof module.run !== 'function') throw new TypeError(`job module ${kind} exports no run function`);
    return { id, ok: true, result: await module.run(payload, context) };
  } catch (err) {
    return { id, ok: false, error: serializeError(err) };
  } finally {
    running.delete(id);
  }
}
