/**
 * The simulated node's TFTP-over-HTTP service: `GET /<file>` from its TFTP
 * folder, as CUCM answers on 6970 (HTTP) and 6972 (HTTPS). Like the real
 * service it serves any file in that folder to anyone who names it, which
 * is why the gateway lets only an allow-list through. A name is matched
 * exactly (see tftp-files.ts); a file in a folder is `/<folder>/<file>`.
 */
import { sendBody, type Endpoint } from './test-endpoints.js';
import { tftpFiles, type TftpFileContext } from './tftp-files.js';

// Not verified against a real CUCM: the device configurations go out as a generic binary
// type, the other files as XML, so the gateway's handling of both labels is exercised.
const DEVICE_CONFIG_TYPE = 'application/octet-stream';
const XML = 'text/xml; charset=UTF-8';
const NOT_FOUND = 'text/plain; charset=utf-8';

/** Builds the endpoint table of one node's TFTP service. */
export function createTftpEndpoints(ctx: TftpFileContext): (pathname: string) => Endpoint | undefined {
  const files = tftpFiles(ctx);
  const serve: Endpoint = (req, res, endpoint) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendBody(res, 405, NOT_FOUND, 'Method Not Allowed\n', { allow: 'GET, HEAD' });
    const file = files.get(endpoint.url.pathname.slice(1));
    if (file === undefined) return sendBody(res, 404, NOT_FOUND, 'File not found\n');
    sendBody(res, 200, file.deviceConfig ? DEVICE_CONFIG_TYPE : XML, file.body);
  };
  return () => serve;
}
