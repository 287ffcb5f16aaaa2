/**
 * What UDS writes into CUCM's database, as the simulated cluster keeps it:
 * push-notification tokens per device, remote destinations (Single Number
 * Reach, Dial via Office), speed dials, Conference Now settings, user
 * settings and UDS passwords. One replicated database serves every node of a
 * real cluster, so the state hangs off the cluster's `SimDatabase` (shared by
 * `startCucmCluster`) and a write on one node is read on every other.
 */
import type { SimDatabase } from './cucm-node-api.js';

/**
 * A device's push token, as `PUT .../device/{devicePkid}/devicetoken` sets it
 * (UDS Developer Guide, "New and Changed Information in Cisco Unified CM
 * Release 12.0(1)": `<token><pushNotifyToken><pushChannelType><key>
 * <algorithm>`; Release 14 adds `<application><payloadVersion><deviceToken>
 * <isCallKitDisabled>`). Every element as received, by name.
 */
export interface DeviceToken {
  readonly userId: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** One remote destination (UDS API Reference, remoteDestination). */
export interface RemoteDestination {
  readonly pkid: string;
  name: string;
  destination: string;
  ringWhenExtensionDialed: boolean;
  allowTransferToMobile: boolean;
  allowControlFromApplication: boolean;
  /** The remote destination profile or mobile device it belongs to, and how (0 SNR, 1 Application Control, 2 Dual Mode Mobile). */
  associatedDevice: { name: string; usage: number };
}

export interface SpeedDial {
  readonly index: number;
  readonly number: string;
  readonly label: string;
}

export interface UserSettings {
  displayName?: string;
  enableDoNotDisturb?: boolean;
  callForwardAllDestination?: string;
}

export interface LoginDetails {
  lastSuccessfulLogin: number | undefined;
  lastSuccessfulLoginIp: string | undefined;
  loginFailures: number;
}

export interface UdsStore {
  /** Device pkid → its token (at most one: "Each device can only ever have 1 user associated at a given time"). */
  readonly deviceTokens: Map<string, DeviceToken>;
  /** User id → remote destinations by pkid. */
  readonly remoteDestinations: Map<string, Map<string, RemoteDestination>>;
  readonly speedDials: Map<string, SpeedDial[]>;
  readonly conferenceNow: Map<string, { enabled: boolean; accessCode: string }>;
  readonly userSettings: Map<string, UserSettings>;
  /** Device pkid → the description a user set (PUT device). */
  readonly deviceDescriptions: Map<string, string>;
  /** User id → a password set through `PUT .../credentials` (the configured one otherwise). */
  readonly passwords: Map<string, string>;
  readonly logins: Map<string, LoginDetails>;
}

const stores = new WeakMap<SimDatabase, UdsStore>();

/** The UDS state of the cluster whose database is `db`, created empty on first use. */
export function udsStore(db: SimDatabase): UdsStore {
  let store = stores.get(db);
  if (store === undefined) {
    store = {
      deviceTokens: new Map(),
      remoteDestinations: new Map(),
      speedDials: new Map(),
      conferenceNow: new Map(),
      userSettings: new Map(),
      deviceDescriptions: new Map(),
      passwords: new Map(),
      logins: new Map(),
    };
    stores.set(db, store);
  }
  return store;
}
