/**
 * Telling the shared (Redis) store apart without loading it: the primary asks
 * on every start, and importing shared-store.js would pull ioredis into
 * deployments on the file store.
 */
import type { SharedStore } from './shared-store.js';
import { SHARED_STORE_BRAND } from './storage.js';

/** Whether a store from openStorage is the shared (Redis) one, with status, watch and close. */
export function isSharedStore(storage: unknown): storage is SharedStore {
  return typeof storage === 'object' && storage !== null && (storage as { [SHARED_STORE_BRAND]?: unknown })[SHARED_STORE_BRAND] === true;
}
