/**
 * Secrets encrypted at rest: values stored with `{ secret: true }` (private
 * keys, the ACME account key, tls-alpn-01 keys) are sealed with AES-256-GCM
 * before they leave the process, so whoever can read Redis — a replica, a
 * backup, `redis-cli GET` — holds no usable key without the store key.
 *
 * The store key is 32 random bytes, base64, from the file
 * `certificates.store.keyFile` (mode 0600 or stricter, like the admin token)
 * or from the environment variable `UCGATE_STORE_KEY` (a Kubernetes Secret).
 * Make one with `openssl rand -base64 32`. Every instance sharing a store
 * needs the same key.
 *
 * A sealed value is self-describing text:
 *   ucgate:enc:v1:<key id>:<base64(iv ‖ tag ‖ ciphertext)>
 * The storage key is the GCM additional data, so a sealed value copied to
 * another key does not open. The key id (a hash prefix, not the key) tells
 * an operator which key a value needs.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Appender, Locker, Storage, StoreOptions } from './storage.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** The environment variable that can carry the store key. */
export const STORE_KEY_ENV = 'UCGATE_STORE_KEY';

const MAGIC = 'ucgate:enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The 32-byte AES-256-GCM key that seals secret values; never logged, never stored. */
export class StoreKey {
  readonly #key: Buffer;
  /** First 8 hex digits of SHA-256 over the key: names it without revealing it. */
  readonly id: string;
  /** Where it came from, for messages: a file path or the variable's name. */
  readonly source: string;

  constructor(key: Buffer, source: string) {
    if (key.length !== 32) throw new UcgateError(ErrorCodes.STORE_KEY, `${source}: the store key must be 32 bytes (base64), got ${key.length}`, { exitCode: 2 });
    this.#key = Buffer.from(key);
    this.id = createHash('sha256').update(key).digest('hex').slice(0, 8);
    this.source = source;
  }

  /** Parses base64 text (surrounding whitespace ignored). */
  static fromBase64(text: string, source: string): StoreKey {
    const trimmed = text.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw new UcgateError(ErrorCodes.STORE_KEY, `${source}: the store key must be base64 (openssl rand -base64 32)`, { exitCode: 2 });
    return new StoreKey(Buffer.from(trimmed, 'base64'), source);
  }

  seal(storageKey: string, plaintext: Buffer): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(`ucgate-store:${storageKey}`));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `${MAGIC}${this.id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(storageKey: string, sealed: Buffer): Buffer {
    const text = sealed.toString('latin1').trim();
    const rest = text.slice(MAGIC.length);
    const colon = rest.indexOf(':');
    const keyId = rest.slice(0, colon);
    const raw = Buffer.from(rest.slice(colon + 1), 'base64');
    if (colon < 0 || raw.length < IV_BYTES + TAG_BYTES) throw new UcgateError(ErrorCodes.STORE_DECRYPT, `${storageKey}: malformed encrypted value`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`ucgate-store:${storageKey}`));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (err) {
      const why = keyId === this.id ? 'it was altered, or moved from another key' : `it was sealed with store key ${keyId}, this is ${this.id}`;
      throw new UcgateError(ErrorCodes.STORE_DECRYPT, `${storageKey}: cannot decrypt: ${why}`, { cause: err });
    }
  }
}

/** Whether a stored value is sealed. */
export function isSealed(value: Buffer | string): boolean {
  return (typeof value === 'string' ? value : value.subarray(0, MAGIC.length).toString('latin1')).startsWith(MAGIC);
}

/**
 * The store key from `keyFile` (checked: a regular file, not readable by
 * group or others) or else from `UCGATE_STORE_KEY`; undefined when neither
 * is given.
 */
export async function loadStoreKey(keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<StoreKey | undefined> {
  if (keyFile) {
    const info = await stat(keyFile).catch((err: Error) => {
      throw new UcgateError(ErrorCodes.STORE_KEY, `certificates.store.keyFile: cannot read ${keyFile}: ${err.message}`, { exitCode: 2, cause: err });
    });
    if (!info.isFile()) throw new UcgateError(ErrorCodes.STORE_KEY, `certificates.store.keyFile: ${keyFile} is not a file`, { exitCode: 2 });
    if ((info.mode & 0o077) !== 0) {
      throw new UcgateError(
        ErrorCodes.STORE_KEY,
        `certificates.store.keyFile: ${keyFile} is readable by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`,
        { exitCode: 2 },
      );
    }
    return StoreKey.fromBase64(await readFile(keyFile, 'utf8'), keyFile);
  }
  const fromEnv = env[STORE_KEY_ENV];
  return fromEnv ? StoreKey.fromBase64(fromEnv, STORE_KEY_ENV) : undefined;
}

/**
 * Seals secret values on the way in and opens sealed ones on the way out;
 * everything else passes through untouched (certificates, pointers, the
 * audit log), so the store stays readable for people where nothing is secret.
 */
export class EncryptedStorage implements Storage, Locker, Appender {
  readonly #inner: Storage & Locker & Appender;
  readonly #key: StoreKey;

  constructor(inner: Storage & Locker & Appender, key: StoreKey) {
    this.#inner = inner;
    this.#key = key;
  }

  async load(key: string): Promise<Buffer> {
    const value = await this.#inner.load(key);
    return isSealed(value) ? this.#key.open(key, value) : value;
  }

  async store(key: string, value: string | Buffer, options: StoreOptions = {}): Promise<void> {
    const out = options.secret ? this.#key.seal(key, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')) : value;
    await this.#inner.store(key, out, options);
  }

  append(key: string, data: string | Buffer): Promise<void> {
    return this.#inner.append(key, data);
  }

  exists(key: string): Promise<boolean> {
    return this.#inner.exists(key);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }

  lock(name: string): Promise<() => Promise<void>> {
    return this.#inner.lock(name);
  }
}
