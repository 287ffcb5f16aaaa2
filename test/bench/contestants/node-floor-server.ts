/**
 * The least a Node.js TLS-terminating, re-encrypting proxy does per request,
 * as a reference for what ucgate's own code costs on top of Node's http/https
 * stack: node:cluster with N workers, one https server, one keep-alive agent to
 * the publisher (upstream verified), headers copied, Host replaced, the answer
 * piped back. No routing, no failover, no rewriting, no metrics, no logging.
 * Not a product: `--only node-floor` in the bench shows it beside the others.
 *
 * argv[2] is JSON: { port, workers, certFile, keyFile, caFile, upstream: { host, port, servername } }.
 */
import cluster from 'node:cluster';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

interface Options {
  readonly port: number;
  readonly workers: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly upstream: { readonly host: string; readonly port: number; readonly servername: string };
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;

if (cluster.isPrimary) {
  for (let i = 0; i < opts.workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  // Exit rather than die of the signal, so `--cpu-prof` can write its profile.
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  class OneTargetAgent extends https.Agent {
    override getName(): string {
      return 'upstream';
    }
  }
  const agent = new OneTargetAgent({
    keepAlive: true,
    maxSockets: 256,
    servername: opts.upstream.servername,
    secureContext: createSecureContext({ ca: readFileSync(opts.caFile) }),
  });
  const hostHeader = `${opts.upstream.servername}:${opts.upstream.port}`;
  const HOP = new Set(['connection', 'keep-alive', 'host', 'transfer-encoding']);
  https
    .createServer({ cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile), minVersion: 'TLSv1.2' }, (req, res) => {
      const headers: string[] = ['Host', hostHeader];
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
      const up = https.request({ agent, host: opts.upstream.host, port: opts.upstream.port, method: req.method, path: req.url, headers, setHost: false }, (upRes) => {
        const out: string[] = [];
        const rh = upRes.rawHeaders;
        for (let i = 0; i < rh.length; i += 2) if (!HOP.has(rh[i]!.toLowerCase())) out.push(rh[i]!, rh[i + 1]!);
        res.writeHead(upRes.statusCode ?? 502, out);
        upRes.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      req.pipe(up);
    })
    .listen(opts.port, '127.0.0.1');
}
