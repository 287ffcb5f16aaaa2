/**
 * Which malloc this process runs on. The Docker image preloads jemalloc
 * (LD_PRELOAD): under the same keep-alive load it held 20-35 MB less than
 * glibc's malloc, which keeps what TLS connections and V8's compilers freed
 * in per-thread arenas, at no CPU cost measured (docs/performance.md). An
 * operator outside the image chooses it the same way; `gateway_ready` names
 * the one that runs, so a fleet's logs say which gateways have it.
 */
import { readFileSync } from 'node:fs';

export type Allocator = 'jemalloc' | 'glibc' | 'unknown';

/** From the libraries mapped into this process (Linux); 'unknown' where /proc cannot say. */
export function allocatorInUse(read: () => string | undefined = readMaps): Allocator {
  const maps = read();
  if (maps === undefined) return 'unknown';
  if (/\/libjemalloc\.so[^\s/]*$/m.test(maps)) return 'jemalloc';
  return /\/libc\.so\.6$/m.test(maps) ? 'glibc' : 'unknown';
}

function readMaps(): string | undefined {
  try {
    return readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return undefined;
  }
}
