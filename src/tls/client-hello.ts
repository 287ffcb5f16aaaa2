/**
 * Just enough of a TLS ClientHello parser to route a connection before TLS
 * starts: the server name (SNI, RFC 6066 §3) and the offered ALPN protocols
 * (RFC 7301 §3.1). It reads TLS records (RFC 8446 §5.1; a ClientHello may be
 * fragmented over several records, and records over several TCP segments),
 * checks every length against its container, and never throws: bytes that
 * are not a well-formed ClientHello give `not-tls` or `invalid`, bytes that
 * end early give `incomplete`.
 */

export type ClientHelloResult =
  | { readonly status: 'incomplete' }
  /** The first record is not a TLS handshake record (plain HTTP, SSLv2, noise). */
  | { readonly status: 'not-tls' }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'complete'; readonly serverName: string | undefined; readonly alpnProtocols: readonly string[] };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
/** RFC 8446 §5.1: a record's plaintext is at most 2^14 bytes. */
const MAX_RECORD = 16_384;
/** A ClientHello larger than this is refused rather than buffered (real ones are a few KiB, post-quantum included). */
export const MAX_CLIENT_HELLO = 65_536;

const invalid = (reason: string): ClientHelloResult => ({ status: 'invalid', reason });

/** Bounds-checked reads over a byte range; `ok` turns false at the first overrun. */
class Reader {
  ok = true;
  #pos: number;
  readonly #end: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    end: number,
  ) {
    this.#pos = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  get pos(): number {
    return this.#pos;
  }

  #take(n: number): number {
    if (!this.ok || n > this.remaining) {
      this.ok = false;
      return -1;
    }
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u8(): number {
    const at = this.#take(1);
    return at < 0 ? 0 : this.buf[at]!;
  }

  u16(): number {
    const at = this.#take(2);
    return at < 0 ? 0 : this.buf.readUInt16BE(at);
  }

  skip(n: number): void {
    this.#take(n);
  }

  /** A sub-reader over the next `n` bytes (advancing past them). */
  sub(n: number): Reader {
    const at = this.#take(n);
    const reader = new Reader(this.buf, Math.max(at, 0), Math.max(at, 0) + (at < 0 ? 0 : n));
    reader.ok = at >= 0;
    return reader;
  }

  string(n: number): string {
    const at = this.#take(n);
    return at < 0 ? '' : this.buf.toString('latin1', at, at + n);
  }
}

/** Reassembles the handshake bytes carried by the records in `buf`. */
function handshakeBytes(buf: Buffer): { bytes: Buffer; complete: boolean } | ClientHelloResult {
  const fragments: Buffer[] = [];
  let offset = 0;
  let total = 0;
  let needed: number | undefined;
  while (offset + 5 <= buf.length) {
    const type = buf[offset]!;
    if (type !== RECORD_HANDSHAKE) return offset === 0 ? { status: 'not-tls' } : invalid('a non-handshake record inside the ClientHello');
    if (buf[offset + 1] !== 0x03) return offset === 0 ? { status: 'not-tls' } : invalid('record version is not 3.x');
    const length = buf.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD) return invalid(`record length ${length}`);
    if (offset + 5 + length > buf.length) break;
    fragments.push(buf.subarray(offset + 5, offset + 5 + length));
    total += length;
    offset += 5 + length;
    if (needed === undefined && total >= 4) {
      const head = Buffer.concat(fragments).subarray(0, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return invalid(`handshake type ${head[0]} is not ClientHello`);
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > MAX_CLIENT_HELLO) return invalid(`ClientHello of ${needed} bytes`);
    }
    if (needed !== undefined && total >= needed) return { bytes: Buffer.concat(fragments).subarray(0, needed), complete: true };
  }
  // Only a first record header that is not TLS can be judged before five bytes arrive.
  if (buf.length > 0 && buf.length < 5 && offset === 0) {
    if (buf[0] !== RECORD_HANDSHAKE || (buf.length > 1 && buf[1] !== 0x03)) return { status: 'not-tls' };
  }
  if (buf.length > MAX_CLIENT_HELLO + 5 * Math.ceil(MAX_CLIENT_HELLO / MAX_RECORD) + 5) return invalid('too many bytes without a whole ClientHello');
  return { bytes: Buffer.alloc(0), complete: false };
}

function parseExtensions(reader: Reader): { serverName: string | undefined; alpnProtocols: string[] } | ClientHelloResult {
  let serverName: string | undefined;
  const alpnProtocols: string[] = [];
  while (reader.ok && reader.remaining > 0) {
    const type = reader.u16();
    const data = reader.sub(reader.u16());
    if (!reader.ok) return invalid('extension overruns the ClientHello');
    if (type === EXT_SERVER_NAME) {
      const list = data.sub(data.u16());
      while (list.ok && list.remaining > 0) {
        const nameType = list.u8();
        const name = list.string(list.u16());
        if (nameType === 0 && serverName === undefined) serverName = name;
      }
      if (!list.ok || !data.ok) return invalid('malformed server_name extension');
    } else if (type === EXT_ALPN) {
      const list = data.sub(data.u16());
      while (list.ok && list.remaining > 0) {
        const length = list.u8();
        if (length === 0) return invalid('empty ALPN protocol name');
        alpnProtocols.push(list.string(length));
      }
      if (!list.ok || !data.ok) return invalid('malformed ALPN extension');
    }
  }
  return { serverName, alpnProtocols };
}

/** Parses what has arrived so far of a connection's first bytes. */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  const assembled = handshakeBytes(buf);
  if ('status' in assembled) return assembled;
  if (!assembled.complete) return { status: 'incomplete' };
  const hello = assembled.bytes;
  const reader = new Reader(hello, 4, hello.length);
  reader.skip(2 + 32); // legacy_version, random
  reader.skip(reader.u8()); // legacy_session_id
  const suites = reader.u16();
  if (suites % 2 !== 0) return invalid('odd cipher_suites length');
  reader.skip(suites);
  reader.skip(reader.u8()); // legacy_compression_methods
  if (!reader.ok) return invalid('ClientHello body overruns its length');
  // Extensions are optional before TLS 1.3 (a bare TLS 1.0 hello has none).
  if (reader.remaining === 0) return { status: 'complete', serverName: undefined, alpnProtocols: [] };
  const extensions = reader.sub(reader.u16());
  if (!reader.ok) return invalid('extensions overrun the ClientHello');
  const parsed = parseExtensions(extensions);
  if ('status' in parsed) return parsed;
  return { status: 'complete', ...parsed };
}
