/**
 * The slice of CUCM's database the simulated phone flows read and write:
 * EM PINs, who is logged in where, Personal Address Books, OAuth's refresh
 * tokens and keys (oauth-store.ts). Every node of a
 * real cluster reads one replicated database, so `startCucmCluster` hands
 * all its nodes the same instance; a node started alone builds its own.
 * Only an action that completes writes here: a node stopped mid-action
 * leaves the database as it was.
 */
import type { PabEntryInit, SimDatabase } from './cucm-node-api.js';
import { createOAuthState } from './oauth-store.js';

export interface SimDatabaseSeed {
  /** User id → EM PIN. */
  readonly emPins: Readonly<Record<string, string>>;
  /** User id → Personal Address Book entries. */
  readonly personalAddressBook: Readonly<Record<string, readonly PabEntryInit[]>>;
}

/** The default Personal Address Book: one entry, so list reads have something to show. */
export const DEFAULT_PAB: Readonly<Record<string, readonly PabEntryInit[]>> = {
  jdoe: [{ nickname: 'Erika', mobileNumber: '1004' }],
};

export function createSimDatabase(seed: SimDatabaseSeed): SimDatabase {
  let pkid = 1;
  const nextPkid = (): string => {
    // CUCM keys rows by UUID; a short counter keeps test URLs readable and is just as opaque to the phone.
    const id = `pab-${String(pkid).padStart(4, '0')}`;
    pkid++;
    return id;
  };
  const pab = new Map<string, Map<string, PabEntryInit>>();
  for (const [user, entries] of Object.entries(seed.personalAddressBook)) {
    pab.set(user, new Map(entries.map((entry) => [nextPkid(), { ...entry }])));
  }
  return {
    pins: new Map(Object.entries(seed.emPins)),
    emLogins: new Map(),
    pab,
    nextPkid,
    oauth: createOAuthState(),
  };
}
