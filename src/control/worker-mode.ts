/**
 * Whether the data-plane workers run as threads of the primary's process or
 * as processes of their own (node:cluster).
 *
 * Threads share one copy of Node: the binary's code pages (about 55 MB
 * resident per process on Node 24), the allocator and the process itself, so
 * two workers as threads hold much less than two worker processes
 * (docs/performance.md). Each thread accepts on the listening ports itself
 * (SO_REUSEPORT), so no connection is handed over by the primary. A thread
 * cannot be given another thread's socket, so where listeners cannot share a
 * port (net/reuse-port.ts) the workers are processes.
 */
import { CURRENT_RUNTIME, reusePortUnsupported, type RuntimeFacts } from '../net/reuse-port.js';

export type WorkerMode = 'thread' | 'process';
export type ConfiguredWorkerMode = WorkerMode | 'auto';

/** The mode `workerMode` asks for on this runtime: `auto` is threads where they can run. */
export function resolveWorkerMode(configured: ConfiguredWorkerMode, runtime: RuntimeFacts = CURRENT_RUNTIME): WorkerMode {
  if (configured !== 'auto') return configured;
  return reusePortUnsupported(runtime) === undefined ? 'thread' : 'process';
}
