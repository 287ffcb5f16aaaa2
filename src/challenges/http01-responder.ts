/**
 * ACME http-01 (RFC 8555 §8.3) on the plain-HTTP listeners: the CA fetches
 * `http://<name>/.well-known/acme-challenge/<token>` and expects the key
 * authorization as the whole body. This runs before routing, so the
 * challenge path never reaches a CUCM node.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeTable } from './challenge-table.js';

export const HTTP01_PREFIX = '/.well-known/acme-challenge/';

function answer(res: ServerResponse, status: number, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

/**
 * Answers the request when it asks for an ACME challenge and returns true;
 * returns false (and touches nothing) for every other request.
 */
export function answerHttp01(req: IncomingMessage, res: ServerResponse, table: ChallengeTable): boolean {
  const url = req.url;
  if (!url?.startsWith(HTTP01_PREFIX)) return false;
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    answer(res, 405, 'method not allowed\n', false);
    return true;
  }
  const token = url.slice(HTTP01_PREFIX.length).split('?')[0]!;
  table.keyAuthorization(token).then(
    (keyAuthorization) => (keyAuthorization === undefined ? answer(res, 404, 'no such challenge\n', head) : answer(res, 200, keyAuthorization, head)),
    () => answer(res, 404, 'no such challenge\n', head),
  );
  return true;
}
