/**
 * A test-only look at a process's memory: with `UCGATE_MEMORY_PROBE_DIR`
 * set, SIGUSR2 (wired in main.ts) makes the process collect its garbage (a
 * full, forced GC) and write `process.memoryUsage()` and V8's heap by space
 * to `<dir>/<pid>-<threadId>.json`; worker threads, which get no signals, do
 * the same when the main thread says so on a BroadcastChannel. Resident memory alone cannot tell a leak from a
 * heap that V8 chose to keep larger (Node 24 keeps more young-generation
 * space committed than Node 20); what survives a forced collection can.
 * Never set in production: nothing reads the files.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { isolateGc } from '../heap-release.js';

/** Where the main thread tells worker threads to probe themselves. */
const CHANNEL = 'ucgate-memory-probe';

export interface MemoryProbe {
  readonly pid: number;
  /** 0: the main thread (the primary, or a worker process); otherwise a worker thread. */
  readonly threadId: number;
  /** Bytes, as process.memoryUsage() reports them after the forced collection. */
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** V8's heap by space (new_space, old_space, code_space, large_object_space, ...): bytes committed and in use. */
  readonly spaces: Record<string, { readonly size: number; readonly used: number }>;
}

/** Returns the probe to run on each SIGUSR2. */
export function memoryProbe(dir: string): () => void {
  const gc = isolateGc();
  return () => {
    // Twice: the first collection runs finalizers that free what the second then reclaims.
    gc();
    gc();
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    const probe: MemoryProbe = { pid: process.pid, threadId, rss, heapUsed, heapTotal, external, arrayBuffers, spaces };
    const file = join(dir, `${process.pid}-${threadId}.json`);
    // Written aside and renamed, so a reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(probe));
    renameSync(`${file}.tmp`, file);
  };
}

/** Main thread: on each SIGUSR2, this thread's probe, and every worker thread's. */
export function probeOnSignal(dir: string): void {
  const probe = memoryProbe(dir);
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  process.on('SIGUSR2', () => {
    probe();
    channel.postMessage('probe');
  });
}

/** A worker thread: probes itself when the main thread says so. */
export function probeOnRequest(dir: string): void {
  const probe = memoryProbe(dir);
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  channel.onmessage = () => probe();
}
