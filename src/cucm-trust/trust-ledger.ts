/**
 * What ucgate has put into CUCM trust stores, kept in the certificate store
 * so that every process sharing it (the CLI that imported, the gateway that
 * removes after the grace period, another instance on Redis) sees the same
 * record. Only leaves ucgate published itself are ever removed by it.
 */
import type { KeyType } from '../config/types.js';
import type { Storage } from '../store/storage.js';
import { loadText } from '../store/storage.js';

export const LEDGER_KEY = 'cucm-trust/published.json';

/** One cluster that holds the leaf. */
export interface PublishedTarget {
  readonly cluster: string;
  readonly url: string;
  readonly stores: readonly string[];
  /** ms since the epoch. */
  readonly publishedAt: number;
}

export interface PublishedLeaf {
  readonly fingerprint: string;
  readonly serial: string;
  readonly keyType: KeyType;
  readonly subject: string;
  /** The leaf itself (public): removal needs nothing else. */
  readonly leafPem: string;
  readonly targets: readonly PublishedTarget[];
  /** When another leaf took its place in service; the grace period runs from here. */
  readonly supersededAt?: number;
  readonly removeAt?: number;
  /** Clusters it has been removed from (all of them: the entry is done). */
  readonly removedFrom?: readonly string[];
  readonly removedAt?: number;
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
