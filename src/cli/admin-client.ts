/**
 * The CLI's way to a running gateway: one call to its admin API (`listen.admin`)
 * when a gateway answers there, so a command that a running gateway should
 * carry out (`cert renew`, `cert confirm-trust`) goes through it, and the
 * command acts on the store itself when none answers. The bearer token only
 * goes to a listener whose certificate is one of ours: over TLS the listener's
 * certificate is pinned against every version in the store before a byte of
 * the request is written. Every way of not reaching a gateway (no admin
 * listener configured, port 0, a refused connection, a foreign certificate, a
 * broken connection) is the same answer: undefined.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { UcgateConfig } from '../config/types.js';
import type { Storage } from '../store/storage.js';
import { loadVersion } from '../certificates/certificate-store.js';
import { VERSION } from '../version.js';
// The gateway audits what the CLI asks as `cli` (src/admin/node-routes.ts).
import { CLI_USER_AGENT_PREFIX } from '../admin/node-routes.js';

export interface AdminAnswer {
  readonly status: number;
  /** The JSON body, or undefined when it is not JSON. */
  readonly body: unknown;
}

export interface AdminCall {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** A POST's JSON body (default `{}`). */
  readonly body?: object;
  /** Give up (undefined) when the connection stays idle this long; without it, wait as long as the gateway takes. */
  readonly timeoutMs?: number;
}

/** Fingerprints of every certificate version in the store: what the admin listener may present. */
async function knownFingerprints(config: UcgateConfig, storage: Storage): Promise<Set<string>> {
  const prints = new Set<string>();
  for (const keyType of config.certificates.keyTypes) {
    for (const version of await storage.list(`certificates/${keyType}/versions`)) {
      const cert = await loadVersion(storage, keyType, version.split('/').pop()!).catch(() => undefined);
      if (cert) prints.add(new X509Certificate(cert.certPem).fingerprint256);
    }
  }
  return prints;
}

/** One call to a running gateway's admin API; undefined when none answers there, or its certificate is not one of ours. */
export async function callAdmin(config: UcgateConfig, storage: Storage, call: AdminCall): Promise<AdminAnswer | undefined> {
  const admin = config.listen.admin;
  // Port 0 (a test's "any port") cannot be found from the config.
  if (!admin?.tokenFile || admin.port === 0) return undefined;
  const token = (await readFile(admin.tokenFile, 'utf8')).trim();
  const host = admin.host === '0.0.0.0' ? '127.0.0.1' : admin.host === '::' ? '::1' : admin.host;
  let socket: TLSSocket | undefined;
  if (admin.tls) {
    const prints = await knownFingerprints(config, storage);
    // Verified by pinning before a byte of the request (and its token) is written.
    socket = await new Promise<TLSSocket | undefined>((resolve) => {
      const s = tlsConnect({ host, port: admin.port, rejectUnauthorized: false, servername: config.gateway.fqdn }, () => {
        const peer = s.getPeerCertificate();
        if (peer && prints.has(peer.fingerprint256)) resolve(s);
        else {
          s.destroy();
          resolve(undefined);
        }
      });
      s.once('error', () => resolve(undefined));
    });
    if (!socket) return undefined;
  }
  const text = call.method === 'POST' ? JSON.stringify(call.body ?? {}) : undefined;
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host,
        port: admin.port,
        method: call.method,
        path: call.path,
        headers: { authorization: `Bearer ${token}`, 'user-agent': `${CLI_USER_AGENT_PREFIX}${VERSION}`, ...(text !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }) },
        ...(socket && { createConnection: () => socket }),
        ...(call.timeoutMs !== undefined && { timeout: call.timeoutMs }),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    if (call.timeoutMs !== undefined) req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end(text);
  });
}
