/**
 * The client's request body on its way to a node. A try's body is pulled by
 * the node's pool only once the connection is up, so a refused connection
 * leaves it unread and replayable on the next node.
 */
import type { IncomingMessage } from 'node:http';

export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The body as a try sends it. A chunked body has no declared size to check
 * up front, so it is counted as it flows; over `maxBodyBytes`, `onTooLarge`
 * is told and the try fails (the handler answers 413).
 */
export async function* requestBody(req: IncomingMessage, maxBodyBytes: number, onTooLarge: () => void, onChunk?: (bytes: number) => void): AsyncGenerator<Buffer> {
  const counted = req.headers['content-length'] === undefined;
  let received = 0;
  // Not destroyed when the try stops reading: the client still gets an answer on this connection.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    if (counted) {
      received += chunk.length;
      if (received > maxBodyBytes) {
        onTooLarge();
        throw new Error('request body over the limit');
      }
    }
    onChunk?.(chunk.length);
    yield chunk;
  }
}
