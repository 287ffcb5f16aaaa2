/**
 * An admin listener over a fake backend, for `app.inject()` tests and the
 * browser XSS test: a status document with two nodes and a certificate
 * (optionally with hostile names), a token in a 0600 file, a clock the test
 * moves, and every log line captured so a test can check what was logged.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { buildAdminApp, type AdminServer } from '../../src/admin/admin-server.js';
import type { AdminBackend } from '../../src/admin/admin-backend.js';
import type { GatewayStatus, NodeStatusView } from '../../src/admin/status-types.js';

/** Random per run, 256 bits: the admin listener refuses tokens under 128 bits. */
export const ADMIN_TOKEN = randomBytes(32).toString('hex');

/** A payload that would run script if any value reached the page unescaped. */
export const HOSTILE = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"'&`;

/** A clock that only moves when told; enough for sessions and throttling, which only read `now()`. */
export class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  setTimeout(fn: () => void, ms: number) {
    return setTimeout(fn, ms);
  }
  clearTimeout(timer: unknown): void {
    clearTimeout(timer as NodeJS.Timeout);
  }
}

function node(name: string, priority: number, down: boolean, now: number): NodeStatusView {
  const iso = new Date(now - 1500).toISOString();
  return {
    name,
    url: `https://cucm-${name}.example.test:8443`,
    priority,
    weight: 1,
    healthy: !down,
    up: !down,
    coolingUntil: null,
    lastCheck: { at: iso, ok: !down },
    lastError: down ? { layer: 'connect', reason: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:8443', at: iso, source: 'check' } : null,
  };
}

/** A status document; `hostile` puts the XSS payload into every free-text field. */
export function fakeStatus(options: { hostile?: boolean; pubDown?: boolean; now?: number } = {}): GatewayStatus {
  const now = options.now ?? Date.now();
  const evil = options.hostile ? HOSTILE : '';
  const pub = node(`pub${evil}`, 1, options.pubDown ?? false, now);
  return {
    version: '0.1.0',
    fqdn: `ucgw.example.test${evil}`,
    uptimeSeconds: 3725,
    generatedAt: new Date(now).toISOString(),
    ready: { ready: true, reasons: [] },
    listeners: [{ name: 'https-0', protocol: 'https', host: '127.0.0.1', port: 8443 }],
    renewBeforeDays: 30,
    clusters: [{ name: `cucm${evil}`, source: 'static', nodes: [pub, node('sub1', 2, false, now)] }],
    certificates: [
      {
        name: 'gateway-rsa-2048',
        source: 'self-signed',
        daysLeft: 62,
        subject: `CN=ucgw.example.test${evil}`,
        commonName: `ucgw.example.test${evil}`,
        subjectAltNames: ['ucgw.example.test', `alt${evil}`],
        issuer: `CN=ucgate local CA${evil}`,
        serialNumber: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
        keyType: 'rsa-2048',
        notBefore: new Date(now - 28 * 86_400_000).toISOString(),
        notAfter: new Date(now + 62 * 86_400_000).toISOString(),
        fingerprintSha256: 'AA:BB',
      },
    ],
  };
}

export interface FakeBackendOptions {
  readonly status?: () => GatewayStatus;
  readonly extra?: Partial<AdminBackend>;
}

export function fakeBackend(options: FakeBackendOptions = {}): AdminBackend {
  return {
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'ucgate_upstream_node_up{cluster="cucm",node="pub"} 1\n' }),
    status: async () => (options.status ?? (() => fakeStatus()))(),
    ...options.extra,
  };
}

export interface FakeAdmin {
  readonly server: AdminServer;
  readonly clock: ManualClock;
  /** Every JSON log line written so far. */
  readonly logs: string[];
}

interface Testdir {
  testdir(): string;
  teardown(fn: () => unknown): void;
}

/** Builds (does not listen) an admin app over `backend`, token in a 0600 file. */
export async function fakeAdmin(t: Testdir, backend: AdminBackend = fakeBackend(), options: { tls?: boolean; token?: string | null } = {}): Promise<FakeAdmin> {
  const dir = t.testdir();
  let tokenFile: string | undefined;
  if (options.token !== null) {
    tokenFile = join(dir, 'admin.token');
    writeFileSync(tokenFile, `${options.token ?? ADMIN_TOKEN}\n`);
    chmodSync(tokenFile, 0o600);
  }
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const clock = new ManualClock();
  const server = await buildAdminApp({
    config: { host: '127.0.0.1', port: 0, tls: options.tls ?? false, ...(tokenFile ? { tokenFile } : {}) },
    certificates: [],
    backend,
    log,
    clock,
  });
  t.teardown(() => server.close());
  return { server, clock, logs };
}
