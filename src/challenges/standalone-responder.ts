/**
 * Challenge listeners for `ucgate cert renew` run without a gateway: the CLI
 * binds the configured listener addresses itself for http-01 or
 * tls-alpn-01. An address already in use means a gateway holds it — that
 * gateway answers from the store, where the CLI also publishes — so it is
 * skipped, not an error.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import type { UcgateConfig } from '../config/types.js';
import type { ChallengeTable } from './challenge-table.js';
import { answerHttp01 } from './http01-responder.js';
import { standaloneAlpnServer } from './tls-alpn01-responder.js';

export interface StandaloneResponders {
  /** `host:port` bound by this process. */
  readonly bound: readonly string[];
  /** `host:port` in use by someone else (a running gateway, presumably). */
  readonly inUse: readonly string[];
  close(): Promise<void>;
}

function listen(server: HttpServer | TlsServer, host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(true);
    });
  });
}

/** Binds what the configured challenge needs and is free; dns-01 needs nothing. */
export async function startStandaloneResponders(config: UcgateConfig, table: ChallengeTable): Promise<StandaloneResponders> {
  const challenge = config.certificates.issuer.acme?.challenge;
  const servers: (HttpServer | TlsServer)[] = [];
  const bound: string[] = [];
  const inUse: string[] = [];
  const targets =
    challenge === 'http-01'
      ? config.listen.http.map((listener) => ({ listener, make: () => createHttpServer((req, res) => answerHttp01(req, res, table) || res.writeHead(404).end()) }))
      : challenge === 'tls-alpn-01'
        ? config.listen.https.map((listener) => ({ listener, make: () => standaloneAlpnServer(table) }))
        : [];
  try {
    for (const { listener, make } of targets) {
      const server = make();
      const address = `${listener.host}:${listener.port}`;
      if (await listen(server, listener.host, listener.port)) {
        servers.push(server);
        bound.push(address);
      } else inUse.push(address);
    }
  } catch (err) {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    throw err;
  }
  return {
    bound,
    inUse,
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise((resolve) => {
              server.close(resolve);
              (server as HttpServer).closeAllConnections?.();
            }),
        ),
      );
    },
  };
}
