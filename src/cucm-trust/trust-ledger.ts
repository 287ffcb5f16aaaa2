/**
 * What ucgate has put into CUCM trust stores, kept in the certificate store
 * so that every process sharing it (the CLI that imported, the gateway that
 * removes after the grace period, another instance on Redis) sees the same
 * record. Only leaves ucgate published itself are ever removed by it.
 *
 * One target per CUCM server (node): Cisco's certificate API is per server.
 * A node without the API (CUCM before 14) waits in `awaiting` until an
 * administrator has uploaded the leaf by hand and said so (`ucgate cert
 * confirm-trust`); it then holds the leaf like any other target, `manual`.
 */
import type { KeyType } from '../config/types.js';
import type { Storage } from '../store/storage.js';
import { loadText } from '../store/storage.js';

export const LEDGER_KEY = 'cucm-trust/published.json';

/** One server that holds the leaf. */
export interface PublishedTarget {
  readonly cluster: string;
  /** The server; absent in entries written before publishing went per node (they meant the publisher). */
  readonly node?: string;
  readonly url: string;
  readonly stores: readonly string[];
  /** ms since the epoch: when the API took it, or when an administrator confirmed it. */
  readonly publishedAt: number;
  /** When the server's trust-store listing last showed the leaf in every store. */
  readonly verifiedAt?: number;
  /** Uploaded by hand (no certificate API on that server): removing it is by hand too. */
  readonly manual?: true;
  /** Who confirmed a manual upload: `cli` (in the store) or `api` (through a running gateway). */
  readonly confirmedBy?: string;
}

/** One server without the certificate API, waiting for an administrator's confirmation. */
export interface AwaitingTarget {
  readonly cluster: string;
  readonly node: string;
  readonly url: string;
  readonly stores: readonly string[];
  /** ms since the epoch: when the API answered 404. */
  readonly since: number;
}

export interface PublishedLeaf {
  readonly fingerprint: string;
  readonly serial: string;
  readonly keyType: KeyType;
  readonly subject: string;
  /** The leaf itself (public): removal, and an administrator's upload by hand, need nothing else. */
  readonly leafPem: string;
  readonly targets: readonly PublishedTarget[];
  /** Servers that have no certificate API and wait for `ucgate cert confirm-trust`. */
  readonly awaiting?: readonly AwaitingTarget[];
  /** When another leaf took its place in service; the grace period runs from here. */
  readonly supersededAt?: number;
  readonly removeAt?: number;
  /** Targets it has been removed from (`targetKey`s; all of them: the entry is done). */
  readonly removedFrom?: readonly string[];
  /** Of those, the ones an administrator has to remove by hand (no API there). */
  readonly removeByHand?: readonly string[];
  readonly removedAt?: number;
}

/** How a target is named in `removedFrom`, logs and status: `cluster/node` (just `cluster` for old entries). */
export function targetKey(target: { readonly cluster: string; readonly node?: string | undefined }): string {
  return target.node === undefined ? target.cluster : `${target.cluster}/${target.node}`;
}

export async function loadLedger(storage: Storage): Promise<PublishedLeaf[]> {
  const text = await loadText(storage, LEDGER_KEY);
  if (!text) return [];
  const parsed = JSON.parse(text) as { leaves?: PublishedLeaf[] };
  return Array.isArray(parsed.leaves) ? parsed.leaves : [];
}

export async function saveLedger(storage: Storage, leaves: readonly PublishedLeaf[]): Promise<void> {
  await storage.store(LEDGER_KEY, JSON.stringify({ leaves }, null, 1) + '\n');
}
