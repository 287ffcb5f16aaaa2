/**
 * The `/ccmcip/` pages beyond the corporate directory: `authenticate.jsp`
 * (the phone's Authentication URL) and `getservicesmenu.jsp` (its Services URL).
 */
import type { Endpoint } from './test-endpoints.js';
import { servicesMenuBody } from './service-bodies.js';
import { requestSource } from './phone-actions.js';
import { answer, formParams, getOrPost, session, XML, type FlowConfig } from './flow-context.js';
import { encodeSessionUrls } from './tomcat-session.js';

/**
 * authenticate.jsp: a phone forwards the credentials its own web server was
 * given (`UserID`, `Password`, `devicename`) and CUCM checks them against
 * its directory (an LDAP bind when directory authentication is on: slow,
 * hence an `authenticate` action). The answer is plain text: a capture of
 * CUCM's reply (UPLINX Phone Control Tool user guide, "69xx Phone
 * Authentication") is `HTTP/1.1 200`, `Content-Type: text/html`,
 * `Content-Length: 10`, body `AUTHORIZED`, with a `JSESSIONID` cookie
 * (Path `/ccmcip`). A refusal is `UN-AUTHORIZED` (as implementations of this
 * exchange expect, e.g. the `sccp-protocol` crate; no Cisco document found
 * shows it). Whether the user is associated with `devicename` is not
 * simulated: the credentials alone decide.
 */
function authenticateEndpoint(config: FlowConfig): Endpoint {
  return (req, res, ctx) => {
    if (!getOrPost(req, res)) return;
    session(config, req, res, ctx, '/ccmcip');
    const params = formParams(req, ctx.url, ctx.body);
    const user = params.get('UserID') ?? '';
    const password = params.get('Password');
    config.actions.run(
      'authenticate',
      user,
      params.get('devicename') ?? undefined,
      requestSource(req),
      () =>
        Object.hasOwn(config.users, user) && config.users[user] === password
          ? { result: 'ok', detail: 'AUTHORIZED' }
          : { result: 'failed', detail: 'UN-AUTHORIZED' },
      (outcome) => answer(res, 'text/html', outcome.detail),
    );
  };
}

/** The services menu; the phone names itself with `name=` (the device name), as on the other phone pages. */
function servicesMenuEndpoint(config: FlowConfig): Endpoint {
  return (req, res, ctx) => {
    if (!getOrPost(req, res)) return;
    const tomcat = session(config, req, res, ctx, '/ccmcip');
    const body = servicesMenuBody(config.names, ctx.url.searchParams.get('name') ?? '');
    answer(res, XML, config.urlSessionIds ? encodeSessionUrls(body, '/ccmcip', tomcat) : body);
  };
}

export function createCcmcipEndpoints(config: FlowConfig): ReadonlyMap<string, Endpoint> {
  return new Map([
    ['/ccmcip/authenticate.jsp', authenticateEndpoint(config)],
    ['/ccmcip/getservicesmenu.jsp', servicesMenuEndpoint(config)],
  ]);
}
