import t from 'tap';
import fc from 'fast-check';
import { createRouter, type RouteDecision, type RoutePattern } from '../../src/proxy/router.js';
import { createDenyList, DENIED_PREFIXES, DENIED_SEGMENTS, OPT_IN_SEGMENTS } from '../../src/proxy/deny-list.js';
import { normaliseTarget } from '../../src/proxy/normalise-path.js';

const BUILT_IN_STYLE: RoutePattern[] = [
  { pathPrefix: '/cucm-uds/', cluster: 'cucm', methods: ['GET', 'HEAD'] },
  { pathPrefix: '/ccmcip/', cluster: 'cucm' },
  { pathPrefix: '/emapp/EMAppServlet', cluster: 'cucm', methods: ['GET', 'POST'] },
];
const CATCH_ALL: RoutePattern[] = [...BUILT_IN_STYLE, { pathPrefix: '/', cluster: 'cucm' }];

type ProxyDecision = Extract<RouteDecision<RoutePattern>, { kind: 'proxy' }>;

function proxied(d: RouteDecision<RoutePattern>): ProxyDecision {
  if (d.kind !== 'proxy') throw new Error(`expected proxy, got ${JSON.stringify(d)}`);
  return d;
}

const ADMIN_ATTEMPTS = [
  '/ccmadmin',
  '/CCMADMIN',
  '/%63cmadmin',
  '//ccmadmin',
  '/cucm-uds/../ccmadmin',
  '/ccmadmin;x=y',
  '/cucm-uds/%2e%2e/axl/',
  '/cucm-uds/..%2faxl',
  '/cucm-uds/..%5caxl',
  '/./ccmadmin/',
  '/%2563cmadmin',
  '/ccmadmin%3bjsessionid=1',
  '/realtimeservice2/services',
  '/AXL/',
  '/platformcom/api/v1/certmgr',
  '/cucm-uds/%2E%2E/%2E%2E/ccmadmin',
  'https://evil/ccmadmin',
  // and a few more shapes of the same tricks
  '/cucm-uds/..;/ccmadmin',
  '/cucm-uds/%2e%2e;x=1/ccmadmin',
  '/ccmcip\\..\\ccmadmin',
  '/cucm-uds/%252e%252e/ccmadmin',
  '/cucm-uds/%25%32%65%25%32%65/axl',
  '/ccmadmin%253b',
  '/ccmadmin%23x',
  '/;jsessionid=1/ccmadmin',
  '/%2fccmadmin',
  '/../../ccmadmin',
  '/RealtimeService/services/RisPort',
  '/CDRonDemandService2/services',
  '/controlcenterservice2/',
  '/perfmonservice2',
  '/logcollectionservice2/services/DimeGetFileService',
  '/ccmservice/',
  '/cmplatform/',
  '/ccmuser/',
  '/webdialer/Webdialer',
  '/manager/html',
  'HTTPS://ucgw.example.test:8443/ccmcip/../ccmadmin?x=1',
];

t.test('administration paths are refused whatever the routes say', async (t) => {
  const router = createRouter([...CATCH_ALL, { pathPrefix: '/ccmadmin/', cluster: 'cucm' }]);
  for (const target of ADMIN_ATTEMPTS) {
    for (const method of ['GET', 'POST', 'HEAD']) {
      const d = router.route(method, target, 'ucgw.example.test');
      t.equal(d.kind, 'deny', `${method} ${target}`);
      if (d.kind === 'deny') t.equal(d.status, 403);
    }
  }
});

t.test('bad targets are 400 with a reason', async (t) => {
  const router = createRouter(CATCH_ALL);
  const bad = [
    '/a%00',
    '/cucm-uds/%0a',
    '/a%7F',
    '/a\u0001b',
    '/a\u007f',
    '/a%',
    '/a%2',
    '/a%g1',
    '/%zzccmadmin',
    '/a b',
    '',
    'ccmadmin',
    '%2fccmadmin',
    '*',
    '/a#frag',
    '/a?q#frag',
    '/a?q\u0000',
    'ftp://host/a',
    'https://user@host/a',
    'https:///a',
    '/\u0100',
    '/x/%2500',
    '/x/%25252525252e',
  ];
  for (const target of bad) {
    const d = router.route('GET', target);
    t.equal(d.kind, 'bad-request', JSON.stringify(target));
    if (d.kind === 'bad-request') {
      t.equal(d.status, 400);
      t.ok(d.reason.length > 0);
    }
  }
});

t.test('routes by longest prefix, case-insensitively, keeping case upstream', async (t) => {
  const router = createRouter(BUILT_IN_STYLE);

  const uds = proxied(router.route('GET', '/cucm-uds/User/JSmith/devices?x=%2F&y'));
  t.equal(uds.cluster, 'cucm');
  t.equal(uds.route, BUILT_IN_STYLE[0]);
  t.equal(uds.forwardPath, '/cucm-uds/User/JSmith/devices?x=%2F&y');
  t.equal(uds.matchPath, '/cucm-uds/user/jsmith/devices');
  t.equal(uds.query, '?x=%2F&y');

  t.equal(router.route('HEAD', '/CUCM-UDS/version').kind, 'proxy');
  t.equal(proxied(router.route('GET', '/cucm-uds')).forwardPath, '/cucm-uds');
  t.equal(proxied(router.route('GET', '/ccmcip/xmldirectory.jsp')).route, BUILT_IN_STYLE[1]);
  t.equal(router.route('DELETE', '/ccmcip/x').kind, 'proxy', 'no methods: any method');

  for (const ok of ['/emapp/EMAppServlet', '/emapp/EMAppServlet?device=SEP1&userid=a&seq=1234', '/EMAPP/emappservlet/x', '/emapp/EMAppServlet;jsessionid=1']) {
    t.equal(router.route('GET', ok).kind, 'proxy', ok);
  }
  const em = proxied(router.route('POST', '/emapp/EMAppServlet?userid=a&seq=1234'));
  t.equal(em.forwardPath, '/emapp/EMAppServlet?userid=a&seq=1234');
  t.equal(em.query, '?userid=a&seq=1234');

  for (const nf of ['/emapp/EMAppServletFoo', '/emapp/', '/', '/cucm-udsx/', '/ccmpd/']) {
    t.same(router.route('GET', nf), { kind: 'not-found', status: 404 }, nf);
  }
});

t.test('405 with the Allow values when the path matches but the method does not', async (t) => {
  const router = createRouter(BUILT_IN_STYLE);
  t.same(router.route('POST', '/cucm-uds/user/x'), { kind: 'method-not-allowed', status: 405, allow: ['GET', 'HEAD'] });
  t.same(router.route('DELETE', '/emapp/EMAppServlet'), {
    kind: 'method-not-allowed',
    status: 405,
    allow: ['GET', 'HEAD', 'POST'],
  });
  // A shorter prefix that allows the method does not rescue it: the longest decides.
  const withRoot = createRouter(CATCH_ALL);
  t.equal(withRoot.route('POST', '/cucm-uds/x').kind, 'method-not-allowed');
  // Two routes on one prefix: the first that allows the method wins.
  const split = createRouter([
    { pathPrefix: '/x/', cluster: 'a', methods: ['GET'] },
    { pathPrefix: '/X/', cluster: 'b', methods: ['POST'] },
  ]);
  t.equal(proxied(split.route('POST', '/x/1')).cluster, 'b');
  t.equal(proxied(split.route('HEAD', '/x/1')).cluster, 'a');
  t.same(split.route('PUT', '/x/1'), { kind: 'method-not-allowed', status: 405, allow: ['GET', 'HEAD', 'POST'] });
});

t.test('path parameters and odd bytes reach upstream intact', async (t) => {
  const router = createRouter(BUILT_IN_STYLE);
  const js = proxied(router.route('GET', '/ccmcip/xmldirectorylist.jsp;jsessionid=ABC?l=Sm%C3%BCth'));
  t.equal(js.forwardPath, '/ccmcip/xmldirectorylist.jsp;jsessionid=ABC?l=Sm%C3%BCth');
  t.equal(js.matchPath, '/ccmcip/xmldirectorylist.jsp');
  t.equal(proxied(router.route('GET', '/ccmcip/;jsessionid=ABC')).forwardPath, '/ccmcip/;jsessionid=ABC');

  const cases: [string, string, string][] = [
    ['/ccmcip/a//b/./c/../d/', '/ccmcip/a/b/d/', '/ccmcip/a/b/d/'],
    ['/ccmcip/%7euser/%41%2d', '/ccmcip/~user/A-', '/ccmcip/~user/a-'],
    ['/ccmcip/a%20b/"x"', '/ccmcip/a%20b/%22x%22', '/ccmcip/a b/"x"'],
    ['/ccmcip/%c3%bc', '/ccmcip/%C3%BC', '/ccmcip/\u00c3\u00bc'],
    ['/ccmcip/a%3bb;c=%3b', '/ccmcip/a%3Bb;c=%3B', '/ccmcip/a'],
    ['/ccmcip/100%25', '/ccmcip/100%25', '/ccmcip/100%'],
    ['/ccmcip\\x\\y', '/ccmcip/x/y', '/ccmcip/x/y'],
    ['/ccmcip/a%2Fb', '/ccmcip/a/b', '/ccmcip/a/b'],
    ["/ccmcip/!$&'()*+,=:@~", "/ccmcip/!$&'()*+,=:@~", "/ccmcip/!$&'()*+,=:@~"],
  ];
  for (const [target, forward, match] of cases) {
    const n = normaliseTarget(target);
    t.ok(n.ok, target);
    if (n.ok) {
      t.equal(n.forwardPath, forward, `forward ${target}`);
      t.equal(n.matchPath, match, `match ${target}`);
    }
  }
  const root = normaliseTarget('/../..');
  t.ok(root.ok && root.matchPath === '/' && root.forwardPath === '/', 'never above root');
});

t.test('absolute-form targets', async (t) => {
  const n = normaliseTarget('https://UCGW.example.test:8443/cucm-uds/version?x');
  t.match(n, { ok: true, host: 'ucgw.example.test', forwardPath: '/cucm-uds/version?x', query: '?x' });
  t.match(normaliseTarget('http://[::1]:80'), { ok: true, host: '[::1]', forwardPath: '/' });
  t.match(normaliseTarget('/cucm-uds/'), { ok: true, host: undefined });
  const router = createRouter(BUILT_IN_STYLE);
  t.equal(proxied(router.route('GET', 'https://ucgw.example.test/cucm-uds/version')).targetHost, 'ucgw.example.test');
});

t.test('host-specific routes', async (t) => {
  const routes: RoutePattern[] = [
    ...BUILT_IN_STYLE,
    { host: 'CL2.ucgw.example.test', pathPrefix: '/cucm-uds/', cluster: 'cluster2' },
    { host: 'cl3.ucgw.example.test', pathPrefix: '/', cluster: 'cluster3', methods: ['GET'] },
  ];
  const router = createRouter(routes);
  t.equal(proxied(router.route('GET', '/cucm-uds/version', 'cl2.ucgw.example.test:8443')).cluster, 'cluster2');
  t.equal(proxied(router.route('POST', '/cucm-uds/version', 'CL2.UCGW.example.test.')).cluster, 'cluster2');
  t.equal(proxied(router.route('GET', '/cucm-uds/version', 'ucgw.example.test')).cluster, 'cucm');
  t.equal(proxied(router.route('GET', '/cucm-uds/version')).cluster, 'cucm');
  // cl2 has no /ccmcip/ route of its own: the host-less one applies
  t.equal(proxied(router.route('GET', '/ccmcip/x', 'cl2.ucgw.example.test')).cluster, 'cucm');
  // a host's own routes come first, even when a host-less prefix is longer
  t.equal(proxied(router.route('GET', '/cucm-uds/x', 'cl3.ucgw.example.test')).cluster, 'cluster3');
  t.equal(router.route('POST', '/ccmcip/x', 'cl3.ucgw.example.test').kind, 'method-not-allowed');
  // absolute-form authority overrides Host
  t.equal(proxied(router.route('GET', 'https://cl2.ucgw.example.test/cucm-uds/x', 'ucgw.example.test')).cluster, 'cluster2');
  t.equal(router.route('GET', '/ccmadmin/', 'cl3.ucgw.example.test').kind, 'deny');
});

t.test('deny list', async (t) => {
  const deny = createDenyList();
  for (const p of [...DENIED_SEGMENTS, ...OPT_IN_SEGMENTS]) t.ok(deny.isDenied(`/${p}/x`), p);
  for (const p of DENIED_PREFIXES) t.ok(deny.isDenied(`/${p}2`) && deny.isDenied(`/${p}`), p);
  for (const p of ['/', '/cucm-uds/', '/artist', '/ccmadmins', '/x/ccmadmin', '/ccmcip/axl']) t.notOk(deny.isDenied(p), p);
  t.ok(deny.isDenied('/CCMAdmin;x'), 'case and params are ignored');

  const opened = createDenyList(['/ccmuser/', 'WebDialer']);
  t.notOk(opened.isDenied('/ccmuser/'));
  t.notOk(opened.isDenied('/webdialer/Webdialer'));
  t.ok(opened.isDenied('/ucmuser/'));
  t.throws(() => createDenyList(['ccmadmin']), { code: 'UCGATE_ERR_CONFIG_INVALID' });

  const router = createRouter([{ pathPrefix: '/', cluster: 'cucm' }], { optIn: ['ucmuser'] });
  t.equal(router.route('GET', '/ucmuser/').kind, 'proxy');
  t.equal(router.route('GET', '/ccmuser/').kind, 'deny');
});

t.test('bad route prefixes are config errors', async (t) => {
  t.throws(() => createRouter([{ pathPrefix: 'cucm-uds/', cluster: 'c' }]), {
    code: 'UCGATE_ERR_CONFIG_INVALID',
    problems: [/^routes\[0\]\.pathPrefix: /],
  });
  t.throws(() => createRouter([{ pathPrefix: '/a', cluster: 'c' }, { pathPrefix: '/a?x', cluster: 'c' }]), {
    name: 'ConfigError',
    problems: [/^routes\[1\]\.pathPrefix: /],
  });
});

// ---- properties ------------------------------------------------------------

const ADMIN_NAMES = ['ccmadmin', 'axl', 'platformcom', 'realtimeservice2', 'CDRonDemandService2', 'ccmservice', 'drf', 'cmplatform'];

/** The oracle: decode until nothing changes, then resolve structure. */
function fullyDecodedFirstSegment(target: string): string | undefined {
  let path = target;
  const q = path.indexOf('?');
  if (q >= 0) path = path.slice(0, q);
  for (let i = 0; i < 20; i++) {
    const next = path.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (next === path) break;
    path = next;
  }
  const out: string[] = [];
  for (const raw of path.split(/[/\\]/)) {
    const seg = raw.split(/[;?#]/)[0]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out[0]?.toLowerCase();
}

function isAdminName(seg: string | undefined): boolean {
  return seg !== undefined && createDenyList().isDenied('/' + seg);
}

const encodeChar = (c: string, mode: number, upperHex: boolean): string => {
  if (mode === 0) return c;
  let hex = c.charCodeAt(0).toString(16).padStart(2, '0');
  hex = upperHex ? hex.toUpperCase() : hex;
  return mode === 1 ? `%${hex}` : `%25${hex}`;
};

const obfuscated = (word: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  word.chain((w) =>
    fc
      .array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 2 }), fc.boolean()), { minLength: w.length, maxLength: w.length })
      .map((ops) => [...w].map((c, i) => encodeChar(ops[i]![0] ? c.toUpperCase() : c, ops[i]![1], ops[i]![2])).join('')),
  );

const separator = fc.constantFrom('/', '//', '\\', '%2f', '%2F', '%5c', '%252f', '/./', '/;x=1/');
const segment = fc.oneof(
  obfuscated(fc.constantFrom(...ADMIN_NAMES)),
  obfuscated(fc.constantFrom('.', '..', 'cucm-uds', 'ccmcip', 'x')),
  fc.constantFrom('', '.', '..', '..;', '%2e%2e', '%252E%252e', 'a;b=c', 'cucm-uds;jsessionid=1'),
  obfuscated(fc.constantFrom('ccmadmin;jsessionid=1', 'axl?x', 'ast#y')),
);
const grammarTarget = fc
  .array(fc.tuple(separator, segment), { minLength: 1, maxLength: 6 })
  .chain((parts) =>
    fc.option(fc.constantFrom('?a=1', '?', '?x=/ccmadmin'), { nil: '' }).map((q) => '/' + parts.map(([s, g]) => s + g).join('') + q),
  );

/** How Tomcat reads a path it is sent: params stripped raw, then decoded once. */
function tomcatFirstSegment(forwardPath: string): string | undefined {
  const path = forwardPath.split('?')[0]!;
  for (const raw of path.split('/')) {
    const seg = decodeURIComponent(raw.split(';')[0]!.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
    if (seg !== '') return seg.toLowerCase();
  }
  return undefined;
}

t.test('property: an admin path after full decoding is never proxied', async (t) => {
  const router = createRouter(CATCH_ALL);
  fc.assert(
    fc.property(grammarTarget, fc.constantFrom('GET', 'POST', 'HEAD'), (target, method) => {
      const d = router.route(method, target);
      if (isAdminName(fullyDecodedFirstSegment(target))) {
        if (d.kind !== 'deny' && d.kind !== 'bad-request') throw new Error(`${target} -> ${d.kind}`);
      }
      if (d.kind === 'proxy') {
        if (isAdminName(tomcatFirstSegment(d.forwardPath))) throw new Error(`${target} forwards ${d.forwardPath}`);
      }
    }),
    { numRuns: 20_000 },
  );
  t.pass('20000 generated targets');
});

const anyChar = fc.oneof(
  fc.constantFrom('/', '\\', '%', '.', ';', '?', '#', '=', '2', 'f', 'e', 'c', 'A', ' ', '\u0000', '\u00ff', '\u0100', '\ud800'),
  fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)),
);
const anyTarget = fc.oneof(
  fc.string({ unit: anyChar, maxLength: 60 }),
  fc.string({ unit: anyChar, maxLength: 60 }).map((s) => '/' + s),
  fc.string({ maxLength: 60 }).map((s) => 'https://h' + s),
  grammarTarget,
);

t.test('property: route() never throws, and forwardPath is canonical', async (t) => {
  const router = createRouter(CATCH_ALL);
  fc.assert(
    fc.property(anyTarget, fc.option(fc.string(), { nil: undefined }), (target, host) => {
      const d = router.route('GET', target, host);
      if (d.kind !== 'proxy') return;
      // Normalising what we forward changes nothing: upstream sees exactly what we checked.
      const again = normaliseTarget(d.forwardPath);
      if (!again.ok || again.forwardPath !== d.forwardPath || again.matchPath !== d.matchPath) {
        throw new Error(`${JSON.stringify(target)}: ${d.forwardPath} is not a fixed point`);
      }
      const path = d.forwardPath.split('?')[0]!;
      if (/\/\.{1,2}(?:[/;]|$)|\/\/|%2f|%5c|\\/i.test(path)) throw new Error(`${d.forwardPath} is not canonical`);
    }),
    { numRuns: 20_000 },
  );
  t.pass('20000 arbitrary targets');
});

t.test('property: the fast path and the segment-by-segment path agree', async (t) => {
  // Escaping one unreserved letter forces the slow path; the result must not change.
  const plainTarget = fc
    .string({ unit: fc.constantFrom('/', '.', ';', '=', 'a', 'B', 'c', '-', '~', '@', ':', '!'), minLength: 1, maxLength: 30 })
    .map((s) => '/' + s)
    .filter((s) => /[aBc]/.test(s));
  fc.assert(
    fc.property(plainTarget, fc.option(fc.constantFrom('?x=1', '?'), { nil: '' }), (path, query) => {
      const at = path.search(/[aBc]/);
      const escaped = path.slice(0, at) + '%' + path.charCodeAt(at).toString(16) + path.slice(at + 1);
      const fast = normaliseTarget(path + query);
      const slow = normaliseTarget(escaped + query);
      if (!fast.ok || !slow.ok) throw new Error(`${path}: not ok`);
      if (fast.matchPath !== slow.matchPath || fast.forwardPath !== slow.forwardPath) {
        throw new Error(`${path}: ${fast.matchPath} ${fast.forwardPath} vs ${slow.matchPath} ${slow.forwardPath}`);
      }
    }),
    { numRuns: 20_000 },
  );
  t.pass('20000 plain targets');
});

t.test('`*` segments: one segment each; a path the pattern misses falls through to a shorter prefix', async (t) => {
  const router = createRouter<RoutePattern>([
    { pathPrefix: '/cucm-uds/', cluster: 'reads', methods: ['GET'] },
    { pathPrefix: '/cucm-uds/user/*/device/*/devicetoken', cluster: 'push', methods: ['PUT', 'DELETE'] },
  ]);
  t.equal(proxied(router.route('PUT', '/cucm-uds/user/jdoe/device/1234/devicetoken')).cluster, 'push');
  t.equal(proxied(router.route('DELETE', '/CUCM-UDS/User/jdoe/Device/1234/DeviceToken')).cluster, 'push', 'case as for any prefix');
  t.equal(proxied(router.route('GET', '/cucm-uds/user/jdoe/devices')).cluster, 'reads', 'not the pattern: the shorter prefix decides');
  t.equal(proxied(router.route('GET', '/cucm-uds/user/jdoe')).cluster, 'reads');
  t.same(router.route('GET', '/cucm-uds/user/jdoe/device/1234/devicetoken'), { kind: 'method-not-allowed', status: 405, allow: ['PUT', 'DELETE'] }, 'the pattern covers it: its methods decide');
  t.same(router.route('PUT', '/cucm-uds/user/jdoe'), { kind: 'method-not-allowed', status: 405, allow: ['GET', 'HEAD'] }, 'a write the pattern does not cover');
  t.same(router.route('PUT', '/cucm-uds/user/jdoe/x/device/1/devicetoken'), { kind: 'method-not-allowed', status: 405, allow: ['GET', 'HEAD'] }, '`*` is one segment, not several');
  t.same(router.route('PUT', '/cucm-uds/user//device/1/devicetoken').kind, 'method-not-allowed', 'nor an empty one');
  t.equal(proxied(router.route('PUT', '/cucm-uds/user/jdoe/device/1234/devicetoken/')).cluster, 'push', 'below the pattern');
  t.equal(proxied(router.route('PUT', '/cucm-uds/user/j%2eo/device/1;x=1/devicetoken')).cluster, 'push', 'encoded and parameterised segments still count once');
});
