/**
 * How an instance learns that another one activated a certificate:
 *
 * 1. pub/sub: RedisStorage publishes on `{<prefix>}:certificates` in the same
 *    script that writes an `active` pointer; every instance is subscribed, so
 *    all of them reload within a round trip;
 * 2. a periodic check (default every 30 s) compares the `active` pointers in
 *    the store with the serials being served, because pub/sub is
 *    fire-and-forget: a message sent while an instance was disconnected is
 *    gone;
 * 3. the same check right after the connection comes back, so instances
 *    converge as soon as Redis returns.
 *
 * It only notices and reports (`change` events); reloading is the primary's job.
 */
import { EventEmitter } from 'node:events';
import type { Clock, ClockTimer } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import type { KeyType } from '../config/types.js';
import type { Storage } from './storage.js';
import { loadText } from './storage.js';
import type { RedisClient, RedisConnection, RedisKeyspace } from './redis-client.js';
import { CERTIFICATES_CHANNEL, type ActivationMessage } from './redis-storage.js';

/** A certificate served here differs from the store's: reload. */
export interface StoreChange {
  readonly keyType: KeyType;
  /** The serial the store says is active. */
  readonly serial: string;
  readonly via: 'message' | 'check' | 'reconnect';
}

/** The connection to listen on, the store to check, and what this instance serves. */
export interface StoreEventsOptions {
  readonly connection: RedisConnection;
  readonly keyspace: RedisKeyspace;
  readonly storage: Storage;
  readonly instanceId: string;
  readonly keyTypes: readonly KeyType[];
  /** The serial this instance serves for a key type, if any. */
  readonly servedSerial: (keyType: KeyType) => string | undefined;
  readonly checkIntervalMs: number;
  readonly clock?: Clock;
  readonly log?: Logger;
}

/** Emits `change` (StoreChange). */
export class StoreEvents extends EventEmitter {
  readonly #options: StoreEventsOptions;
  readonly #clock: Clock;
  #subscriber: RedisClient | undefined;
  #timer: ClockTimer | undefined;
  #stopped = false;
  readonly #onUp = () => void this.check('reconnect');

  constructor(options: StoreEventsOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Subscribes (in the background: a store that is down now is subscribed once it is back) and starts the checks. */
  start(): this {
    const { connection, keyspace, log } = this.#options;
    const channel = keyspace.channel(CERTIFICATES_CHANNEL);
    const subscriber = connection.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('message', (from: string, text: string) => {
      if (from === channel) this.#onMessage(text);
    });
    // ioredis re-subscribes by itself after a reconnect (autoResubscribe); this is the first subscription only.
    subscriber.subscribe(channel).catch((err: Error) => log?.warn({ event: 'store_subscribe_failed', err: err.message }, 'could not subscribe to certificate announcements yet'));
    connection.on('up', this.#onUp);
    this.#schedule();
    return this;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#options.connection.off('up', this.#onUp);
    this.#subscriber?.disconnect();
  }

  /** Compares the store's active serials with the served ones; resolves with the differences found (also emitted). */
  async check(via: StoreChange['via'] = 'check'): Promise<StoreChange[]> {
    const { storage, keyTypes, servedSerial, log } = this.#options;
    const changes: StoreChange[] = [];
    for (const keyType of keyTypes) {
      let serial: string | undefined;
      try {
        serial = (await loadText(storage, `certificates/${keyType}/active`))?.trim();
      } catch (err) {
        // Down (this reads Redis itself, not the local copy): nothing to compare; the next check tries again.
        log?.debug({ event: 'store_check_failed', keyType, err: (err as Error).message }, 'store check failed');
        continue;
      }
      if (serial && serial !== servedSerial(keyType)) changes.push({ keyType, serial, via });
    }
    for (const change of changes) this.emit('change', change);
    return changes;
  }

  #onMessage(text: string): void {
    const { instanceId, keyTypes, servedSerial, log } = this.#options;
    let message: ActivationMessage;
    try {
      message = JSON.parse(text) as ActivationMessage;
    } catch {
      log?.warn({ event: 'store_message_invalid' }, 'ignored a malformed certificate announcement');
      return;
    }
    // Our own activation: the manager that wrote it already serves it.
    if (message.origin === instanceId) return;
    const keyType = keyTypes.find((candidate) => candidate === message.keyType);
    if (!keyType || typeof message.serial !== 'string' || message.serial === servedSerial(keyType)) return;
    this.emit('change', { keyType, serial: message.serial, via: 'message' } satisfies StoreChange);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.check('check').finally(() => this.#schedule());
    }, this.#options.checkIntervalMs);
    this.#timer.unref?.();
  }
}
