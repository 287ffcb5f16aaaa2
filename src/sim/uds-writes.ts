/**
 * The record of UDS writes a simulated node carried out: every PUT, POST and
 * DELETE that reached a user's resource with valid credentials for that
 * user, logged once it is answered, so a test can count how often a
 * push-token registration or a remote-destination change ran (and prove a
 * write was never replayed). Requests refused before that (401, 403) are
 * only in the node's request record.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { UdsWrite } from './cucm-node-api.js';
import { requestSource } from './phone-actions.js';

export class UdsWriteLog {
  readonly writes: UdsWrite[] = [];
  readonly #events: EventEmitter;

  constructor(events: EventEmitter) {
    this.#events = events;
  }

  /** Records one write and emits 'uds-write'. */
  record(req: IncomingMessage, write: Omit<UdsWrite, 'time' | 'source' | 'forwardedFor' | 'method'>): UdsWrite {
    const from = requestSource(req);
    const entry: UdsWrite = {
      ...write,
      method: req.method ?? '',
      time: Date.now(),
      source: from.source,
      forwardedFor: from.forwardedFor,
    };
    this.writes.push(entry);
    this.#events.emit('uds-write', entry);
    return entry;
  }

  clear(): void {
    this.writes.length = 0;
  }
}
