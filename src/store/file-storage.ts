/**
 * The embedded default store: one file per key under `certificates.dir`.
 * Leftover temp files from a write killed midway are swept on open.
 */
import { readFile, stat, unlink, readdir, mkdir, open, chmod, rename, link } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import { hostname } from 'node:os';
import type { Appender, Locker, Storage, StoreOptions } from './storage.js';
import { writeFileAtomic } from './atomic-file.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** `.name.<12 hex>.p<pid>.tmp` (atomic-file.ts), or without the pid as older versions wrote them. */
const TEMP_FILE = /^\..+\.[0-9a-f]{12}(?:\.p(\d+))?\.tmp$/;
const STALE_LOCK_MS = 600_000;
const EMPTY_LOCK_MS = 10_000;

/** What a lock file holds: `<pid>@<host>`, so a waiter on the same host can tell a dead holder. */
const lockOwner = () => `${process.pid}@${hostname()}`;

/**
 * Whether a lock file may be taken over: older than 10 minutes, empty for
 * seconds (its holder died between creating and writing it), or held by a
 * process of this host that is gone.
 */
function abandoned(content: string, ageMs: number): boolean {
  if (ageMs > STALE_LOCK_MS) return true;
  if (content === '') return ageMs > EMPTY_LOCK_MS;
  return holderIsDead(content);
}

/**
 * Whether the lock file's holder is a process on this host that no longer
 * exists (killed with SIGKILL, crashed, the machine lost power mid-write).
 * Anything else — another host, an older bare-pid file, unreadable contents,
 * a pid that exists or that we may not signal — counts as alive, and only the
 * age rule applies.
 */
function holderIsDead(content: string): boolean {
  const match = /^(\d+)@(.+)$/.exec(content.trim());
  if (!match || match[2] !== hostname()) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * A temp file nobody will rename any more: its writer (named in it) is gone,
 * it is older than a write can take, or it predates pids in temp names.
 */
async function tempAbandoned(name: string, path: string): Promise<boolean> {
  const match = TEMP_FILE.exec(name);
  if (!match) return false;
  if (match[1] === undefined) return true;
  const pid = Number(match[1]);
  if (pid !== process.pid && holderIsDead(`${pid}@${hostname()}`)) return true;
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > STALE_LOCK_MS;
}

export class FileStorage implements Storage, Locker, Appender {
  readonly #root: string;
  readonly #locks = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#root = resolve(root);
  }

  get root(): string {
    return this.#root;
  }

  /** Creates the folder (0700) and removes temp files a crashed write left behind. */
  async open(): Promise<this> {
    await mkdir(this.#root, { recursive: true, mode: 0o700 });
    // An existing folder keeps whatever mode it was made with; keys live here, so close it.
    await chmod(this.#root, 0o700).catch(() => undefined);
    await this.#sweep(this.#root);
    return this;
  }

  /** The file behind a key; only listing may name the store folder itself. */
  #path(key: string, allowRoot = false): string {
    const path = resolve(this.#root, ...key.split('/'));
    if (path === this.#root ? !allowRoot : !path.startsWith(this.#root + sep)) {
      throw new UcgateError(ErrorCodes.STORE_IO, `storage key escapes the store or names it: ${JSON.stringify(key)}`);
    }
    return path;
  }

  async load(key: string): Promise<Buffer> {
    return readFile(this.#path(key));
  }

  async store(key: string, value: string | Buffer, options: StoreOptions = {}): Promise<void> {
    await writeFileAtomic(this.#path(key), value, options.secret ? 0o600 : 0o644);
  }

  /** O_APPEND then fsync: concurrent appenders never overwrite each other's lines. */
  async append(key: string, data: string | Buffer): Promise<void> {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const handle = await open(path, 'a', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.#path(key));
      return true;
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.#path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const entries = await readdir(this.#path(prefix, true));
      return entries.filter((name) => !TEMP_FILE.test(name)).sort().map((name) => (prefix ? `${prefix}/${name}` : name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /**
   * In-process serialisation plus an exclusive lock file, so two ucgate
   * processes on one store (a CLI command beside a running gateway) do not
   * both write the same certificate. A lock file is taken over when its
   * holder is a process of this host that is gone (an import killed midway
   * must not block renewals), or when it is older than 10 minutes.
   */
  async lock(name: string): Promise<() => Promise<void>> {
    while (this.#locks.has(name)) await this.#locks.get(name);
    let release!: () => void;
    this.#locks.set(name, new Promise<void>((done) => (release = done)));
    const file = this.#path(`locks/${name}.lock`);
    await mkdir(join(this.#root, 'locks'), { recursive: true, mode: 0o700 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const handle = await open(file, 'wx', 0o600);
        await handle.writeFile(lockOwner());
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          this.#locks.delete(name);
          release();
          throw err;
        }
        const info = await stat(file).catch(() => undefined);
        const judged = info ? await readFile(file, 'utf8').catch(() => '') : '';
        if (info && abandoned(judged, Date.now() - info.mtimeMs)) {
          await this.#removeAbandoned(file, judged);
          continue;
        }
        if (Date.now() > deadline) {
          this.#locks.delete(name);
          release();
          throw new UcgateError(ErrorCodes.STORE_IO, `timed out waiting for lock ${name}`);
        }
        await new Promise((done) => setTimeout(done, 100));
      }
    }
    return async () => {
      await unlink(file).catch(() => undefined);
      this.#locks.delete(name);
      release();
    };
  }

  /**
   * Moves the abandoned lock file aside (atomic), then checks it is still the
   * one judged: another waiter may have removed it and taken a fresh lock in
   * between, and a plain unlink would then delete a live lock. A fresh one
   * moved aside by mistake is linked back.
   */
  async #removeAbandoned(file: string, judged: string): Promise<void> {
    const aside = `${file}.${randomBytes(6).toString('hex')}.abandoned`;
    if (!(await rename(file, aside).then(() => true, () => false))) return;
    const moved = await readFile(aside, 'utf8').catch(() => judged);
    if (moved !== judged) await link(aside, file).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
  }

  async #sweep(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await this.#sweep(path);
      else if (await tempAbandoned(entry.name, path)) await unlink(path).catch(() => undefined);
    }
  }
}
