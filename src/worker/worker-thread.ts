/**
 * Entry point of a data-plane worker thread (`workerMode: thread`): the same
 * worker as a cluster process, talking to the primary over its parent port.
 * Signals reach only the main thread; the primary drains threads by message.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createLogger, resolveLogFormat } from '../log.js';
import { runWorker, type PrimaryChannel } from './worker-process.js';

export interface WorkerThreadData {
  readonly logLevel: string;
  readonly logFormat?: string;
}

const port = parentPort;
if (!port) throw new Error('worker-thread.ts runs only as a worker thread');
const data = workerData as WorkerThreadData;
const channel: PrimaryChannel = {
  send: (message) => port.postMessage(message),
  onMessage: (handler) => void port.on('message', handler),
  onGone: (handler) => void port.on('close', handler),
  reusePort: true,
};
const log = createLogger({ level: data.logLevel, format: resolveLogFormat(data.logFormat || undefined), base: { role: 'worker', worker: threadId } });
const worker = runWorker(log, channel);
// Test-only, as in main.ts: the main thread's SIGUSR2 reaches threads by message.
if (process.env.UCGATE_MEMORY_PROBE_DIR) {
  const { probeOnRequest } = await import('../debug/memory-probe.js');
  probeOnRequest(process.env.UCGATE_MEMORY_PROBE_DIR);
}
// In a worker thread process.exit() ends the thread only (its exit code reaches the pool).
void worker.finished.then(() => process.exit(0));
