/**
 * The malloc the ucgate contestants run on: jemalloc, preloaded as the Docker
 * image does (Dockerfile), when the library is on this machine
 * (scripts/install-test-tools.sh installs libjemalloc2), else glibc's with a
 * note saying so; with the image's MALLOC_CONF. `--variant glibc 'LD_PRELOAD='` adds the same build on
 * glibc's malloc. node-floor stays on glibc's: it is bare Node.
 */
import { existsSync } from 'node:fs';

export interface BenchAllocator {
  /** The environment the ucgate contestants start with. */
  readonly env: NodeJS.ProcessEnv;
  readonly name: 'jemalloc' | 'glibc';
  readonly fallbackNote?: string;
}

const CANDIDATES = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2', '/usr/local/lib/libjemalloc.so.2'];

export function benchAllocator(): BenchAllocator {
  const library = [process.env.UCGATE_BENCH_JEMALLOC, ...CANDIDATES].find((path): path is string => !!path && existsSync(path));
  // MALLOC_CONF as the Dockerfile sets it.
  if (library) return { env: { LD_PRELOAD: library, MALLOC_CONF: 'dirty_decay_ms:1000' }, name: 'jemalloc' };
  return { env: {}, name: 'glibc', fallbackNote: 'libjemalloc.so.2 not found (apt-get install libjemalloc2): ucgate runs on glibc malloc, not as the Docker image runs it' };
}
