/**
 * The smallest keys ucgate will serve, and which key-type slot of the store a
 * key belongs in. Imported certificates come from other people's CAs, so
 * their keys are checked here rather than trusted because they were signed.
 */
import type { KeyObject } from 'node:crypto';
import type { KeyType } from '../config/types.js';

/** RSA below this is breakable on a budget (NIST SP 800-131A disallows it since 2014). */
export const MIN_RSA_BITS = 2048;

/** Curves at least as strong as P-256; anything else (P-192, P-224, brainpool, secp256k1) is refused. */
const ACCEPTED_CURVES = new Map([
  ['prime256v1', 'P-256'],
  ['secp384r1', 'P-384'],
  ['secp521r1', 'P-521'],
]);

/** A short, human description of a key: `RSA 2048 bits`, `EC P-256`. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return `RSA ${details.modulusLength ?? '?'} bits`;
  if (key.asymmetricKeyType === 'ec') return `EC ${ACCEPTED_CURVES.get(details.namedCurve ?? '') ?? details.namedCurve ?? '?'}`;
  return (key.asymmetricKeyType ?? 'unknown').toUpperCase();
}

/**
 * Why `key` (public or private) is too weak or of a kind ucgate cannot serve,
 * or undefined when it is acceptable: RSA ≥ 2048 bits, EC on P-256 or stronger.
 */
export function keyWeakness(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      return bits >= MIN_RSA_BITS ? undefined : `weak key: RSA ${bits} bits (at least ${MIN_RSA_BITS} required)`;
    }
    case 'ec':
      return ACCEPTED_CURVES.has(details.namedCurve ?? '')
        ? undefined
        : `weak key: EC curve ${details.namedCurve ?? 'unknown'} (P-256 or stronger required)`;
    default:
      // RSA-PSS-only, Ed25519, DSA: clients phones and Jabber use cannot all verify them.
      return `unsupported key algorithm ${describeKey(key)} (RSA or EC required)`;
  }
}

/**
 * The configured key type whose slot a key fills: RSA keys take the RSA slot
 * (the exact size when configured), EC keys the ECDSA slot. Undefined when the
 * configuration has no slot of that family.
 */
export function slotForKey(key: KeyObject, configured: readonly KeyType[]): KeyType | undefined {
  if (key.asymmetricKeyType === 'ec') return configured.find((type) => type === 'ecdsa-p256');
  if (key.asymmetricKeyType !== 'rsa') return undefined;
  const exact = `rsa-${key.asymmetricKeyDetails?.modulusLength ?? 0}` as KeyType;
  return configured.includes(exact) ? exact : configured.find((type) => type.startsWith('rsa-'));
}
