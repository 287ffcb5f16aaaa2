/**
 * Issue 17: the hard deny list grows — `/car/`, `/cucreports/`, `/emservice/`,
 * `/ssosp/` outside Jabber's OAuth sign-in (`/ssosp/oauth/`), and, unless a
 * route names them, `/ma/`, `/cucm-uds/private/` and the SAML assertion
 * consumer. Each entry is refused under wide routes (`routes: [{pathPrefix: /}]`)
 * in every case and encoding the normaliser resolves: percent-encoding (upper
 * and lower hex, every character or some), double and triple encoding,
 * encoded slashes and backslashes, dot segments (plain, encoded, `..;`),
 * `;params`, repeated slashes, absolute form. Overlong UTF-8 (`%c0%ae`) is no
 * dot or slash to the gateway, nor to Tomcat's strict UTF-8 decoder: such a
 * target must never be forwarded as the denied path.
 *
 * Also `ucgate check`'s warning for a route the list refuses whole, and the
 * methods no route carries.
 */
import t from 'tap';
import { createRouter, type RouteDecision, type RoutePattern } from '../../src/proxy/router.js';
import {
  createDenyList,
  denyEntryFor,
  DENY_TABLE,
  isRefusedMethod,
  isRefusedMethodPacket,
  OPT_IN_NAMES,
  REFUSED_METHOD_RESPONSE,
  routePrefixPath,
  shadowingEntry,
} from '../../src/proxy/deny-list.js';
import { routeWarnings } from '../../src/proxy/route-warnings.js';
import { builtInRoutes } from '../../src/config/builtin-routes.js';

const WIDE: RoutePattern[] = [{ pathPrefix: '/', cluster: 'cucm' }];
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'];

/** A real path under each new entry: what an attacker would ask for. */
const NEW_ENTRIES: readonly { readonly entry: string; readonly path: string }[] = [
  { entry: '/car', path: '/car/CarServlet' },
  { entry: '/cucreports', path: '/cucreports/index.do' },
  { entry: '/emservice', path: '/emservice/EMServiceServlet' },
  { entry: '/ssosp', path: '/ssosp/local/login' },
  { entry: '/ssosp', path: '/ssosp/token/revoke' },
  { entry: '/ssosp', path: '/ssosp/ws/config/metadata/sp' },
  { entry: '/ssosp', path: '/ssosp/saml/login' },
  { entry: '/ssosp/saml/sso', path: '/ssosp/saml/SSO/alias/cucm-pub.example.test' },
  { entry: '/ma', path: '/ma/servlet/MAService' },
  { entry: '/cucm-uds/private', path: '/cucm-uds/private/user/jdoe' },
];

const hex = (c: string, upper: boolean) => {
  const h = c.charCodeAt(0).toString(16).padStart(2, '0');
  return upper ? h.toUpperCase() : h;
};
/** Percent-encodes every character `depth` times (`%63`, `%2563`, `%252563`). */
const encodeAll = (s: string, depth: number, upper = true) => [...s].map((c) => '%' + '25'.repeat(depth - 1) + hex(c, upper)).join('');
/** Percent-encodes only the first character. */
const encodeFirst = (s: string, depth = 1) => encodeAll(s[0]!, depth) + s.slice(1);
const alternate = (s: string) => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');

/**
 * Every shape of `path` (which starts with its entry's segments) the
 * normaliser must bring back to it; `entry` is the deny entry it lies under.
 */
function variants(path: string, entry: string): string[] {
  const segs = path.slice(1).split('/');
  const [first, second] = segs;
  const rest = (from: number) => segs.slice(from).join('/');
  const out = [
    path,
    path.toUpperCase(),
    alternate(path),
    `${path}/`,
    `${path}?x=1`,
    entry,
    `${entry}/`,
    entry.toUpperCase(),
    // percent-encoding: one character, all of them, lower-case hex, two and three rounds
    `/${encodeFirst(first!)}/${rest(1)}`,
    `/${encodeAll(first!, 1)}/${rest(1)}`,
    `/${encodeAll(first!, 1, false)}/${rest(1)}`,
    `/${encodeAll(alternate(first!), 1)}/${rest(1)}`,
    `/${encodeFirst(first!, 2)}/${rest(1)}`,
    `/${encodeAll(first!, 2)}/${rest(1)}`,
    `/${encodeAll(first!, 3, false)}/${rest(1)}`,
    // the slashes themselves encoded, once and twice, and as backslashes
    `/${segs.join('%2f')}`,
    `/${segs.join('%2F')}`,
    `/${segs.join('%252f')}`,
    `/${segs.join('%5c')}`,
    `/\\${segs.join('\\')}`,
    `/ccmcip\\..\\${segs.join('\\')}`,
    `%2f${segs.join('/')}`.replace(/^%2f/, '/%2f'),
    // dot segments: plain, encoded, double-encoded, Tomcat's `..;`, from under a routed path
    `/cucm-uds/../${path.slice(1)}`,
    `/./${path.slice(1)}`,
    `/ccmcip/%2e%2e/${path.slice(1)}`,
    `/ccmcip/%2E%2E/${path.slice(1)}`,
    `/ccmcip/.%2e/${path.slice(1)}`,
    `/ccmcip/%252e%252e/${path.slice(1)}`,
    `/ccmcip/..;/${path.slice(1)}`,
    `/ccmcip/..;jsessionid=1/${path.slice(1)}`,
    `/ccmcip/..%2f${path.slice(1)}`,
    `/ccmcip/..%5c${path.slice(1)}`,
    `/../../${path.slice(1)}`,
    `/${first}/x/../${rest(1)}`,
    // `;params` on any segment, raw or encoded
    `/${first};jsessionid=ABC/${rest(1)}`,
    `/${first};x=1;y=2/${rest(1)}`,
    `/;jsessionid=1/${path.slice(1)}`,
    `/${first}%3bjsessionid=1/${rest(1)}`,
    `/${first}%253b/${rest(1)}`,
    // repeated slashes, absolute form naming the gateway
    `//${segs.join('//')}`,
    `https://ucgw.example.test:8443${path}`,
    `HTTPS://UCGW.example.test${path.toUpperCase()}`,
  ];
  if (second !== undefined) {
    // multi-segment entries: the inner segment encoded and parametrised too
    out.push(
      `/${first}/${encodeAll(second, 1)}/${rest(2)}`,
      `/${first}/${encodeFirst(second, 2)}/${rest(2)}`,
      `/${first};a=1/${second};b=2/${rest(2)}`,
      `/${first}/./${second}/${rest(2)}`,
      `/${first}/x/%2e%2e/${second}/${rest(2)}`,
      `/${first}%2f${second}/${rest(2)}`,
      `/${first}%252f${second}/${rest(2)}`,
    );
  }
  return [...new Set(out)];
}

const describe = (d: RouteDecision<RoutePattern>) => (d.kind === 'proxy' ? `proxy ${d.forwardPath}` : d.kind);

t.test('every new entry is refused under wide routes, in every case and encoding', async (t) => {
  const router = createRouter(WIDE);
  let attempts = 0;
  for (const { entry, path } of NEW_ENTRIES) {
    t.equal(denyEntryFor(path.toLowerCase())?.path, entry, `${path} falls under ${entry}`);
    for (const target of variants(path, entry)) {
      for (const method of METHODS) {
        attempts++;
        const d = router.route(method, target, 'ucgw.example.test');
        if (d.kind !== 'deny') t.fail(`${method} ${target}: ${describe(d)}`);
      }
    }
  }
  t.ok(attempts > 1500, `${attempts} attempts, all 403`);
});

t.test('overlong UTF-8 is never forwarded as a denied path', async (t) => {
  const router = createRouter(WIDE);
  for (const { path } of NEW_ENTRIES) {
    const tail = path.slice(1);
    for (const target of [`/x/%c0%ae%c0%ae/${tail}`, `/x/%c0%ae%c0%ae%c0%af${tail}`, `/%c0%af${tail}`, `/x/%e0%80%ae%e0%80%ae/${tail}`, `/x/%c0%2e%c0%2e/${tail}`]) {
      const d = router.route('GET', target);
      // Either refused, or forwarded with the overlong bytes still escaped: no dot segment, no slash,
      // which Tomcat refuses (malformed UTF-8 in the URI) rather than resolving.
      const ok = d.kind === 'deny' || d.kind === 'bad-request' || (d.kind === 'proxy' && /%C0%A[EF]|%E0%80%AE|%C0\.|%C0%2E/i.test(d.forwardPath) && !d.matchPath.startsWith(path.toLowerCase()));
      t.ok(ok, `${target}: ${describe(d)}`);
    }
  }
});

t.test("Jabber's OAuth sign-in stays open under /ssosp/", async (t) => {
  const router = createRouter(WIDE);
  for (const target of ['/ssosp/oauth/authorize?client_id=x', '/ssosp/oauth/token', '/SSOSP/OAuth/authorize', '/ssosp;jsessionid=1/oauth/login', '/ssosp/oauth', '/ssosp//oauth/token']) {
    t.equal(router.route('POST', target).kind, 'proxy', target);
  }
  // ...but nothing that only starts inside it and leaves it
  for (const target of [
    '/ssosp/oauth/../local/login',
    '/ssosp/oauth/%2e%2e/local/login',
    '/ssosp/oauth/..;/token/revoke',
    '/ssosp/oauth/%252e%252e/local/login',
    '/ssosp/oauth%2f..%2flocal%2flogin',
    '/ssosp/oauthx/token',
    '/ssosp/oauth.jsp',
    '/ssosp/%6fauth/../local/login',
  ]) {
    t.equal(router.route('GET', target).kind, 'deny', target);
  }
  const builtIn = createRouter(builtInRoutes('cucm'));
  t.equal(builtIn.route('POST', '/ssosp/oauth/token').kind, 'proxy', 'the built-in route carries the token endpoint');
  t.equal(builtIn.route('GET', '/ssosp/local/login').kind, 'deny', 'and the recovery login is refused, not 404');
});

t.test('the built-in routes never reach /cucm-uds/private/', async (t) => {
  const router = createRouter(builtInRoutes('cucm'));
  for (const target of variants('/cucm-uds/private/user/jdoe', '/cucm-uds/private')) t.equal(router.route('GET', target).kind, 'deny', target);
  t.equal(router.route('GET', '/cucm-uds/user/jdoe').kind, 'proxy', 'the rest of UDS is routed');
  t.equal(router.route('GET', '/cucm-uds/privatex').kind, 'proxy', 'whole segments only');
});

t.test('opt-in entries: opened by a route that names them, and by that route only', async (t) => {
  const deny = createDenyList();
  // What the router asks: the path, and the pathPrefix of the route that matched it.
  t.ok(deny.isDenied('/ma/servlet/maservice'), 'no route: refused');
  t.ok(deny.isDenied('/ma/servlet/maservice', '/'), 'a wide route does not name it');
  t.notOk(deny.isDenied('/ma/servlet/maservice', '/ma/'), '/ma/ names it');
  t.notOk(deny.isDenied('/ma', '/ma/'), 'the bare directory too');
  t.notOk(deny.isDenied('/ma/servlet/maservice', '/MA/servlet'), 'a route below the entry, in any case');
  t.notOk(deny.isDenied('/ma/servlet/maservice', '/%6da/'), 'a route prefix is normalised like a path');
  t.ok(deny.isDenied('/ma/other', '/ma/servlet/'), 'a further-decoded path outside the route that matched is not opened');
  t.ok(deny.isDenied('/cucm-uds/private/x', '/cucm-uds/'), '/cucm-uds/ does not name /cucm-uds/private/');
  t.ok(deny.isDenied('/cucm-uds/private/x', '/cucm-uds/*/'), 'nor does a * segment');
  t.notOk(deny.isDenied('/cucm-uds/private/x', '/cucm-uds/private/'));
  t.notOk(deny.isDenied('/cucm-uds/private/user/x', '/cucm-uds/private/*/x'), 'a * route opens what lies before its first *');
  t.ok(deny.isDenied('/ssosp/saml/sso/alias/x', '/ssosp/'), 'the SAML consumer is not opened by /ssosp/');
  t.notOk(deny.isDenied('/ssosp/saml/sso/alias/x', '/ssosp/saml/SSO/'));
  t.ok(deny.isDenied('/ssosp/saml/login', '/ssosp/saml/SSO/'), 'the rest of /ssosp/saml stays refused');
  t.ok(deny.isDenied('/ccmadmin/x', '/ccmadmin/'), 'an always entry is refused even when named');
  t.ok(deny.isDenied('/ma/x', '/cucm-uds/private/'), 'one opt-in does not open another');

  const byName = createDenyList(['/MA/', 'cucm-uds/private']);
  t.notOk(byName.isDenied('/ma/x'), 'opened by name, for every route');
  t.notOk(byName.isDenied('/cucm-uds/private/x', '/'));
  t.ok(byName.isDenied('/ucmuser/'));
  t.same(OPT_IN_NAMES, ['ssosp/saml/sso', 'ccmuser', 'ucmuser', 'webdialer', 'ma', 'cucm-uds/private']);
  for (const name of ['ssosp', 'ssosp/oauth', 'car', 'emservice', 'cucm-uds', '/']) {
    t.throws(() => createDenyList([name]), { code: 'UCGATE_ERR_CONFIG_INVALID' }, name);
  }
});

// Until router.ts hands the matched route's pathPrefix to the deny list, a route naming an
// opt-in path is refused like any other (the safe side): the end-to-end part of opt-in is todo then.
const routerPassesPrefix = createRouter([{ pathPrefix: '/ma/', cluster: 'cucm' }]).route('GET', '/ma/x').kind === 'proxy';

t.test('through the router: a route naming an opt-in path opens it', { todo: routerPassesPrefix ? false : 'router.ts passes decision.route.pathPrefix to isDenied' }, async (t) => {
  const router = createRouter([
    { pathPrefix: '/ma/', cluster: 'cucm' },
    { pathPrefix: '/cucm-uds/private/', cluster: 'cucm', methods: ['GET'] },
    { pathPrefix: '/', cluster: 'cucm' },
  ]);
  t.equal(router.route('GET', '/ma/servlet/MAService').kind, 'proxy');
  t.equal(router.route('GET', '/MA;x/servlet').kind, 'proxy');
  t.equal(router.route('GET', '/cucm-uds/private/x').kind, 'proxy');
  t.equal(router.route('POST', '/cucm-uds/private/x').kind, 'deny', 'a refused method of an opt-in route still meets the deny first');
  t.equal(router.route('GET', '/ssosp/saml/SSO/alias/x').kind, 'deny', 'not named');
  t.equal(router.route('GET', '/x/%252e%252e/ma/x').kind, 'deny', 'the wide route matched: its prefix names nothing');
});

t.test('ucgate check: routes the deny list refuses whole', async (t) => {
  const cases: [string, string | undefined][] = [
    ['/ccmadmin/', 'CUCM administration'],
    ['/CCMAdmin', 'CUCM administration'],
    ['/%63cmadmin/', 'CUCM administration'],
    ['/cucm-uds/../ccmadmin/', 'CUCM administration'],
    ['/ccmadmin/*/x', 'CUCM administration'],
    ['/car/', 'CDR Analysis and Reporting'],
    ['/cucreports', 'Unified Reporting'],
    ['/emservice/', 'the Extension Mobility API, which logs any user in or out'],
    ['/realtimeservice2/services/', 'a CUCM serviceability SOAP API'],
    ['/ssosp/local/', 'the SSO service provider outside Jabber sign-in: recovery login, token revoke, SAML metadata'],
    ['/ssosp/saml/', 'the SSO service provider outside Jabber sign-in: recovery login, token revoke, SAML metadata'],
    ['/ssosp/', undefined], // still carries /ssosp/oauth/
    ['/ssosp/oauth/', undefined],
    ['/ssosp/saml/SSO/', undefined], // names an opt-in entry: opens it
    ['/ma/', undefined],
    ['/cucm-uds/private/', undefined],
    ['/cucm-uds/', undefined],
    ['/', undefined],
    ['/*/ccmadmin', undefined],
    ['/cardinal/', undefined],
    ['no-slash', undefined],
  ];
  for (const [prefix, what] of cases) t.equal(shadowingEntry(prefix)?.what, what, prefix);
  t.same(
    routeWarnings([
      { pathPrefix: '/cucm-uds/', cluster: 'cucm' },
      { pathPrefix: '/ccmcip/', cluster: 'cucm' },
      { pathPrefix: '/ccmadmin/', cluster: 'cucm' },
      { pathPrefix: '/ma/', cluster: 'cucm' },
      'not a route',
      { pathPrefix: '/CAR', cluster: 'cucm' },
    ]),
    ['routes[2].pathPrefix: /ccmadmin/ is always refused (CUCM administration)', 'routes[5].pathPrefix: /CAR is always refused (CDR Analysis and Reporting)'],
  );
  t.same(routeWarnings(builtInRoutes('cucm')), [], 'the built-in routes are all reachable');
  t.same(routeWarnings(undefined), []);
});

t.test('route prefixes as the deny list compares them', async (t) => {
  t.equal(routePrefixPath('/ma/'), '/ma');
  t.equal(routePrefixPath('/'), '/');
  t.equal(routePrefixPath('/cucm-uds/user/*/device/*/devicetoken'), '/cucm-uds/user');
  t.equal(routePrefixPath('/*/x'), '/');
  t.equal(routePrefixPath('/A/./B/'), '/a/b');
  t.equal(routePrefixPath('x'), undefined);
  t.equal(routePrefixPath('/a?b'), undefined);
});

t.test('the table', async (t) => {
  const paths = DENY_TABLE.map((e) => e.path);
  t.equal(new Set(paths).size, paths.length, 'no entry twice');
  for (const e of DENY_TABLE) {
    t.match(e.path, /^(\/[a-z0-9-]+)+$/, `${e.path}: lowercase whole segments`);
    t.ok(e.what.length > 0);
    if (e.kind === 'open') t.equal(denyEntryFor(e.path.slice(0, e.path.lastIndexOf('/')))?.kind, 'always', `${e.path} is an exception inside an always entry`);
  }
  for (const p of ['/car', '/cucreports', '/emservice', '/ssosp']) t.equal(denyEntryFor(p)?.kind, 'always', p);
  for (const p of ['/ma', '/cucm-uds/private', '/ssosp/saml/sso', '/ccmuser', '/ucmuser', '/webdialer']) t.equal(denyEntryFor(p)?.kind, 'opt-in', p);
  t.equal(denyEntryFor('/ssosp/oauth/token')?.kind, 'open');
  for (const p of ['/', '/cucm-uds/', '/cucm-uds/user/x', '/cardinal', '/x/car', '/ccmcip/car', '/mail', '/emapp/EMAppServlet']) t.equal(denyEntryFor(p), undefined, p);
});

t.test('TRACE, TRACK and CONNECT are refused methods', async (t) => {
  for (const m of ['TRACE', 'TRACK', 'CONNECT']) t.ok(isRefusedMethod(m), m);
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'trace', undefined]) t.notOk(isRefusedMethod(m), String(m));
  t.ok(isRefusedMethodPacket(Buffer.from('TRACK / HTTP/1.1\r\nHost: x\r\n\r\n')));
  t.notOk(isRefusedMethodPacket(Buffer.from('TRACKX / HTTP/1.1\r\n')));
  t.notOk(isRefusedMethodPacket(Buffer.from('GET / HTTP/1.1\r\n')));
  t.notOk(isRefusedMethodPacket(undefined));
  t.match(REFUSED_METHOD_RESPONSE, /^HTTP\/1\.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\nContent-Length: 0\r\nConnection: close\r\n\r\n$/);
});
