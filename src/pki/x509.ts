/**
 * Key and certificate generation for RSA and ECDSA alike. node-forge only
 * does RSA, so certificates are built with @peculiar/x509 over node's
 * WebCrypto; private keys leave this module as PKCS#8 PEM.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes, createPrivateKey } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { isIP } from '../net/ip-address.js';
import type { KeyType } from '../config/types.js';

// @peculiar/x509 types its provider with the DOM's Crypto; node's webcrypto is that object.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Algorithm = webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;

function algorithmFor(keyType: KeyType): Algorithm & { hash: string } {
  switch (keyType) {
    case 'rsa-2048':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    case 'rsa-3072':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  }
}

export interface KeyAndCertificate {
  /** PEM of the certificate alone. */
  readonly certPem: string;
  /** PKCS#8 PEM. Secret: never log. */
  readonly keyPem: string;
  readonly keyType: KeyType;
}

export interface CaOptions {
  readonly commonName: string;
  readonly keyType?: KeyType;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export interface LeafOptions {
  readonly issuer: KeyAndCertificate;
  readonly commonName: string;
  /** DNS names and IP addresses; each lands in the SAN extension by its kind. */
  readonly subjectAltNames: readonly string[];
  readonly keyType?: KeyType;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly clientAuth?: boolean;
}

const DAY_MS = 86_400_000;

function serialNumber(): string {
  // Positive 16-byte serial: clear the top bit so DER needs no sign byte.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function generateKeys(keyType: KeyType): Promise<CryptoKeyPair> {
  const alg = algorithmFor(keyType);
  return (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

async function importSigningKey(keyPem: string, keyType: KeyType): Promise<CryptoKey> {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, algorithmFor(keyType), false, ['sign']);
}

/** The key type of a PEM private key, from its algorithm and size. */
export function keyTypeOf(keyPem: string): KeyType {
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType === 'ec') return 'ecdsa-p256';
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  return bits >= 3072 ? 'rsa-3072' : 'rsa-2048';
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** A self-signed CA certificate that may sign leaves (pathLen 0). */
export async function createCa(options: CaOptions): Promise<KeyAndCertificate> {
  const keyType = options.keyType ?? 'ecdsa-p256';
  const keys = await generateKeys(keyType);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${escapeDn(options.commonName)}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithmFor(keyType),
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey), keyType };
}

/** A server leaf signed by `issuer`, with SANs split into DNS and IP entries. */
export async function issueLeaf(options: LeafOptions): Promise<KeyAndCertificate> {
  const keyType = options.keyType ?? 'rsa-2048';
  const keys = await generateKeys(keyType);
  const issuerCert = new x509.X509Certificate(options.issuer.certPem);
  const signingKey = await importSigningKey(options.issuer.keyPem, options.issuer.keyType);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS);
  const sans = options.subjectAltNames.map((name) =>
    isIP(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name },
  );
  const usages = [x509.ExtendedKeyUsage.serverAuth, ...(options.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [])];
  const keyUsage =
    keyType === 'ecdsa-p256'
      ? x509.KeyUsageFlags.digitalSignature
      : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${escapeDn(options.commonName)}`,
    issuer: issuerCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: algorithmFor(options.issuer.keyType),
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsage, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      new x509.SubjectAlternativeNameExtension(sans, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuerCert, false),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey), keyType };
}
