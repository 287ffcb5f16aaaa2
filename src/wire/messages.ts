/**
 * The IPC vocabulary between the primary (control plane) and the workers
 * (data plane). Plain JSON: node:cluster serialises it (worker threads
 * clone it).
 */
import type { UcgateConfig, KeyType, NodeConfig } from '../config/types.js';

/** A certificate as a listener needs it. keyPem is secret: never log a message that carries one. */
export interface WireCertificate {
  readonly keyType: KeyType;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface NodeHealthUpdate {
  readonly cluster: string;
  readonly node: string;
  /** The verdict of the cluster's main check (healthCheck). */
  readonly healthy: boolean;
  /** Each service check's verdict (clusters[].serviceChecks), by service; absent when the cluster has none. */
  readonly services?: Readonly<Record<string, boolean>>;
  /** Drained by an operator (node maintenance): no new requests or sessions, sticky sessions still reach it. */
  readonly draining?: boolean;
}

export interface ListenerAddress {
  readonly name: string;
  readonly protocol: 'https' | 'http';
  readonly host: string;
  readonly port: number;
  readonly profile?: string;
}

/**
 * An ACME challenge response the data plane serves while the CA validates
 * (http-01: the key authorization for a token; tls-alpn-01: the acme-tls/1
 * certificate for an identifier). keyPem is secret: never log the message.
 */
export type WireChallenge =
  | { readonly type: 'http-01'; readonly token: string; readonly keyAuthorization: string }
  | { readonly type: 'tls-alpn-01'; readonly identifier: string; readonly certPem: string; readonly keyPem: string };

/**
 * Worker threads only: the port each port-0 listener (by name) is to join, as the first
 * thread bound it. Threads bind their own sockets (SO_REUSEPORT), so without this each
 * would be given a port of its own.
 */
export type SharedPorts = Readonly<Record<string, number>>;

export type PrimaryMessage =
  | { readonly t: 'init'; readonly config: UcgateConfig; readonly certificates: readonly WireCertificate[]; readonly ticketKeys: string; readonly ports?: SharedPorts }
  /** With `ackId`, the worker answers `ack` once the next handshake uses these. */
  | { readonly t: 'certificates'; readonly certificates: readonly WireCertificate[]; readonly ackId?: number }
  /** Answered with `ack` (same id) once applied, so the CA is told to validate only when every worker can answer. */
  | { readonly t: 'acme-challenge'; readonly id: number; readonly op: 'add' | 'remove'; readonly challenge: WireChallenge }
  | { readonly t: 'ticket-keys'; readonly ticketKeys: string }
  | { readonly t: 'health'; readonly updates: readonly NodeHealthUpdate[] }
  | { readonly t: 'sticky'; readonly cluster: string; readonly sessionId: string; readonly node: string }
  /**
   * Jabber group configuration file names a worker learned from the device files it passed
   * (src/tftp/learned-files.ts): reported to the primary, which hands new ones to every other
   * worker, and all of them to a worker that starts.
   */
  | { readonly t: 'tftp-files'; readonly cluster: string; readonly names: readonly string[] }
  | { readonly t: 'nodes'; readonly cluster: string; readonly nodes: readonly NodeConfig[]; readonly health: readonly NodeHealthUpdate[] }
  | { readonly t: 'metrics-request'; readonly id: number }
  | { readonly t: 'config'; readonly config: UcgateConfig; readonly ports?: SharedPorts }
  | { readonly t: 'shutdown'; readonly graceMs: number };

export type WorkerMessage =
  /** Sent once the worker listens for messages: `online` fires before ESM code has run, so `init` waits for this. */
  | { readonly t: 'hello' }
  | { readonly t: 'listening'; readonly listeners: readonly ListenerAddress[] }
  | { readonly t: 'start-failed'; readonly message: string }
  | { readonly t: 'config-applied'; readonly listeners: readonly ListenerAddress[] }
  | { readonly t: 'config-failed'; readonly message: string }
  | { readonly t: 'upstream-failure'; readonly cluster: string; readonly node: string; readonly class: string; readonly code: string; readonly message: string }
  | { readonly t: 'upstream-status'; readonly cluster: string; readonly node: string; readonly status: number; readonly retryAfterMs?: number }
  | { readonly t: 'sticky'; readonly cluster: string; readonly sessionId: string; readonly node: string }
  /** See the primary's `tftp-files`. */
  | { readonly t: 'tftp-files'; readonly cluster: string; readonly names: readonly string[] }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: unknown[] }
  /** A message that asked for it (`acme-challenge`, `certificates` with ackId) has been applied. */
  | { readonly t: 'ack'; readonly id: number };

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}
