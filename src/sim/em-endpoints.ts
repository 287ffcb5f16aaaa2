/**
 * Extension Mobility (`/emapp/EMAppServlet`) and Change Credential
 * (`/changecredential/ChangeCredentialServlet`): the phone flows that change
 * CUCM's database with a GET. Each login, logout and PIN change is an
 * action (phone-actions.ts): slow, recorded, and applied only when it
 * completes.
 *
 * EM's checks follow the Feature Configuration Guide for Cisco Unified
 * Communications Manager (Release 12.5(1)SU1, chapter "Extension Mobility",
 * "Extension Mobility Service Parameters"):
 * - Validate IP Address: "This parameter sets whether validation occurs on
 *   the IP address of the source that is requesting login or logout. [...]
 *   If the IP address is found in the cache or in the list of trusted IP
 *   addresses or is a registered device, the device can log in or log out.
 *   If the IP address is not found, the log in or log out attempt is
 *   blocked. If the parameter is set to False, the Cisco Extension Mobility
 *   log in or log out request is not validated." Blocked: error 28
 *   ("Untrusted IP Error").
 * - Allow Proxy: "If the parameter is False, the Cisco Extension Mobility
 *   log in and log out requests coming from behind a proxy get rejected. The
 *   setting that you select takes effect only if the Validate IP Address
 *   parameter specifies true." EM knows a proxy by its `Via` header (error
 *   30, "Proxy not allowed": "When login and logout occur through proxy
 *   ("Via" is set in HTTP header) and the Allow Proxy service parameter is
 *   set to False", Release 12.5(1)SU3, "Extension Mobility Service Error
 *   Codes"). No Cisco document found says EM reads `X-Forwarded-For`: the
 *   address validated is the TCP peer, so behind a proxy it is the proxy's,
 *   which must be in the Trusted List of IPs. The header is only recorded.
 * - Maximum Concurrent Requests: "the maximum number of login or logout
 *   operations that can occur simultaneously"; beyond it, error 26 ("Busy,
 *   please try again": "Occurs when the EMService has currently reached the
 *   threshold level of Maximum Concurrent Requests service parameter").
 * The order of these checks is not documented. "Multiple Login Behavior" is
 * not simulated: credentials alone decide a login.
 */
import type { Endpoint } from './test-endpoints.js';
import { emLoginBody } from './phone-xml-bodies.js';
import { changePinFormBody, changePinResultBody, emErrorBody, emLoginFormBody, emLogoutBody } from './service-bodies.js';
import { requestSource, type RequestSource } from './phone-actions.js';
import { answer, formParams, getOrPost, session, XML, type FlowConfig } from './flow-context.js';
import { encodeSessionUrls } from './tomcat-session.js';

type EmKind = 'em-login' | 'em-logout';

/** "Login is unavailable(28)" / "Logout is unavailable(28)": the phone display of an EMService error. */
function unavailable(kind: EmKind, code: number): string {
  return `${kind === 'em-login' ? 'Login' : 'Logout'} is unavailable(${code})`;
}

/** The source checks: 30 (proxy not allowed), 28 (untrusted IP), or undefined when the request may go on. */
function sourceRefusal(config: FlowConfig, from: RequestSource): 28 | 30 | undefined {
  const { em, registeredDevices } = config;
  if (!em.validateIpAddress) return undefined;
  if (from.viaProxy && !em.allowProxy) return 30;
  // "is a registered device": the simulator has no registration cache beyond `registeredDevices`.
  if (em.trustedListOfIps.has(from.source) || Object.values(registeredDevices).includes(from.source)) return undefined;
  return 28;
}

export function emEndpoint(config: FlowConfig): Endpoint {
  const { names, db, actions } = config;
  return (req, res, ctx) => {
    if (!getOrPost(req, res)) return;
    const params = formParams(req, ctx.url, ctx.body);
    const device = params.get('device') ?? '';
    const logout = params.get('doLogout') === 'true';
    const kind: EmKind = logout ? 'em-logout' : 'em-login';
    const tomcat = config.urlSessionIds ? session(config, req, res, ctx, '/emapp') : undefined;
    const send = (body: string): void => answer(res, XML, encodeSessionUrls(body, '/emapp', tomcat));
    // Error 207 "Device Name Empty": "Occurs when the device or name tag is missing in the request URI."
    if (device === '') return send(emErrorBody(names, device, unavailable(kind, 207)));
    const userid = params.get('userid');
    const pin = params.get('seq');
    if (!logout && userid === null && pin === null) return send(emLoginFormBody(names, device));
    // Error 202 "Blank userid or pin": "The user enters a blank user ID or PIN." (display "Please try to login again (202)").
    if (!logout && (!userid || !pin)) return send(emErrorBody(names, device, 'Please try to login again (202)'));

    const from = requestSource(req);
    const user = logout ? db.emLogins.get(device) : userid!;
    const refusal = sourceRefusal(config, from) ?? (actions.emInProgress >= config.em.maximumConcurrentRequests ? 26 : undefined);
    if (refusal !== undefined) {
      actions.refuse(kind, user, device, from, refusal);
      return send(emErrorBody(names, device, unavailable(kind, refusal)));
    }
    if (logout) {
      actions.run(
        kind,
        user,
        device,
        from,
        () => {
          // Error 19 "No user logged in": "The system attempted to log out a user who has not logged in."
          if (!db.emLogins.has(device)) return { result: 'failed', detail: unavailable(kind, 19) };
          db.emLogins.delete(device);
          return { result: 'ok', detail: 'Logout successful' };
        },
        (outcome) => send(outcome.result === 'ok' ? emLogoutBody(names, device) : emErrorBody(names, device, outcome.detail)),
      );
      return;
    }
    actions.run(
      kind,
      user,
      device,
      from,
      () => {
        if (db.pins.get(userid!) !== pin) return { result: 'failed', detail: 'Please try to login again (201)' };
        db.emLogins.set(device, userid!);
        return { result: 'ok', detail: 'Login successful' };
      },
      (outcome) => send(emLoginBody(names.fqdn, device, outcome.result === 'ok')),
    );
  };
}

export function changeCredentialEndpoint(config: FlowConfig): Endpoint {
  const { names, db, actions } = config;
  return (req, res, ctx) => {
    if (!getOrPost(req, res)) return;
    const params = formParams(req, ctx.url, ctx.body);
    const device = params.get('device') ?? '';
    const send = (body: string): void => answer(res, XML, body);
    if (params.get('changePin') !== 'true') return send(changePinFormBody(names, device));
    const userid = params.get('userid') ?? '';
    const oldpin = params.get('oldpin') ?? '';
    const newpin = params.get('newpin') ?? '';
    // Checked before anything is looked up; the wording is the simulator's.
    if (userid === '' || oldpin === '' || newpin === '') return send(changePinResultBody(false, 'Enter user ID and PINs'));
    if (newpin !== params.get('confirmnewpin')) return send(changePinResultBody(false, 'New PINs do not match'));
    actions.run(
      'pin-change',
      userid,
      device,
      requestSource(req),
      () => {
        if (db.pins.get(userid) !== oldpin) return { result: 'failed', detail: 'Invalid user ID or PIN' };
        db.pins.set(userid, newpin);
        return { result: 'ok', detail: 'PIN change is complete' };
      },
      (outcome) => send(changePinResultBody(outcome.result === 'ok', outcome.detail)),
    );
  };
}
