/**
 * Issue 17: `ucgate check` warns about a route the hard deny list refuses
 * whole — on stderr, one `warning: path.to.key: message` line each, exit 0
 * and the summary on stdout as before. Runs the built CLI (dist/).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/gateway.js';

const CONFIG = (routes: string) => `gateway: { fqdn: ucgw.example.test }
listen: { https: [{ host: 127.0.0.1, port: 8443 }] }
clusters:
  - name: cucm
    nodes: [{ name: pub, url: "https://cucm-pub.example.test:8443" }]
${routes}`;

t.test('a route the deny list fully shadows is a warning, not an error', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'ucgate.yaml');
  writeFileSync(
    file,
    CONFIG(`routes:
  - { pathPrefix: /cucm-uds/, cluster: cucm }
  - { pathPrefix: /ma/, cluster: cucm }
  - { pathPrefix: /ccmadmin/, cluster: cucm }
  - { pathPrefix: /ssosp/, cluster: cucm }
  - { pathPrefix: /emservice/, cluster: cucm }
`),
  );
  const result = await runCli(['check', '--config', file]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /: ok — 1 cluster\(s\).*5 route\(s\)/);
  t.same(result.stderr.trimEnd().split('\n'), [
    'warning: routes[2].pathPrefix: /ccmadmin/ is always refused (CUCM administration)',
    'warning: routes[4].pathPrefix: /emservice/ is always refused (the Extension Mobility API, which logs any user in or out)',
  ]);
});

t.test('the built-in routes and ordinary ones give no warning', async (t) => {
  const dir = t.testdir();
  const builtIn = join(dir, 'builtin.yaml');
  writeFileSync(builtIn, CONFIG(''));
  const a = await runCli(['check', '--config', builtIn]);
  t.equal(a.code, 0, a.stderr);
  t.equal(a.stderr, '');
  const wide = join(dir, 'wide.yaml');
  writeFileSync(wide, CONFIG('routes: [{ pathPrefix: /, cluster: cucm }]\n'));
  const b = await runCli(['check', '--config', wide]);
  t.equal(b.code, 0, b.stderr);
  t.equal(b.stderr, '');
});
