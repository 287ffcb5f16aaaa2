/**
 * One verified HTTPS GET on a fresh connection: how the harness checks that a
 * server it started is really ours (our CA, our name) and answering, and
 * learns the negotiated TLS version of the front leg.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { Endpoint } from './types.js';
import { sleep } from './proc.js';

export interface ProbeResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly protocol: string | null;
}

export function probe(endpoint: Endpoint, path = '/cucm-uds/version', timeoutMs = 3000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: endpoint.host,
        port: endpoint.port,
        path,
        servername: endpoint.servername,
        ca: readFileSync(endpoint.caFile),
        agent: false,
        timeout: timeoutMs,
        headers: { host: `${endpoint.servername}:${endpoint.port}` },
      },
      (res) => {
        const protocol = (res.socket as TLSSocket).getProtocol();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, protocol }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Probes until a 200 arrives (the server may still be binding, or a proxy may
 * still be marking nodes up), or fails with the last answer or error.
 */
export async function waitUntilServing(endpoint: Endpoint, timeoutMs: number, alive: () => boolean = () => true): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing';
  for (;;) {
    try {
      const result = await probe(endpoint, '/cucm-uds/version', 2000);
      if (result.status === 200 && result.body.includes('<versionInformation')) return result;
      last = `status ${result.status}: ${result.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (!alive()) throw new Error(`the server exited; last probe: ${last}`);
    if (Date.now() > deadline) throw new Error(`not serving ${endpoint.url} within ${timeoutMs} ms; last probe: ${last}`);
    await sleep(100);
  }
}
