/** clusters[].serviceChecks in the loader: inheritance from healthCheck, key names, and the unused-check rule of `ucgate check`. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

type Obj = Record<string, any>;

const opts = { baseDir: '/etc/ucgate', configFile: '' };

function config(cluster: Obj = {}, routes?: Obj[]): Obj {
  return {
    gateway: { fqdn: 'ucgw.example.test' },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }], ...cluster }],
    ...(routes ? { routes } : {}),
  };
}

function problemsOf(input: Obj): string[] {
  try {
    parseConfig(input, opts);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const ROUTES = [
  { pathPrefix: '/cucm-uds/', cluster: 'cucm', service: 'uds' },
  { pathPrefix: '/emapp/EMAppServlet', cluster: 'cucm', service: 'tomcat' },
];

t.test('a service check takes the keys it leaves out from the cluster healthCheck', async (t) => {
  const cfg = parseConfig(
    config(
      {
        healthCheck: { intervalMs: 500, fall: 3, expectBody: '<versionInformation' },
        serviceChecks: {
          tomcat: { path: '/emapp/EMAppServlet', rise: 5 },
          uds: { timeoutMs: 300 },
          same: { path: '/cucm-uds/version' },
          own: { path: '/ccmcip/', expectBody: 'CiscoIPPhone' },
        },
      },
      [...ROUTES, { pathPrefix: '/a/', cluster: 'cucm', service: 'same' }, { pathPrefix: '/b/', cluster: 'cucm', service: 'own' }],
    ),
    opts,
  );
  const cluster = cfg.clusters[0]!;
  t.strictSame(cluster.healthCheck, { path: '/cucm-uds/version', intervalMs: 500, timeoutMs: 1000, fall: 3, rise: 2, expectStatus: 200, expectBody: '<versionInformation' });
  t.strictSame(cluster.serviceChecks, {
    // Another path: the main check's expected text says nothing about this answer.
    tomcat: { path: '/emapp/EMAppServlet', intervalMs: 500, timeoutMs: 1000, fall: 3, rise: 5, expectStatus: 200 },
    uds: { path: '/cucm-uds/version', intervalMs: 500, timeoutMs: 300, fall: 3, rise: 2, expectStatus: 200, expectBody: '<versionInformation' },
    same: { path: '/cucm-uds/version', intervalMs: 500, timeoutMs: 1000, fall: 3, rise: 2, expectStatus: 200, expectBody: '<versionInformation' },
    own: { path: '/ccmcip/', intervalMs: 500, timeoutMs: 1000, fall: 3, rise: 2, expectStatus: 200, expectBody: 'CiscoIPPhone' },
  });
  t.ok(Object.isFrozen(cluster.serviceChecks!.tomcat), 'frozen like the rest');
  t.notOk('serviceChecks' in parseConfig(config(), opts).clusters[0]!, 'absent unless configured');
});

t.test('the built-in routes name uds and tomcat', async (t) => {
  const cfg = parseConfig(config({ serviceChecks: { tomcat: { path: '/emapp/EMAppServlet' }, uds: {} } }), opts);
  t.ok(cfg.routesBuiltIn);
  t.strictSame(Object.keys(cfg.clusters[0]!.serviceChecks!), ['tomcat', 'uds']);
});

t.test('a service check no route of its cluster names is an error naming the key', async (t) => {
  t.strictSame(problemsOf(config({ serviceChecks: { tomcat: {}, foo: {} } }, ROUTES)), [
    'clusters[0].serviceChecks.foo: no route names service "foo" (routes[].service, on a route to cluster "cucm")',
  ]);
  t.strictSame(problemsOf(config({ serviceChecks: { tomact: {} } })), [
    'clusters[0].serviceChecks.tomact: no route names service "tomact" (routes[].service, on a route to cluster "cucm")',
  ], 'a misspelt service against the built-in routes');
  const two = config({ serviceChecks: { tomcat: {} } }, [{ pathPrefix: '/emapp/', cluster: 'other', service: 'tomcat' }]);
  two.clusters.push({ name: 'other', nodes: [{ name: 'pub', url: 'https://cucm2-pub.example.test:8443' }] });
  t.match(problemsOf(two), ['clusters[0].serviceChecks.tomcat: no route names service "tomcat" (routes[].service, on a route to cluster "cucm")'], "another cluster's route does not count");
});

t.test('key names and check keys are validated', async (t) => {
  t.strictSame(problemsOf(config({ serviceChecks: { 'em tomcat': {} } }, ROUTES)), [
    'clusters[0].serviceChecks: key "em tomcat" must be a name of letters, digits, ".", "_" or "-" (at most 64)',
  ]);
  t.strictSame(problemsOf(config({ serviceChecks: { tomcat: { pth: '/x', fall: 0 } } }, ROUTES)), [
    'clusters[0].serviceChecks.tomcat.pth: unknown key (did you mean "path"?)',
    'clusters[0].serviceChecks.tomcat.fall: must be an integer from 1 to 100',
  ]);
  t.strictSame(problemsOf(config({ serviceChecks: { tomcat: { path: 'emapp' } } }, ROUTES)), ['clusters[0].serviceChecks.tomcat.path: must be a path starting with "/"']);
  t.strictSame(problemsOf(config({ serviceChecks: [] }, ROUTES)), ['clusters[0].serviceChecks: must be a mapping (key: value)']);
});
