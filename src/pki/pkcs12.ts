/**
 * Reading PKCS#12 (.pfx/.p12) bundles, as Windows, Java keytool and most
 * enterprise CAs export them. node-forge reads both the modern encoding
 * (PBES2/AES-256, SHA-256 MAC) and the legacy one (RC2-40 and 3DES, SHA-1 MAC)
 * that OpenSSL 3 refuses without its legacy provider. forge parses only RSA
 * keys and certificates; for anything else it leaves the decrypted ASN.1 in
 * `bag.asn1`, which node:crypto reads (TOOLS.md).
 */
import forge from 'node-forge';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { UcgateError, ErrorCodes } from '../errors.js';

export interface Pkcs12Contents {
  /** The private key. Secret: never log. */
  readonly key: KeyObject;
  /** The certificate whose public key matches `key`. */
  readonly leaf: X509Certificate;
  /** Every other certificate in the bundle, in bundle order (intermediates, often the root). */
  readonly others: readonly X509Certificate[];
}

const CERT_BAG = forge.pki.oids.certBag!;
const KEY_BAGS = new Set([forge.pki.oids.keyBag, forge.pki.oids.pkcs8ShroudedKeyBag]);

function bad(code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, cause?: unknown): UcgateError {
  return new UcgateError(code, message, { exitCode: 2, cause });
}

function derOf(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

function certificateOf(bag: forge.pkcs12.Bag): X509Certificate {
  // forge re-encodes an RSA certificate from the TBS bytes it captured, so the DER is the original.
  const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : (bag.asn1 as forge.asn1.Asn1 | undefined);
  if (!asn1) throw bad(ErrorCodes.CERT_INPUT, 'the PKCS#12 bundle holds a certificate bag without a certificate');
  return new X509Certificate(derOf(asn1));
}

function keyOf(bag: forge.pkcs12.Bag): KeyObject {
  if (bag.key) {
    const info = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key as forge.pki.rsa.PrivateKey));
    return createPrivateKey({ key: derOf(info), format: 'der', type: 'pkcs8' });
  }
  if (!bag.asn1) throw bad(ErrorCodes.CERT_INPUT, 'the PKCS#12 bundle holds a key bag without a key');
  return createPrivateKey({ key: derOf(bag.asn1 as forge.asn1.Asn1), format: 'der', type: 'pkcs8' });
}

/**
 * Decrypts a PKCS#12 bundle and picks out its key and the certificate that
 * belongs to it. Throws a UcgateError (exit 2) naming what is wrong: not a
 * PKCS#12 file, wrong passphrase, no key, several keys, no matching certificate.
 *
 * The passphrase is used as PKCS#12 wants it (BMPString); non-ASCII
 * passphrases on PBES2 bundles may not match what OpenSSL derived.
 */
export function readPkcs12(der: Buffer, passphrase: string): Pkcs12Contents {
  if (der.length === 0) throw bad(ErrorCodes.CERT_INPUT, 'the PKCS#12 file is empty');
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(der.toString('binary'));
  } catch (err) {
    throw bad(ErrorCodes.CERT_INPUT, 'not a PKCS#12 file (not DER)', err);
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
  } catch (err) {
    const message = (err as Error).message ?? '';
    // forge has no error codes: its message is the only signal, read once here at the boundary.
    if (/MAC could not be verified|Invalid password/i.test(message)) {
      throw bad(ErrorCodes.CERT_PKCS12_PASSPHRASE, 'wrong passphrase for the PKCS#12 bundle (its MAC does not verify)', err);
    }
    if (/not an PKCS#12 PFX|Unsupported PKCS#12/i.test(message)) throw bad(ErrorCodes.CERT_INPUT, 'not a PKCS#12 file', err);
    throw bad(ErrorCodes.CERT_INPUT, `cannot read the PKCS#12 bundle (wrong passphrase or damaged file): ${message.split('\n')[0]}`, err);
  }
  const certificates: X509Certificate[] = [];
  const keys: KeyObject[] = [];
  for (const contents of p12.safeContents) {
    for (const bag of contents.safeBags) {
      try {
        if (bag.type === CERT_BAG) certificates.push(certificateOf(bag));
        else if (KEY_BAGS.has(bag.type)) keys.push(keyOf(bag));
      } catch (err) {
        if (err instanceof UcgateError) throw err;
        throw bad(ErrorCodes.CERT_INPUT, `the PKCS#12 bundle holds an unreadable ${bag.type === CERT_BAG ? 'certificate' : 'key'}`, err);
      }
    }
  }
  if (keys.length === 0) throw bad(ErrorCodes.CERT_INPUT, 'the PKCS#12 bundle holds no private key');
  if (keys.length > 1) throw bad(ErrorCodes.CERT_INPUT, `the PKCS#12 bundle holds ${keys.length} private keys; export the one for the gateway alone`);
  if (certificates.length === 0) throw bad(ErrorCodes.CERT_INPUT, 'the PKCS#12 bundle holds no certificate');
  const key = keys[0]!;
  const leaf = certificates.find((cert) => cert.checkPrivateKey(key));
  if (!leaf) throw bad(ErrorCodes.CERT_KEY_MISMATCH, 'the private key in the PKCS#12 bundle matches none of its certificates');
  return { key, leaf, others: certificates.filter((cert) => cert !== leaf) };
}
