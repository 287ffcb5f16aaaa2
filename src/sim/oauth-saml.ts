/**
 * SAML SSO as the simulated node's OAuth flow uses it when the cluster has an
 * IdP (`SimOAuthState.samlIdpUrl`): the AuthnRequest CUCM sends the browser
 * to the IdP with, and the assertion-consumer service (ACS) the IdP sends the
 * browser back to. Plus `fakeIdpAnswer`, what a test's IdP does.
 *
 * Sources:
 * - SAML SSO Deployment Guide for Cisco Unified Communications Applications,
 *   Release 14, "SAML SSO Configuration": the ACS URL is
 *   `https://<SP FQDN>:8443/ssosp/saml/SSO/alias/<SP FQDN>` (HTTP-POST
 *   binding); the browser must resolve the IdP and, "when the IdP redirects
 *   back to the service provider ACS URL", that as well.
 * - TAC document 217268, "Configure and Troubleshoot SSO on Cisco Unified
 *   Communications Manager": CUCM's AuthnRequest (ID `s` + hex digits,
 *   Issuer = the node's FQDN, NameIDPolicy transient with SPNameQualifier =
 *   the FQDN) and the 302 that sends the client to the IdP with it; the IdP
 *   posts a base64 SAML Response to the ACS URL.
 * - TAC document 216948 (ADFS 3.0): the IdP sends the user id as the `uid`
 *   attribute.
 * - SAML 2.0 Bindings (OASIS), §3.4.4.1: HTTP-Redirect carries the request
 *   DEFLATEd and base64-encoded in `SAMLRequest`, signed by `SigAlg` and
 *   `Signature` over the query string: the ACS URL is inside the signed
 *   data, so nothing between the browser and the IdP can change it.
 *
 * The simulated ACS does not check the Response's signature (a real one
 * does); it accepts a Response only in reply to a request this node issued.
 */
import { randomBytes, sign } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KeyObject } from 'node:crypto';

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

export function acsPath(fqdn: string): string {
  return `/ssosp/saml/SSO/alias/${fqdn}`;
}

export function acsUrl(fqdn: string): string {
  return `https://${fqdn}:8443${acsPath(fqdn)}`;
}

/** A new AuthnRequest id in CUCM's form (`s` and hex digits, TAC 217268). */
export function authnRequestId(): string {
  return `s2${randomBytes(20).toString('hex')}`;
}

/** The 302 `Location` that sends the browser to the IdP: HTTP-Redirect binding, signed. */
export function idpRedirect(idpUrl: string, fqdn: string, id: string, signingKey: KeyObject, now = new Date()): string {
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="${id}" Version="2.0" ` +
    `IssueInstant="${now.toISOString().replace(/\.\d+Z$/, 'Z')}" Destination="${idpUrl}" ForceAuthn="false" IsPassive="false" ` +
    `ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" AssertionConsumerServiceURL="${acsUrl(fqdn)}">` +
    `<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${fqdn}</saml:Issuer>` +
    `<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" SPNameQualifier="${fqdn}" AllowCreate="true"/>` +
    `</samlp:AuthnRequest>`;
  // A published capture of CUCM's redirect carries the request's ID as RelayState.
  const query =
    `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}` +
    `&RelayState=${encodeURIComponent(id)}&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
  const signature = sign('sha256', Buffer.from(query), signingKey).toString('base64');
  return `${idpUrl}${idpUrl.includes('?') ? '&' : '?'}${query}&Signature=${encodeURIComponent(signature)}`;
}

/** What the ACS reads from a posted SAMLResponse: the request it answers and the user it names. */
export function readSamlResponse(samlResponse: string): { readonly inResponseTo: string; readonly user: string } | undefined {
  let xml: string;
  try {
    xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  } catch {
    return undefined;
  }
  if (!/<(\w+:)?StatusCode\b[^>]*Value="urn:oasis:names:tc:SAML:2\.0:status:Success"/.test(xml)) return undefined;
  const inResponseTo = /<(?:\w+:)?Response\b[^>]*\bInResponseTo="([^"]+)"/.exec(xml)?.[1];
  const user =
    /<(?:\w+:)?Attribute\b[^>]*\bName="uid"[^>]*>\s*<(?:\w+:)?AttributeValue\b[^>]*>([^<]+)</.exec(xml)?.[1] ??
    /<(?:\w+:)?NameID\b[^>]*>([^<]+)</.exec(xml)?.[1];
  return inResponseTo && user ? { inResponseTo, user: user.trim() } : undefined;
}

/**
 * What a test's IdP does with the `Location` CUCM sent the browser to: reads
 * the AuthnRequest and answers where it asks (its ACS URL), asserting `user`.
 * The answer is unsigned: the simulated ACS does not check signatures.
 */
export function fakeIdpAnswer(location: string, user: string): { readonly acsUrl: string; readonly form: { readonly SAMLResponse: string; readonly RelayState: string } } {
  const url = new URL(location);
  const request = url.searchParams.get('SAMLRequest');
  if (!request) throw new TypeError('no SAMLRequest in that Location');
  const xml = inflateRawSync(Buffer.from(request, 'base64')).toString('utf8');
  const id = /\bID="([^"]+)"/.exec(xml)?.[1];
  const acs = /\bAssertionConsumerServiceURL="([^"]+)"/.exec(xml)?.[1];
  if (!id || !acs) throw new TypeError('the AuthnRequest names no ID or ACS URL');
  const response =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_${randomBytes(16).toString('hex')}" Version="2.0" ` +
    `IssueInstant="${new Date().toISOString()}" Destination="${acs}" InResponseTo="${id}">` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:AttributeStatement>` +
    `<saml:Attribute Name="uid"><saml:AttributeValue>${user}</saml:AttributeValue></saml:Attribute>` +
    `</saml:AttributeStatement></saml:Assertion></samlp:Response>`;
  return { acsUrl: acs, form: { SAMLResponse: Buffer.from(response).toString('base64'), RelayState: url.searchParams.get('RelayState') ?? '' } };
}
