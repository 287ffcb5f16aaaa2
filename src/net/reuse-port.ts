/**
 * Whether this runtime can let several listeners in one process share a port,
 * each accepting its own share of connections: `reusePort` in `server.listen`
 * (SO_REUSEPORT, Node.js 22.12 and 23.1 on). Only Linux spreads new
 * connections across such sockets; elsewhere the option exists with other
 * meanings, so it is not relied on there.
 */
export interface RuntimeFacts {
  readonly nodeVersion: string;
  readonly platform: NodeJS.Platform;
}

export const CURRENT_RUNTIME: RuntimeFacts = { nodeVersion: process.versions.node, platform: process.platform };

/** Why listeners cannot share a port here, or undefined when they can. */
export function reusePortUnsupported(runtime: RuntimeFacts = CURRENT_RUNTIME): string | undefined {
  if (runtime.platform !== 'linux') return `SO_REUSEPORT spreads connections across listeners only on Linux (this is ${runtime.platform})`;
  const [major = 0, minor = 0] = runtime.nodeVersion.split('.').map(Number);
  const supported = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  if (!supported) return `server.listen's reusePort needs Node.js 22.12 or 23.1 and later; this is Node.js ${runtime.nodeVersion}`;
  return undefined;
}
