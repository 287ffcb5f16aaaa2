/**
 * A real ACME CA for tests: Debian's `pebble` on loopback ports, with a
 * throwaway CA (made by src/pki/x509.ts) for its own HTTPS listener, and
 * optionally `pebble-challtestsrv` as its DNS server (every name → 127.0.0.1,
 * TXT records through its management API for dns-01).
 *
 * Pebble's validator connects to fixed ports (`httpPort`, `tlsPort`), so the
 * gateway must bind exactly those: `freePort()` picks ports before either
 * process starts. Stopping and starting again keeps the ports (and the TLS
 * files) but, as pebble does, makes a new issuing CA and forgets accounts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { httpsRequest, waitFor } from './net.js';

interface TeardownTarget {
  teardown(fn: () => unknown): void;
}

/** A TCP port that was free a moment ago (and, with `udp`, free for UDP too). */
export async function freePort(options: { udp?: boolean } = {}): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (!options.udp) return port;
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

export interface PebbleOptions {
  /** Where the validator connects for http-01 (the gateway's http listener). */
  readonly httpPort: number;
  /** Where the validator connects for tls-alpn-01 (the gateway's https listener). */
  readonly tlsPort: number;
  /** Lifetime of issued certificates; pebble's default is 5 years. */
  readonly validitySeconds?: number;
  /** External account binding keys (`kid` → base64url HMAC key); makes EAB required. */
  readonly eab?: Record<string, string>;
  /** `host:port` of a DNS server for the validator (pebble-challtestsrv). */
  readonly dnsServer?: string;
}

export interface Pebble {
  readonly port: number;
  readonly directoryUrl: string;
  /** The CA of pebble's own HTTPS listener (not its issuing root): `acme.caFile`. */
  readonly tlsCaFile: string;
  readonly tlsCaPem: string;
  /** pebble's listener certificate and key (127.0.0.1, localhost), for stand-ins that pose as it. */
  readonly tlsCertPem: string;
  readonly tlsKeyPem: string;
  /** Pebble's current issuing root (new on every start). */
  root(): Promise<string>;
  stop(): Promise<void>;
  /** Starts again on the same ports after stop(). */
  start(): Promise<void>;
  logs(): string;
}

/** Starts pebble under `dir`; stopped in teardown. */
export async function startPebble(t: TeardownTarget, dir: string, options: PebbleOptions): Promise<Pebble> {
  const tlsCa = await createCa({ commonName: 'pebble listener test CA' });
  const tlsLeaf = await issueLeaf({ issuer: tlsCa, commonName: '127.0.0.1', subjectAltNames: ['127.0.0.1', 'localhost'], keyType: 'ecdsa-p256' });
  const tlsCaFile = join(dir, 'pebble-tls-ca.pem');
  writeFileSync(tlsCaFile, tlsCa.certPem);
  writeFileSync(join(dir, 'pebble-cert.pem'), tlsLeaf.certPem);
  writeFileSync(join(dir, 'pebble-key.pem'), tlsLeaf.keyPem);
  const port = await freePort();
  const managementPort = await freePort();
  const configFile = join(dir, 'pebble-config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, 'pebble-cert.pem'),
        privateKey: join(dir, 'pebble-key.pem'),
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: options.eab !== undefined,
        ...(options.eab && { externalAccountMACKeys: options.eab }),
        ...(options.validitySeconds !== undefined && { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  let proc: ChildProcess | undefined;
  let output = '';
  const get = (url: string) => httpsRequest({ url, ca: tlsCa.certPem, timeoutMs: 2_000 });
  const start = async () => {
    const args = ['-config', configFile, '-strict=false', ...(options.dnsServer ? ['-dnsserver', options.dnsServer] : [])];
    // PEBBLE_AUTHZREUSE=0 still reuses a valid authorization for 1 order in 100 (wfe.go makes a new
    // one only when rand.Intn(100) > the percentage): a test that needs a fresh challenge on a
    // second order of the same account must allow for that.
    const child = spawn('pebble', args, {
      cwd: dir,
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    proc = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`pebble exited (${child.exitCode}): ${output.slice(-2000)}`);
        return (await get(`https://127.0.0.1:${port}/dir`)).status === 200;
      },
      { timeoutMs: 15_000, intervalMs: 50, message: 'pebble answering' },
    );
  };
  const stop = async () => {
    const current = proc;
    proc = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    await exited;
  };
  await start();
  t.teardown(stop);
  return {
    port,
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    tlsCaFile,
    tlsCaPem: tlsCa.certPem,
    tlsCertPem: tlsLeaf.certPem,
    tlsKeyPem: tlsLeaf.keyPem,
    root: async () => (await get(`https://127.0.0.1:${managementPort}/roots/0`)).text,
    stop,
    start,
    logs: () => output,
  };
}

export interface ChallTestSrv {
  /** `127.0.0.1:port`: give it to pebble as `-dnsserver`. */
  readonly dnsServer: string;
  readonly managementUrl: string;
  stop(): Promise<void>;
}

/**
 * pebble-challtestsrv answering every A query with 127.0.0.1 (and no AAAA,
 * else the validator tries ::1), with only its DNS and management servers on.
 */
export async function startChallTestSrv(t: TeardownTarget): Promise<ChallTestSrv> {
  for (let attempt = 0; ; attempt++) {
    const dnsPort = await freePort({ udp: true });
    const managementPort = await freePort();
    const args = ['-management', `127.0.0.1:${managementPort}`, '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''];
    const child = spawn('pebble-challtestsrv', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    };
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`pebble-challtestsrv exited (${child.exitCode}): ${output.slice(-1000)}`);
          return (await postJson(`http://127.0.0.1:${managementPort}/clear-txt`, { host: 'probe.invalid.' })) === 200;
        },
        { timeoutMs: 10_000, intervalMs: 50, message: 'pebble-challtestsrv answering' },
      );
    } catch (err) {
      await stop();
      if (attempt >= 3) throw err;
      continue;
    }
    t.teardown(stop);
    return { dnsServer: `127.0.0.1:${dnsPort}`, managementUrl: `http://127.0.0.1:${managementPort}`, stop };
  }
}

/** POSTs JSON over plain HTTP; resolves with the status code. */
export function postJson(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The gateway config pieces an ACME e2e test needs: its listeners on the ports pebble validates against. */
export function acmeGatewayConfig(options: {
  readonly httpsPort: number;
  readonly httpPort?: number;
  readonly acme: Record<string, unknown>;
  readonly keyTypes?: readonly string[];
}): Record<string, unknown> {
  return {
    listen: {
      https: [{ host: '127.0.0.1', port: options.httpsPort }],
      ...(options.httpPort !== undefined && { http: [{ host: '127.0.0.1', port: options.httpPort }] }),
    },
    certificates: {
      dir: 'certs',
      ...(options.keyTypes && { keyTypes: options.keyTypes }),
      issuer: { type: 'acme', acme: options.acme },
    },
  };
}

export interface AriStandIn {
  /** The directory to configure: pebble's, with `renewalInfo` added. */
  readonly directoryUrl: string;
  /** Decoded payloads of every newOrder request, in order. */
  readonly newOrders: Record<string, unknown>[];
  /** CertIDs asked about, in order. */
  readonly renewalInfoRequests: string[];
}

/**
 * A small RFC 9773 stand-in in front of pebble (which has no ARI): an HTTPS
 * reverse proxy that keeps the Host header (pebble builds every URL from it
 * and checks each JWS `url` against it, so the client talks to the stand-in
 * throughout), adds `renewalInfo` to the directory, answers renewalInfo GETs
 * with the window `windowFor(certId)` gives, and records newOrder payloads.
 */
export async function startAriStandIn(
  t: TeardownTarget,
  pebble: Pebble,
  windowFor: (certId: string) => { start: Date; end: Date; retryAfterSeconds?: number },
): Promise<AriStandIn> {
  const { createServer: createHttpsServer, request: httpsForward } = await import('node:https');
  const newOrders: Record<string, unknown>[] = [];
  const renewalInfoRequests: string[] = [];
  let newOrderPath = '/order-plz';
  const server = createHttpsServer({ cert: pebble.tlsCertPem, key: pebble.tlsKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = req.url ?? '/';
      if (req.method === 'GET' && path.startsWith('/renewal-info/')) {
        const certId = path.slice('/renewal-info/'.length);
        renewalInfoRequests.push(certId);
        const window = windowFor(certId);
        res.writeHead(200, { 'content-type': 'application/json', 'retry-after': String(window.retryAfterSeconds ?? 21_600) });
        res.end(JSON.stringify({ suggestedWindow: { start: window.start.toISOString(), end: window.end.toISOString() } }));
        return;
      }
      if (req.method === 'POST' && path === newOrderPath) {
        const jws = JSON.parse(body.toString('utf8')) as { payload: string };
        newOrders.push(JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as Record<string, unknown>);
      }
      const upstream = httpsForward(
        { host: '127.0.0.1', port: pebble.port, path, method: req.method, headers: req.headers, ca: pebble.tlsCaPem, servername: 'localhost' },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            let out = Buffer.concat(parts);
            const headers = { ...answer.headers };
            if (req.method === 'GET' && path === '/dir' && answer.statusCode === 200) {
              const directory = JSON.parse(out.toString('utf8')) as Record<string, unknown>;
              newOrderPath = new URL(String(directory.newOrder)).pathname;
              directory.renewalInfo = `https://${req.headers.host}/renewal-info/`;
              out = Buffer.from(JSON.stringify(directory));
              headers['content-length'] = String(out.length);
            }
            res.writeHead(answer.statusCode ?? 502, headers);
            res.end(out);
          });
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };
  return { directoryUrl: `https://127.0.0.1:${port}/dir`, newOrders, renewalInfoRequests };
}
