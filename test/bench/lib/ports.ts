/**
 * Ports for servers we cannot ask to bind port 0 and tell us (nginx, HAProxy,
 * Caddy). We bind port 0 ourselves, note the port the OS gave, close, and
 * hand it to the server.
 *
 * RACE: between our close() and the server's bind, anything else on this
 * machine (other sessions run tests here) may take the port. `withPortRetries`
 * covers both outcomes: the server fails to bind and exits (we retry on a new
 * port), or someone else is listening there and our server died — the caller's
 * readiness check makes a verified request (our CA, our FQDN) so a stranger on
 * the port cannot pass for our server.
 */
import net from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `attempt` with fresh free ports until it succeeds, at most `tries` times. */
export async function withPortRetries<T>(count: number, attempt: (ports: number[]) => Promise<T>, tries = 4): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    const ports: number[] = [];
    while (ports.length < count) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    try {
      return await attempt(ports);
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}
