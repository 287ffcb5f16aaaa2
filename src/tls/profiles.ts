/**
 * TLS profiles for the client-facing listeners.
 * - modern: TLS 1.2 with ECDHE + AEAD only, and TLS 1.3 (passes testssl.sh).
 * - compatible: TLS 1.2+, adding the CBC and static-RSA suites older 7800/8800
 *   firmware offers.
 * - legacy: TLS 1.0+ with RSA key exchange and AES-CBC-SHA for 79xx/99xx
 *   phones. OpenSSL 3 refuses these at its default security level, hence
 *   @SECLEVEL=0; only ever on a listener that asks for it.
 */
import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { TlsProfileName } from '../config/types.js';

const MODERN_TLS12 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
const COMPATIBLE_EXTRA = [
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA256',
  'AES256-SHA256',
];
const LEGACY_EXTRA = ['ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA', 'AES128-SHA', 'AES256-SHA'];
const TLS13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

// Client renegotiation is a DoS lever and has no use here; compression invites CRIME.
const HARDENING = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE;

export interface TlsProfile {
  readonly name: TlsProfileName;
  readonly options: Readonly<SecureContextOptions> & { readonly honorCipherOrder: boolean };
}

const PROFILES: Record<TlsProfileName, TlsProfile> = {
  modern: {
    name: 'modern',
    options: {
      minVersion: 'TLSv1.2',
      ciphers: `${TLS13}:${MODERN_TLS12.join(':')}`,
      ecdhCurve: 'X25519:P-256:P-384',
      honorCipherOrder: true,
      secureOptions: HARDENING,
    },
  },
  compatible: {
    name: 'compatible',
    options: {
      minVersion: 'TLSv1.2',
      ciphers: `${TLS13}:${[...MODERN_TLS12, ...COMPATIBLE_EXTRA].join(':')}`,
      ecdhCurve: 'X25519:P-256:P-384',
      honorCipherOrder: true,
      secureOptions: HARDENING,
    },
  },
  legacy: {
    name: 'legacy',
    options: {
      minVersion: 'TLSv1',
      ciphers: `${TLS13}:${[...MODERN_TLS12, ...COMPATIBLE_EXTRA, ...LEGACY_EXTRA].join(':')}:@SECLEVEL=0`,
      ecdhCurve: 'X25519:P-256:P-384',
      honorCipherOrder: true,
      secureOptions: HARDENING,
    },
  },
};

export function tlsProfile(name: TlsProfileName): TlsProfile {
  return PROFILES[name];
}
