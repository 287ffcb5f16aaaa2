import t from 'tap';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatProblems, loadConfigFile, parseConfig, parseConfigText } from '../../src/config/load.js';
import { builtInRoutes } from '../../src/config/builtin-routes.js';
import { configSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

type Obj = Record<string, any>;

const EXAMPLE = fileURLToPath(new URL('../../config/ucgate.example.yaml', import.meta.url));
const PROBLEM_LINE = /^[A-Za-z0-9_.[\]]+: \S/;
const opts = { baseDir: '/etc/ucgate', configFile: '' };

function minimal(): Obj {
  return {
    gateway: { fqdn: 'ucgw.example.test' },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
  };
}

function withChange(change: (c: Obj) => void): Obj {
  const c = minimal();
  change(c);
  return c;
}

/** The problem lines a call throws; fails the test if it throws anything else. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function isWellFormed(err: unknown): boolean {
  return (
    err instanceof ConfigError &&
    err.problems.length > 0 &&
    err.problems.every((p) => PROBLEM_LINE.test(p) && !p.includes('\n'))
  );
}

t.test('a minimal config gets every default', async (t) => {
  const cfg = parseConfig(minimal(), opts);
  t.strictSame(cfg, {
    gateway: { fqdn: 'ucgw.example.test', altNames: [], instances: [] },
    clusters: [
      {
        name: 'cucm',
        nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443', priority: 1, weight: 1, aliases: [] }],
        tls: { verify: true },
        healthCheck: { path: '/cucm-uds/version', intervalMs: 2000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200 },
        timeouts: { connectMs: 1000, firstByteMs: 5000, hedgeMs: 400, totalMs: 0 },
        retries: 2,
      },
    ],
    listen: { https: [{ host: '0.0.0.0', port: 8443 }], http: [] },
    tls: { profile: 'modern', ticketKeyRotationMs: 43_200_000 },
    certificates: {
      dir: '/etc/ucgate/certs',
      store: { type: 'file', lockLeaseMs: 15_000, checkIntervalMs: 30_000 },
      keyTypes: ['rsa-2048'],
      renewBeforeDays: 30,
      issuer: { type: 'self-signed' },
    },
    workers: Math.min(64, availableParallelism()),
    workerMode: 'auto',
    log: { level: 'info', access: true },
    shutdown: { graceMs: 10_000 },
    limits: {
      http: {
        maxHeaderBytes: 16_384,
        maxHeaders: 100,
        maxUrlBytes: 8_192,
        maxBodyBytes: 10_485_760,
        maxConnections: 20_000,
        maxConnectionsPerClient: 500,
        maxRequestsPerConnection: 10_000,
        idleTimeoutMs: 30_000,
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 120_000,
        upstreamMaxHeaderBytes: 65_536,
        bufferBodyBytes: 65_536,
        bodyTimeoutMs: 10_000,
        minBodyBytesPerSecond: 1_024,
      },
      loginAttempts: { windowMs: 60_000, perClient: 30, perUser: 10 },
    },
    routes: builtInRoutes('cucm').map((r) => ({ affinityMode: 'prefer', ...r, maxQueued: 1000, queueTimeoutMs: 10_000 })),
    routesBuiltIn: true,
    configFile: '',
  });
});

t.test('built-in routes are the UC allow-list on the first cluster', async (t) => {
  const cfg = parseConfig(
    withChange((c) => c.clusters.push({ name: 'two', nodes: [{ name: 'a', url: 'https://a.example.test' }] })),
    opts,
  );
  t.equal(cfg.routesBuiltIn, true);
  t.strictSame(
    cfg.routes.map((r) => [r.pathPrefix, r.cluster, r.methods?.join(' '), r.replay, r.maxConcurrent ?? '-']),
    [
      // Only UDS discovery, which needs no credentials and changes nothing, is hedged.
      ['/cucm-uds/version', 'cucm', 'GET HEAD', 'hedge', '-'],
      ['/cucm-uds/servers', 'cucm', 'GET HEAD', 'hedge', '-'],
      ['/cucm-uds/clusterUser', 'cucm', 'GET HEAD', 'hedge', '-'],
      ['/cucm-uds/options', 'cucm', 'GET HEAD', 'hedge', '-'],
      ['/cucm-uds/', 'cucm', 'GET HEAD', 'before-send', '-'],
      // Phones change state with GET: every phone-service path is never replayed.
      ['/ccmcip/', 'cucm', 'GET HEAD POST', 'never', '-'],
      ['/ccmcip/authenticate.jsp', 'cucm', 'GET HEAD POST', 'never', 20],
      ['/ccmpd/', 'cucm', 'GET HEAD POST', 'never', '-'],
      ['/emapp/EMAppServlet', 'cucm', 'GET HEAD POST', 'never', 5],
      ['/changecredential/', 'cucm', 'GET HEAD POST', 'never', '-'],
      // Writes Jabber itself sends, and its OAuth sign-in.
      ['/cucm-uds/user/*/device/*/devicetoken', 'cucm', 'PUT DELETE', 'never', '-'],
      ['/cucm-uds/user/*/remoteDestination/', 'cucm', 'POST PUT DELETE', 'never', '-'],
      ['/ssosp/oauth/', 'cucm', 'GET HEAD POST', 'never', '-'],
    ],
  );
  const empty = parseConfigText(
    'gateway: { fqdn: ucgw.example.test }\nclusters: { name: cucm, srv: { name: _cisco-uds._tcp.example.test } }\nroutes:\n# - { pathPrefix: /x/, cluster: cucm }\n',
    opts,
  );
  t.equal(empty.routesBuiltIn, true, 'an empty routes: key means the built-in list');
  const own = parseConfig(withChange((c) => (c.routes = [{ pathPrefix: '/x/', cluster: 'cucm' }])), opts);
  t.equal(own.routesBuiltIn, false);
  t.strictSame(own.routes, [{ pathPrefix: '/x/', cluster: 'cucm', replay: 'before-send', affinityMode: 'prefer', maxQueued: 1000, queueTimeoutMs: 10_000 }], 'a configured route replays only what no node received');
});

t.test('replay: hedge only on routes whose methods are all safe', async (t) => {
  const problems = (routes: unknown[]) => {
    try {
      parseConfig(withChange((c) => (c.routes = routes)), opts);
      return [];
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
  };
  t.same(problems([{ pathPrefix: '/cucm-uds/version', cluster: 'cucm', methods: ['GET', 'HEAD'], replay: 'hedge' }]), []);
  t.match(problems([{ pathPrefix: '/x/', cluster: 'cucm', replay: 'hedge' }]), [/^routes\[0\]\.replay: hedge needs `methods`/]);
  t.match(problems([{ pathPrefix: '/x/', cluster: 'cucm', methods: ['GET', 'POST'], replay: 'hedge' }]), [/^routes\[0\]\.replay: hedge is only for safe methods; this route also allows POST/]);
  t.match(problems([{ pathPrefix: '/x/', cluster: 'cucm', replay: 'twice' }]), [/^routes\[0\]\.replay: /]);
});

t.test('a single object is accepted wherever a list is', async (t) => {
  const cfg = parseConfig(
    {
      gateway: { fqdn: 'ucgw.example.test', altNames: '10.0.0.1' },
      listen: { https: { port: 0 }, http: { host: '127.0.0.1', port: 0 } },
      clusters: { name: 'cucm', nodes: { name: 'pub', url: 'https://pub.example.test', aliases: 'cucm-pub' } },
      routes: { pathPrefix: '/cucm-uds/', cluster: 'cucm', methods: 'get' },
    },
    opts,
  );
  t.strictSame(cfg.listen.https, [{ host: '0.0.0.0', port: 0 }]);
  t.strictSame(cfg.listen.http, [{ host: '127.0.0.1', port: 0 }]);
  t.equal(cfg.clusters.length, 1);
  t.equal(cfg.clusters[0]?.nodes[0]?.name, 'pub');
  t.strictSame(cfg.clusters[0]?.nodes[0]?.aliases, ['cucm-pub']);
  t.strictSame(cfg.gateway.altNames, ['10.0.0.1']);
  t.strictSame(cfg.routes, [{ pathPrefix: '/cucm-uds/', cluster: 'cucm', methods: ['GET'], replay: 'before-send', affinityMode: 'prefer', maxQueued: 1000, queueTimeoutMs: 10_000 }]);
});

t.test('an srv cluster gets nodes: [] and srv defaults', async (t) => {
  const cfg = parseConfig(
    withChange((c) => (c.clusters = [{ name: 'cucm', srv: { name: '_cisco-uds._tcp.example.test' } }])),
    opts,
  );
  t.strictSame(cfg.clusters[0]?.nodes, []);
  t.strictSame(cfg.clusters[0]?.srv, { name: '_cisco-uds._tcp.example.test', servers: [], refreshSeconds: 60 });
});

t.test('relative paths resolve against the config folder', async (t) => {
  const dir = t.testdir({
    'ca.pem': 'x',
    'acme-ca.pem': 'x',
    'eab.key': 'x',
    'admin.token': randomBytes(32).toString('hex'),
    'ucgate.yaml': [
      'gateway: { fqdn: ucgw.example.test }',
      'listen: { admin: { port: 0, tokenFile: admin.token } }',
      'certificates:',
      '  dir: store/certs',
      '  store: { type: redis, url: "redis://127.0.0.1:6379", keyFile: store.key }',
      '  issuer:',
      '    type: acme',
      '    acme: { directoryUrl: "https://127.0.0.1:14000/dir", caFile: acme-ca.pem,',
      '            eab: { kid: k, hmacKeyFile: eab.key } }',
      'clusters:',
      '  - name: cucm',
      '    nodes: [{ name: pub, url: "https://pub.example.test" }]',
      '    tls: { caFile: ca.pem }',
    ].join('\n'),
  });
  chmodSync(path.join(dir, 'admin.token'), 0o600);
  const file = path.join(dir, 'ucgate.yaml');
  const cfg = await loadConfigFile(path.relative(process.cwd(), file));
  t.equal(cfg.configFile, file);
  t.equal(cfg.certificates.dir, path.join(dir, 'store/certs'));
  t.equal(cfg.certificates.store.keyFile, path.join(dir, 'store.key'));
  t.equal(cfg.certificates.issuer.acme?.caFile, path.join(dir, 'acme-ca.pem'));
  t.equal(cfg.certificates.issuer.acme?.eab?.hmacKeyFile, path.join(dir, 'eab.key'));
  t.equal(cfg.certificates.issuer.acme?.challenge, 'http-01');
  t.equal(cfg.clusters[0]?.tls.caFile, path.join(dir, 'ca.pem'));
  t.equal(cfg.listen.admin?.tokenFile, path.join(dir, 'admin.token'));
  t.strictSame({ ...cfg.listen.admin, tokenFile: '' }, { host: '127.0.0.1', port: 0, tls: true, tokenFile: '' });
});

t.test('bad configs name the key at fault', async (t) => {
  const dir = t.testdir({ 'open.token': 'secret' });
  chmodSync(path.join(dir, 'open.token'), 0o644);
  const at = { baseDir: dir, configFile: '' };
  const cases: [string, Obj, string | RegExp][] = [
    ['missing fqdn', withChange((c) => delete c.gateway.fqdn), 'gateway.fqdn: is required'],
    ['missing clusters', withChange((c) => delete c.clusters), 'clusters: is required'],
    ['unknown top-level key', withChange((c) => (c.foo = 1)), 'foo: unknown key'],
    ['misspelt key', withChange((c) => (c.cluster = [])), 'cluster: unknown key (did you mean "clusters"?)'],
    ['unknown nested key', withChange((c) => (c.clusters[0].nodes[0].colour = 'red')), 'clusters[0].nodes[0].colour: unknown key'],
    ['unknown odd key', withChange((c) => (c.gateway['a b'] = 1)), 'gateway: unknown key "a b"'],
    ['http node url', withChange((c) => (c.clusters[0].nodes[0].url = 'http://pub.example.test')), 'clusters[0].nodes[0].url: must be an https:// URL'],
    ['url without host', withChange((c) => (c.clusters[0].nodes[0].url = 'https://')), 'clusters[0].nodes[0].url: must be an https:// URL'],
    ['missing CA file', withChange((c) => (c.clusters[0].tls = { caFile: 'nope.pem' })), `clusters[0].tls.caFile: file not found: ${path.join(dir, 'nope.pem')}`],
    ['port 70000', withChange((c) => (c.listen = { https: [{ port: 70000 }] })), 'listen.https[0].port: must be an integer from 0 to 65535'],
    ['port -1', withChange((c) => (c.listen = { http: [{ port: -1 }] })), 'listen.http[0].port: must be an integer from 0 to 65535'],
    ['port as text', withChange((c) => (c.listen = { https: { port: 'x' } })), 'listen.https[0].port: must be an integer from 0 to 65535'],
    ['weight 300', withChange((c) => (c.clusters[0].nodes[0].weight = 300)), 'clusters[0].nodes[0].weight: must be an integer from 0 to 256'],
    ['duplicate node names', withChange((c) => c.clusters[0].nodes.push({ name: 'pub', url: 'https://b.example.test' })), 'clusters[0].nodes[1].name: duplicate node name "pub"'],
    ['duplicate cluster names', withChange((c) => c.clusters.push(c.clusters[0])), 'clusters[1].name: duplicate cluster name "cucm"'],
    ['route to unknown cluster', withChange((c) => (c.routes = [{ pathPrefix: '/a/', cluster: 'cucm' }, { pathPrefix: '/b/', cluster: 'x' }])), 'routes[1].cluster: unknown cluster "x"'],
    ['route path without /', withChange((c) => (c.routes = [{ pathPrefix: 'a/', cluster: 'cucm' }])), 'routes[0].pathPrefix: must be a path starting with "/"'],
    ['route method', withChange((c) => (c.routes = [{ pathPrefix: '/a/', cluster: 'cucm', methods: ['FETCH'] }])), 'routes[0].methods[0]: must be one of: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH'],
    ['admin tls:false off loopback', withChange((c) => (c.listen = { admin: { host: '0.0.0.0', tls: false } })), /^listen\.admin\.tls: false \(plain HTTP\) is allowed only on a loopback host/],
    ['both nodes and srv', withChange((c) => (c.clusters[0].srv = { name: '_cisco-uds._tcp.example.test' })), /^clusters\[0\]\.srv: cannot be combined with nodes/],
    ['neither nodes nor srv', withChange((c) => delete c.clusters[0].nodes), /^clusters\[0\]\.nodes: is required/],
    ['empty nodes', withChange((c) => (c.clusters[0].nodes = [])), 'clusters[0].nodes: must not be empty'],
    ['missing tokenFile', withChange((c) => (c.listen = { admin: { tokenFile: 'none.token' } })), `listen.admin.tokenFile: file not found: ${path.join(dir, 'none.token')}`],
    ['token readable by others', withChange((c) => (c.listen = { admin: { tokenFile: 'open.token' } })), /^listen\.admin\.tokenFile: must not be accessible to group or others \(mode 0644\)/],
    ['missing hmacKeyFile', withChange((c) => (c.certificates = { issuer: { type: 'acme', acme: { directoryUrl: 'https://acme.example.test/dir', eab: { kid: 'k', hmacKeyFile: 'h.key' } } } })), `certificates.issuer.acme.eab.hmacKeyFile: file not found: ${path.join(dir, 'h.key')}`],
    ['acme without its block', withChange((c) => (c.certificates = { issuer: { type: 'acme' } })), 'certificates.issuer.acme: is required when issuer type is acme'],
    ['redis without url', withChange((c) => (c.certificates = { store: { type: 'redis' } })), 'certificates.store.url: is required when store type is redis'],
    ['duplicate listener', withChange((c) => (c.listen = { https: [{ port: 8443 }], http: [{ host: '127.0.0.1', port: 8443 }] })), 'listen.http[0].port: 127.0.0.1:8443 is already used by listen.https[0]'],
    ['fqdn not a DNS name', withChange((c) => (c.gateway.fqdn = 'ucgw_example!test')), /^gateway\.fqdn: must be a DNS name/],
    ['fqdn an IP', withChange((c) => (c.gateway.fqdn = '10.0.0.1')), /^gateway\.fqdn: must be a DNS name/],
    ['two RSA key types', withChange((c) => (c.certificates = { keyTypes: ['rsa-2048', 'rsa-3072'] })), /^certificates\.keyTypes: two key types must be one RSA and one ECDSA/],
    ['bad key type', withChange((c) => (c.certificates = { keyTypes: 'rsa-1024' })), 'certificates.keyTypes[0]: must be one of: rsa-2048, rsa-3072, ecdsa-p256'],
    ['verify not boolean', withChange((c) => (c.clusters[0].tls = { verify: 'yes' })), 'clusters[0].tls.verify: must be true or false'],
    ['root not a mapping', [] as unknown as Obj, /^config: must be a mapping/],
  ];
  for (const [name, input, expected] of cases) {
    const problems = problemsOf(() => parseConfig(input, at));
    if (typeof expected === 'string') t.ok(problems.includes(expected), name, { problems, expected });
    else t.ok(problems.some((p) => expected.test(p)), name, { problems, expected });
    t.ok(problems.every((p) => PROBLEM_LINE.test(p)), `${name}: every line is path: message`, { problems });
  }
});

t.test('port 0 may repeat; admin tls:false is fine on loopback', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
    const cfg = parseConfig(
      withChange((c) => (c.listen = { https: [{ port: 0 }, { port: 0 }], http: { port: 0 }, admin: { host, port: 0, tls: false } })),
      opts,
    );
    t.equal(cfg.listen.admin?.tls, false, host);
  }
});

t.test('several problems at once give several lines', async (t) => {
  const problems = problemsOf(() =>
    parseConfig(
      {
        gateway: { bogus: true },
        listen: { https: [{ port: 70000 }] },
        clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'http://pub' }, { name: 'pub', url: 'https://b' }] }],
        routes: [{ pathPrefix: '/x/', cluster: 'other' }],
      },
      opts,
    ),
  );
  for (const line of [
    'gateway.fqdn: is required',
    'gateway.bogus: unknown key',
    'listen.https[0].port: must be an integer from 0 to 65535',
    'clusters[0].nodes[0].url: must be an https:// URL',
    'clusters[0].nodes[1].name: duplicate node name "pub"',
    'routes[0].cluster: unknown cluster "other"',
  ]) {
    t.ok(problems.includes(line), line, { problems });
  }
  t.equal(new Set(problems).size, problems.length, 'no duplicate lines');
});

t.test('files: YAML errors, unreadable and empty files are one clear line', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'gateway:\n  fqdn: [ucgw.example.test\nclusters: []\n',
    'tabs.yaml': 'gateway:\n\tfqdn: x\n',
    'dup.yaml': 'gateway: {}\ngateway: {}\n',
    'empty.yaml': '# nothing here\n',
  });
  for (const [file, line] of [
    ['bad.yaml', /^config: YAML error at line \d+, column \d+: \S/],
    ['tabs.yaml', /^config: YAML error at line 2, column 1: Tabs are not allowed/],
    ['dup.yaml', /^config: YAML error at line 2, column 1: Map keys must be unique$/],
    ['empty.yaml', /^config: is empty/],
    ['missing.yaml', new RegExp(`^config: cannot read ${path.join(dir, 'missing.yaml')}: ENOENT`)],
    ['.', /^config: cannot read .*: EISDIR/],
  ] as const) {
    const err = await loadConfigFile(path.join(dir, file)).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof ConfigError, file);
    const problems = (err as ConfigError).problems;
    t.equal(problems.length, 1, `${file}: one line`, { problems });
    t.match(problems[0], line, file);
    t.equal(formatProblems(err as ConfigError), problems[0]);
  }
  const cyclic = problemsOf(() => parseConfigText('clusters: &x [*x]\n', opts));
  t.ok(cyclic.includes('clusters[0]: refers to itself (a recursive YAML alias)'), 'alias cycle', { cyclic });
});

t.test('the result is deeply frozen and the input untouched', async (t) => {
  const input = minimal();
  const before = JSON.stringify(input);
  const cfg = parseConfig(input, opts);
  t.equal(JSON.stringify(input), before);
  t.ok(Object.isFrozen(cfg));
  t.ok(Object.isFrozen(cfg.clusters[0]?.nodes[0]?.aliases));
  t.ok(Object.isFrozen(cfg.routes[0]?.methods));
  t.throws(() => {
    (cfg.clusters[0]?.healthCheck as Obj).intervalMs = 1;
  }, TypeError);
  t.throws(() => {
    (cfg.listen.https as unknown as Obj[]).push({});
  }, TypeError);
});

t.test('the example config loads and documents every key', async (t) => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const dir = t.testdir({ 'ucgate.yaml': text, 'admin.token': randomBytes(32).toString('hex') });
  chmodSync(path.join(dir, 'admin.token'), 0o600);
  mkdirSync(path.join(dir, 'certs'));
  writeFileSync(path.join(dir, 'certs', 'cucm-ca.pem'), 'x');
  const cfg = await loadConfigFile(path.join(dir, 'ucgate.yaml'));
  t.equal(cfg.gateway.fqdn, 'ucgw.example.test');
  t.equal(cfg.listen.https.length, 3);
  t.equal(cfg.clusters[0]?.nodes[1]?.address, '10.0.0.12');
  t.equal(cfg.routesBuiltIn, false);

  const keys = new Set<string>();
  const walk = (s: unknown): void => {
    if (typeof s !== 'object' || s === null) return;
    const schema = s as Obj;
    for (const [k, sub] of Object.entries((schema.properties ?? {}) as Obj)) {
      keys.add(k);
      walk(sub);
    }
    walk(schema.items);
  };
  walk(configSchema);
  for (const k of keys) t.match(text, new RegExp(`\\b${k}:`), `documents ${k}`);
});

t.test('property: only ConfigErrors, and every line is path: message', async (t) => {
  const dir = t.testdir({});
  const at = { baseDir: dir, configFile: '' };
  const check = (fn: () => unknown): boolean => {
    try {
      fn();
      return true;
    } catch (err) {
      return isWellFormed(err);
    }
  };
  fc.assert(fc.property(fc.jsonValue(), (v) => check(() => parseConfig(v, at))), { numRuns: 500 });

  // Valid configs with arbitrary values dropped in at real keys reach deeper checks.
  const slots = [
    ['gateway'], ['gateway', 'fqdn'], ['gateway', 'altNames'], ['listen'], ['listen', 'https'], ['listen', 'admin'],
    ['tls'], ['certificates'], ['certificates', 'issuer'], ['certificates', 'keyTypes'], ['clusters'],
    ['clusters', 0], ['clusters', 0, 'nodes'], ['clusters', 0, 'nodes', 0], ['clusters', 0, 'nodes', 0, 'url'],
    ['clusters', 0, 'srv'], ['clusters', 0, 'tls'], ['clusters', 0, 'healthCheck'], ['routes'], ['routes', 0],
    ['workers'], ['log'], ['shutdown'],
  ] as const;
  const edit = fc.tuple(fc.constantFrom(...slots), fc.jsonValue());
  fc.assert(
    fc.property(fc.array(edit, { maxLength: 4 }), (edits) => {
      const c: Obj = { ...minimal(), routes: [{ pathPrefix: '/a/', cluster: 'cucm' }] };
      for (const [slot, value] of edits) {
        let o: any = c;
        for (const k of slot.slice(0, -1)) o = typeof o === 'object' && o !== null ? o[k] : undefined;
        if (typeof o === 'object' && o !== null) o[slot[slot.length - 1] as string] = value;
      }
      return check(() => parseConfig(c, at));
    }),
    { numRuns: 500 },
  );

  const yamlish = fc.string({
    unit: fc.constantFrom(...'ab:- \n\t[]{}"\'#&*!|>%@`,?0123456789.'.split(''), 'gateway', 'clusters', 'port'),
    maxLength: 80,
  });
  fc.assert(fc.property(yamlish, (s) => check(() => parseConfigText(s, at))), { numRuns: 500 });

  const example = readFileSync(EXAMPLE, 'utf8');
  const mutation = fc.tuple(fc.nat({ max: example.length }), fc.nat({ max: 5 }), fc.string({ maxLength: 4 }));
  fc.assert(
    fc.property(mutation, ([pos, del, ins]) => check(() => parseConfigText(example.slice(0, pos) + ins + example.slice(pos + del), at))),
    { numRuns: 300 },
  );
  t.pass('no other error escaped, every line well formed');
});
