/**
 * ARI (RFC 9773) pieces that need no CA: the CertID (checked against the
 * RFC's own example), reading a renewalInfo answer, Retry-After; and the
 * classification of ACME failures into the four classes.
 */
import t from 'tap';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { ariCertId, parseRenewalInfo, renewalInfoUrl, serialDerHex } from '../../src/acme/ari.js';
import { AcmeError, challengeError, classifyAcmeError, parseRetryAfter } from '../../src/acme/acme-errors.js';
import { ErrorCodes } from '../../src/errors.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

async function certificateWith(serialHex: string, keyIdHex: string): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialHex,
    name: 'CN=ari.example.test',
    notBefore: new Date('2030-01-01T00:00:00Z'),
    notAfter: new Date('2030-04-01T00:00:00Z'),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.AuthorityKeyIdentifierExtension(keyIdHex, false)],
  });
  return cert.toString('pem');
}

t.test('CertID: the example of RFC 9773 §4.1', async (t) => {
  // AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 0x87654321.
  const pem = await certificateWith('0087654321', '69885b6b87464041e1b37b847ba0ae2cde01c8d4');
  t.equal(ariCertId(pem), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  t.equal(serialDerHex('87654321'), '0087654321', 'a set top bit gets its 00');
  t.equal(serialDerHex('7654321'), '07654321', 'odd length padded, no 00 needed');
  t.equal(serialDerHex('000012'), '12', 'minimal encoding');
  t.equal(renewalInfoUrl('https://ca.example/renewal-info/', 'a.b'), 'https://ca.example/renewal-info/a.b');
});

t.test('renewalInfo answers', async (t) => {
  const now = Date.parse('2030-02-01T00:00:00Z');
  const body = { suggestedWindow: { start: '2030-02-10T00:00:00Z', end: '2030-02-12T00:00:00Z' }, explanationURL: 'https://ca.example/why' };
  t.same(parseRenewalInfo('id', body, '21600', now), {
    certId: 'id',
    start: Date.parse('2030-02-10T00:00:00Z'),
    end: Date.parse('2030-02-12T00:00:00Z'),
    explanationUrl: 'https://ca.example/why',
    retryAfterMs: 21_600_000,
  });
  t.equal(parseRenewalInfo('id', { suggestedWindow: { start: '2030-02-12T00:00:00Z', end: '2030-02-10T00:00:00Z' } }, undefined, now), undefined, 'end before start');
  t.equal(parseRenewalInfo('id', { suggestedWindow: { start: 'soon' } }, undefined, now), undefined, 'no usable window');
  t.equal(parseRenewalInfo('id', undefined, undefined, now), undefined);
  t.equal(parseRetryAfter('120', now), 120_000);
  t.equal(parseRetryAfter('Fri, 01 Feb 2030 00:01:00 GMT', now), 60_000, 'an HTTP date');
  t.equal(parseRetryAfter('whenever', now), undefined);
  t.equal(parseRetryAfter(undefined, now), undefined);
});

t.test('failures are classified by what the CA or the network said', async (t) => {
  const problem = (status: number, type?: string, retryAfterMs?: number) => ({
    status,
    url: 'https://ca.example/new-order',
    type: type && `urn:ietf:params:acme:error:${type}`,
    detail: 'detail from the CA',
    retryAfterMs,
  });
  const plain = new Error('detail from the CA');
  const limited = classifyAcmeError(plain, problem(429, 'rateLimited', 3_600_000), 'ordering');
  t.match(limited, { reason: 'rate-limited', code: ErrorCodes.ACME_RATE_LIMITED, retryAfterMs: 3_600_000 });
  t.equal(limited.cause, plain, 'the original error is kept as cause');
  t.match(classifyAcmeError(plain, problem(403, 'unauthorized'), 'ordering'), { reason: 'rejected', code: ErrorCodes.ACME_REJECTED });
  t.match(classifyAcmeError(plain, problem(400, 'externalAccountRequired'), 'ordering'), { reason: 'rejected' });
  t.match(classifyAcmeError(plain, problem(503, undefined, 60_000), 'ordering'), { reason: 'ca-unreachable', retryAfterMs: 60_000 });
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:14000'), { code: 'ECONNREFUSED' });
  t.match(classifyAcmeError(refused, undefined, 'ordering'), { reason: 'ca-unreachable', code: ErrorCodes.ACME_CA_UNREACHABLE });
  const untrusted = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  t.match(classifyAcmeError(untrusted, undefined, 'ordering').message, /caFile/, 'a TLS trust failure points at caFile');
  t.match(classifyAcmeError(new Error('odd'), undefined, 'ordering'), { reason: 'other', code: ErrorCodes.ACME_FAILED });
  const already = new AcmeError('challenge-failed', 'hook failed');
  t.equal(classifyAcmeError(already, problem(500), 'x'), already, 'an AcmeError passes through');
  t.match(challengeError('ucgw.example.test', 'http-01', { type: 'urn:ietf:params:acme:error:connection', detail: 'refused' }), {
    reason: 'challenge-failed',
    message: /http-01 challenge for ucgw.example.test failed \(connection\): refused/,
  });
  t.match(challengeError('ucgw.example.test', 'dns-01', { type: 'urn:ietf:params:acme:error:rejectedIdentifier' }), { reason: 'rejected' });
});
