/**
 * PKCS#10 certificate signing requests for an enterprise CA (RFC 2986). One
 * code path for RSA and ECDSA: @peculiar/x509 over node's WebCrypto
 * (node-forge only does RSA). The requested extensions travel in the
 * PKCS#9 extensionRequest attribute, which Microsoft AD CS and OpenSSL
 * (`-copy_extensions copy`) both honour.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, createPublicKey, createHash } from 'node:crypto';
import { isIP } from '../net/ip-address.js';
import type { KeyType } from '../config/types.js';

// @peculiar/x509 types its provider with the DOM's Crypto; node's webcrypto is that object.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface CsrOptions {
  /** The subject's CN: the gateway FQDN. */
  readonly commonName: string;
  /** DNS names and IP addresses, the common name first; each lands in the SAN request by its kind. */
  readonly subjectAltNames: readonly string[];
  readonly keyType: KeyType;
  /** Also request clientAuth, for CA templates that want it (mutual TLS towards CUCM). */
  readonly clientAuth?: boolean;
}

export interface GeneratedCsr {
  /** `-----BEGIN CERTIFICATE REQUEST-----` PEM. */
  readonly csrPem: string;
  /** PKCS#8 PEM of the new key. Secret: never log. */
  readonly keyPem: string;
  readonly keyType: KeyType;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex: names the key without revealing it. */
  readonly publicKeySha256: string;
}

/** What a CSR asks for, read back (tests, and anyone checking a CSR before sending it). */
export interface CsrInfo {
  readonly subject: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** Extended key usage OIDs, e.g. 1.3.6.1.5.5.7.3.1 for serverAuth. */
  readonly extendedKeyUsages: readonly string[];
  /** x509.KeyUsageFlags bits. */
  readonly keyUsage: number;
  readonly signatureValid: boolean;
  readonly publicKeySha256: string;
}

type Algorithm = (webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams) & { hash: string };

function algorithmFor(keyType: KeyType): Algorithm {
  switch (keyType) {
    case 'rsa-2048':
    case 'rsa-3072':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: keyType === 'rsa-2048' ? 2048 : 3072,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  }
}

function pem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** SHA-256 over a DER SubjectPublicKeyInfo, hex. */
export function publicKeySha256(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

/** A new key pair and a CSR signed with it. */
export async function createCsr(options: CsrOptions): Promise<GeneratedCsr> {
  const alg = algorithmFor(options.keyType);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const sans = options.subjectAltNames.map((name) => (isIP(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name }));
  const usages = [x509.ExtendedKeyUsage.serverAuth, ...(options.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [])];
  // keyEncipherment only makes sense for RSA (static RSA key exchange); an EC key never encrypts.
  const keyUsage =
    options.keyType === 'ecdsa-p256'
      ? x509.KeyUsageFlags.digitalSignature
      : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${escapeDn(options.commonName)}`,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(sans, false),
      new x509.ExtendedKeyUsageExtension(usages, false),
      new x509.KeyUsagesExtension(keyUsage, true),
    ],
  });
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return { csrPem: csr.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', keyDer), keyType: options.keyType, publicKeySha256: publicKeySha256(spki) };
}

/** Parses a CSR and checks its self-signature (the requester's proof that it holds the key). */
export async function describeCsr(csrPem: string): Promise<CsrInfo> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  // Re-read each extension by OID into its class: the CSR parser may hand back generic ones.
  const raw = (oid: string) => csr.getExtension(oid)?.rawData;
  const sanRaw = raw('2.5.29.17');
  const ekuRaw = raw('2.5.29.37');
  const kuRaw = raw('2.5.29.15');
  const names = sanRaw ? new x509.SubjectAlternativeNameExtension(sanRaw).names.items : [];
  const eku = ekuRaw ? new x509.ExtendedKeyUsageExtension(ekuRaw).usages : [];
  const ku = kuRaw ? new x509.KeyUsagesExtension(kuRaw).usages : 0;
  const spki = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
  return {
    subject: csr.subject,
    dnsNames: names.filter((name) => name.type === 'dns').map((name) => name.value),
    ipAddresses: names.filter((name) => name.type === 'ip').map((name) => name.value),
    extendedKeyUsages: Array.from(eku, String),
    keyUsage: ku,
    signatureValid: await csr.verify(),
    publicKeySha256: publicKeySha256(spki),
  };
}
