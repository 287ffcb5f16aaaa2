/**
 * Group configuration files (issue 16): Jabber fetches a file named in its
 * device configuration — `configurationFile=NAME.xml` in the "Cisco Support
 * Field" of the CSF/BOT/TCT/TAB device — and that name can be anything the
 * administrator chose. The TFTP listeners allow such a name once the gateway
 * has passed a device file of the same cluster that names it, so nobody has
 * to copy every group file name into `tftp.allow`.
 *
 * Learned names are bounded (MAX_LEARNED_PER_CLUSTER per cluster, the oldest
 * forgotten first) and must be plain file names by the allow-list's own
 * character rules (isSafeFileName): a device file can widen the allow-list by
 * one harmless XML name, never by a path. Each worker learns from what it
 * passes and tells the primary, which keeps the list the status shows and
 * hands new names to every other worker (as it does sticky sessions).
 */
import type { ServerResponse } from 'node:http';
import * as zlib from 'node:zlib';
import { isSafeFileName, MAX_FILE_NAME } from './file-names.js';

/** Names kept per cluster; beyond, the one learned (or seen again) longest ago is forgotten. */
export const MAX_LEARNED_PER_CLUSTER = 1000;

/** Per cluster, the group configuration file names seen in device files, oldest first. */
export class LearnedFiles {
  readonly #limit: number;
  /** Cluster → names, in the order learned (or last seen). */
  readonly #byCluster = new Map<string, Set<string>>();

  constructor(limit = MAX_LEARNED_PER_CLUSTER) {
    this.#limit = limit;
  }

  /**
   * Remembers `name` for `cluster`. True when it is new here; false when it
   * was known (it becomes the most recent) or is not a safe file name.
   */
  learn(cluster: string, name: string): boolean {
    if (!isSafeFileName(name)) return false;
    let names = this.#byCluster.get(cluster);
    if (names === undefined) this.#byCluster.set(cluster, (names = new Set()));
    const known = names.delete(name);
    names.add(name);
    if (names.size > this.#limit) names.delete(names.values().next().value!);
    return !known;
  }

  /**
   * Whether `name` was learned for `cluster`, exactly as the device file
   * wrote it: Jabber asks for it so, and CUCM's TFTP names are
   * case-sensitive ("Configuration filenames are case-sensitive", Cisco
   * Jabber deployment guides, Create and Host the Client Configuration Files).
   */
  has(cluster: string, name: string): boolean {
    return this.#byCluster.get(cluster)?.has(name) ?? false;
  }

  /** The names learned for `cluster`, oldest first. */
  list(cluster: string): string[] {
    return [...(this.#byCluster.get(cluster)?.values() ?? [])];
  }

  /** Whether nothing at all has been learned (the TFTP gate then skips the lookup). */
  get empty(): boolean {
    for (const names of this.#byCluster.values()) if (names.size > 0) return false;
    return true;
  }

  /** Forgets the clusters not in `clusters` (a reload removed them). */
  retain(clusters: Iterable<string>): void {
    const keep = new Set(clusters);
    for (const cluster of [...this.#byCluster.keys()]) if (!keep.has(cluster)) this.#byCluster.delete(cluster);
  }
}

/**
 * `configurationFile=` and its value, up to the next separator of the
 * support field (`;`, `,`, white space) or the end of the element. The value
 * is taken whole, whatever it holds, so an unsafe one (`../x.xml`, `a/b.xml`)
 * is seen as such and refused, never cut down to a safe-looking part of it.
 */
const ASSIGNMENT = new RegExp(`configurationFile[ \\t]{0,8}=[ \\t]{0,8}([^\\s<>;,&"']{1,${2 * MAX_FILE_NAME}})(?=[\\s<>;,&"'])`, 'gi');
/** Text kept from one chunk to the next: an assignment cut by a chunk boundary is found whole in the next scan. */
const CARRY = 'configurationFile'.length + 2 * 8 + 1 + 2 * MAX_FILE_NAME + 1;
/** Distinct values reported per file: a device file names one group file. */
const MAX_VALUES_PER_FILE = 8;
/** Bytes of a file scanned at most (plain text): device files are a few dozen KiB. */
export const MAX_SCANNED_BYTES = 4 * 1024 * 1024;

/**
 * Finds the `configurationFile=` values of one body, chunk by chunk, holding
 * back at most CARRY characters. Each distinct value is reported once, as
 * written (the caller decides whether it is a safe name).
 */
export class ConfigurationFileScanner {
  readonly #onValue: (value: string) => void;
  readonly #seen = new Set<string>();
  #carry = '';
  #scanned = 0;
  #done = false;

  constructor(onValue: (value: string) => void) {
    this.#onValue = onValue;
  }

  write(chunk: Buffer): void {
    if (this.#done) return;
    this.#scanned += chunk.length;
    if (this.#scanned > MAX_SCANNED_BYTES) {
      this.#done = true;
      return;
    }
    const text = this.#carry + chunk.toString('latin1');
    this.#scan(text);
    this.#carry = text.length > CARRY ? text.slice(-CARRY) : text;
  }

  /** The body is complete: a value that ends the body ends here. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#scan(`${this.#carry}\n`);
    this.#carry = '';
  }

  #scan(text: string): void {
    ASSIGNMENT.lastIndex = 0;
    for (let m = ASSIGNMENT.exec(text); m !== null; m = ASSIGNMENT.exec(text)) {
      const value = m[1]!;
      if (this.#seen.has(value)) continue;
      if (this.#seen.size >= MAX_VALUES_PER_FILE) {
        this.#done = true;
        return;
      }
      this.#seen.add(value);
      this.#onValue(value);
    }
  }
}

/**
 * Feeds a response body, as it goes to the client, to a scanner: plain, or
 * gzip/zlib-deflate coded (told apart by its first bytes, as the client
 * would by its Content-Encoding), with inflation bounded by MAX_SCANNED_BYTES.
 * Never alters, delays or fails the response: a body it cannot read is
 * simply not learned from.
 */
export class BodyTap {
  readonly #scanner: ConfigurationFileScanner;
  #mode: 'sniff' | 'plain' | 'coded' | 'off' = 'sniff';
  #head: Buffer | undefined;
  #decoder: zlib.Gunzip | zlib.Inflate | undefined;

  constructor(scanner: ConfigurationFileScanner) {
    this.#scanner = scanner;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#mode === 'sniff') {
      const head = this.#head === undefined ? chunk : Buffer.concat([this.#head, chunk]);
      if (head.length < 2) {
        this.#head = head;
        return;
      }
      this.#head = undefined;
      this.#start(head);
      chunk = head;
    }
    if (this.#mode === 'plain') this.#scanner.write(chunk);
    else if (this.#mode === 'coded') this.#decoder!.write(chunk);
  }

  end(): void {
    if (this.#mode === 'sniff' && this.#head !== undefined) {
      this.#mode = 'plain';
      this.#scanner.write(this.#head);
    }
    if (this.#mode === 'plain') this.#scanner.end();
    else if (this.#mode === 'coded') this.#decoder!.end();
    this.#mode = 'off';
  }

  /** The client went away: stop decoding. */
  abort(): void {
    this.#mode = 'off';
    this.#decoder?.destroy();
  }

  #start(head: Buffer): void {
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    // A zlib header: deflate method, and the header check that makes (CMF·256 + FLG) a multiple of 31.
    const deflate = (head[0]! & 0x0f) === 8 && (head[0]! * 256 + head[1]!) % 31 === 0;
    if (!gzip && !deflate) {
      this.#mode = 'plain';
      return;
    }
    this.#mode = 'coded';
    const decoder = gzip ? zlib.createGunzip() : zlib.createInflate();
    let inflated = 0;
    decoder.on('data', (plain: Buffer) => {
      inflated += plain.length;
      if (inflated > MAX_SCANNED_BYTES) return decoder.destroy();
      this.#scanner.write(plain);
    });
    decoder.on('end', () => this.#scanner.end());
    decoder.on('error', () => decoder.destroy());
    this.#decoder = decoder;
  }
}

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;
type End = (...args: unknown[]) => ServerResponse;

function bytesOf(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}

/**
 * Watches the body `res` sends (a 200 answer only), as it goes out: the
 * proxy writes it whole (`end(body)`) or streams it (`write`, `end`). What
 * the client gets is untouched; `configurationFile=` values are no URLs, so
 * the rewrite on the way has not changed them.
 */
export function tapResponse(res: ServerResponse, onValue: (value: string) => void): void {
  const tap = new BodyTap(new ConfigurationFileScanner(onValue));
  const write = res.write as unknown as Write;
  const end = res.end as unknown as End;
  const take = (chunk: unknown, encoding: unknown) => {
    if (res.statusCode !== 200) return;
    const bytes = bytesOf(chunk, encoding);
    if (bytes !== undefined) tap.write(bytes);
  };
  (res as unknown as { write: Write }).write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    take(chunk, rest[0]);
    return write.call(this, chunk, ...rest);
  };
  (res as unknown as { end: End }).end = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (typeof args[0] !== 'function') take(args[0], args[1]);
    if (res.statusCode === 200) tap.end();
    else tap.abort();
    return end.apply(this, args);
  };
  res.once('close', () => {
    if (!res.writableFinished) tap.abort();
  });
}
