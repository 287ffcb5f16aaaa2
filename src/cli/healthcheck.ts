/**
 * `ucgate healthcheck [--config FILE] [--timeout MS]`: the container's (or
 * systemd's, or a monitoring agent's) liveness probe. It reads the config and
 * asks the admin listener's `GET /healthz` the way that listener really
 * speaks:
 * - HTTPS by default, verified: the leaf it presents must be one the store
 *   holds (active or previous, per key type), or chain to a root the store
 *   vouches for (the self-signed issuer's CA, an import's trust anchor, the
 *   system roots for a public ACME CA) under `gateway.fqdn`. A listener that
 *   presents anything else is not this gateway, and the probe fails;
 * - plain HTTP when `listen.admin.tls: false`;
 * - a wildcard host (0.0.0.0, ::) is asked on loopback.
 * The store is read, never written; a Redis store is read from its local copy
 * (`<certificates.dir>/store-cache`), so liveness does not hang on Redis.
 *
 * Exit 0 on a 200 within the timeout (default 3000 ms, counted from the start,
 * config included), else 1 with one line on stderr. Nothing on stdout.
 */
import http from 'node:http';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { loadCliConfig } from './config-path.js';
import type { UcgateConfig } from '../config/types.js';
import { FileStorage } from '../store/file-storage.js';
import type { Storage } from '../store/storage.js';
import { loadText } from '../store/storage.js';
import { splitPemCertificates } from '../pki/certificate-info.js';

export const DEFAULT_HEALTHCHECK_TIMEOUT_MS = 3000;

/** Where the self-signed issuer keeps its CA (self-signed-issuer.ts). */
const SELF_SIGNED_CA = 'ca/self-signed/ca.pem';
/** A Redis store's local copy under certificates.dir (shared-store.ts CACHE_FOLDER; not imported: it loads ioredis). */
const CACHE_FOLDER = 'store-cache';

export interface HealthcheckOptions {
  readonly config?: string | undefined;
  readonly timeout?: string | undefined;
}

/** What the probe trusts: exact leaves (DER) and roots for a chain check. */
interface Trust {
  readonly leaves: readonly Buffer[];
  readonly roots: readonly string[];
}

class ProbeFailure extends Error {}

/** The host to dial for a listen address: a wildcard is reached on loopback. */
export function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[|\]$/g, '');
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_HEALTHCHECK_TIMEOUT_MS;
  if (!/^\d+$/.test(value)) return undefined;
  const ms = Number(value);
  return ms >= 1 && ms <= 600_000 ? ms : undefined;
}

/** The store as this process may read it without side effects: files only (a Redis store's local copy). */
function storeFiles(config: UcgateConfig): Storage {
  return new FileStorage(config.certificates.store.type === 'redis' ? join(config.certificates.dir, CACHE_FOLDER) : config.certificates.dir);
}

async function readTrust(config: UcgateConfig): Promise<Trust> {
  const storage = storeFiles(config);
  const leaves: Buffer[] = [];
  const roots = new Set<string>(rootCertificates);
  const addRoots = (pem: string | undefined) => {
    for (const cert of pem ? splitPemCertificates(pem) : []) roots.add(cert);
  };
  addRoots(await loadText(storage, SELF_SIGNED_CA).catch(() => undefined));
  for (const keyType of config.certificates.keyTypes) {
    const base = `certificates/${keyType}`;
    for (const pointer of ['active', 'previous']) {
      const serial = (await loadText(storage, `${base}/${pointer}`).catch(() => undefined))?.trim();
      if (!serial) continue;
      const chain = await loadText(storage, `${base}/versions/${serial}/certificate.pem`).catch(() => undefined);
      const certs = chain ? splitPemCertificates(chain) : [];
      if (certs[0]) {
        try {
          leaves.push(new X509Certificate(certs[0]).raw);
        } catch {
          // An unreadable leaf vouches for nothing.
        }
      }
      // The chain's top, when it is a root, and an import's kept anchor.
      const top = certs.length > 1 ? certs.at(-1) : undefined;
      if (top) {
        try {
          const x = new X509Certificate(top);
          if (x.checkIssued(x)) roots.add(top);
        } catch {
          // ignored: not a usable root
        }
      }
      addRoots(await loadText(storage, `${base}/versions/${serial}/trust-anchor.pem`).catch(() => undefined));
    }
  }
  return { leaves, roots: [...roots] };
}

/** Why the peer is not this gateway, or undefined when it is. */
function distrust(socket: TLSSocket, trust: Trust): string | undefined {
  const peer = socket.getPeerCertificate();
  const raw = peer && 'raw' in peer ? peer.raw : undefined;
  if (!raw) return 'presented no certificate';
  if (trust.leaves.some((leaf) => leaf.equals(raw))) return undefined;
  if (socket.authorized) return undefined;
  return `presents a certificate the store does not vouch for (${socket.authorizationError ?? 'unknown'}; subject ${peer.subject?.CN ?? '?'})`;
}

function get(url: URL, config: UcgateConfig, trust: Trust | undefined, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const common = { method: 'GET', signal, agent: false as const, headers: { 'user-agent': 'ucgate-healthcheck', accept: 'application/json' } };
    const onResponse = (res: http.IncomingMessage) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    };
    let req: http.ClientRequest;
    if (trust) {
      req = https.request(url, { ...common, servername: config.gateway.fqdn, ca: [...trust.roots], rejectUnauthorized: false }, onResponse);
      req.on('socket', (socket) => {
        socket.once('secureConnect', () => {
          const why = distrust(socket as TLSSocket, trust);
          if (why) req.destroy(new ProbeFailure(why));
        });
      });
    } else req = http.request(url, common, onResponse);
    req.on('error', reject);
    req.end();
  });
}

/** The probe; resolves with the exit code, having written at most one line to stderr. */
export async function healthcheckCommand(options: HealthcheckOptions): Promise<number> {
  const fail = (message: string) => {
    process.stderr.write(`ucgate healthcheck: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return 1;
  };
  const timeoutMs = parseTimeout(options.timeout);
  if (timeoutMs === undefined) {
    process.stderr.write(`ucgate healthcheck: --timeout: milliseconds, 1 to 600000 (got ${options.timeout})\n`);
    return 2;
  }
  const controller = new AbortController();
  let target = 'the admin listener';
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ProbeFailure(`${target}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  deadline.catch(() => undefined);
  const probe = async (): Promise<number> => {
    let config: UcgateConfig;
    try {
      config = await loadCliConfig(options.config);
    } catch (err) {
      const problems = (err as { problems?: readonly string[] }).problems;
      throw new ProbeFailure(`config: ${problems?.join('; ') ?? (err as Error).message}`);
    }
    const admin = config.listen.admin;
    if (!admin) throw new ProbeFailure('listen.admin is not configured: there is no /healthz to ask (add listen.admin to the config)');
    const host = probeHost(admin.host);
    const url = new URL(`${admin.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${admin.port}/healthz`);
    target = url.href;
    const trust = admin.tls ? await readTrust(config) : undefined;
    const status = await get(url, config, trust, controller.signal);
    if (status !== 200) throw new ProbeFailure(`${target}: HTTP ${status}`);
    return 0;
  };
  try {
    return await Promise.race([probe(), deadline]);
  } catch (err) {
    if (err instanceof ProbeFailure) return fail(err.message);
    if (controller.signal.aborted) return fail(`${target}: no answer within ${timeoutMs} ms`);
    const code = (err as { code?: string }).code;
    return fail(`${target}: ${code ? `${code} ` : ''}${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
