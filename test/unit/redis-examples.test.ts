/**
 * The deployment examples under config/ stay valid: every ucgate config in
 * them (the two keepalived instances, DNS round robin, the Kubernetes
 * ConfigMap) passes `ucgate check` once its host paths exist, and the
 * Kubernetes manifests say what issue 8 asks (2 replicas, readiness on
 * /readyz, liveness on /healthz, the store key from a Secret).
 */
import t from 'tap';
import { readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse, parseAllDocuments } from 'yaml';
import { REPO, runCli } from '../helpers/gateway.js';

const EXAMPLES = join(REPO, 'config', 'examples');
const KUBERNETES = join(REPO, 'config', 'kubernetes');

/** The config with its absolute host paths moved under `root`, where stand-in files are made. */
function rehome(text: string, root: string): string {
  const moved = text.replaceAll(/\/(etc|var\/lib|run)\/ucgate\//g, `${root}/$1/ucgate/`);
  for (const match of moved.matchAll(new RegExp(`${root}/[^\\s,}]+`, 'g'))) {
    const file = match[0];
    if (file.endsWith('/certs')) continue;
    mkdirSync(file.slice(0, file.lastIndexOf('/')), { recursive: true });
    // Secrets as an operator makes them: the store key and the admin token are random (check refuses weak tokens).
    const content = file.endsWith('store.key') ? randomBytes(32).toString('base64') : file.endsWith('.token') ? randomBytes(32).toString('hex') : file.endsWith('.pem') ? '' : 'x';
    writeFileSync(file, content);
    chmodSync(file, 0o600);
  }
  return moved;
}

const configs: Record<string, string> = {
  'two-instances-keepalived/ucgate-a.yaml': readFileSync(join(EXAMPLES, 'two-instances-keepalived', 'ucgate-a.yaml'), 'utf8'),
  'two-instances-keepalived/ucgate-b.yaml': readFileSync(join(EXAMPLES, 'two-instances-keepalived', 'ucgate-b.yaml'), 'utf8'),
  'dns-round-robin.yaml': readFileSync(join(EXAMPLES, 'dns-round-robin.yaml'), 'utf8'),
  'kubernetes ConfigMap': (parseAllDocuments(readFileSync(join(KUBERNETES, 'deployment.yaml'), 'utf8'))[0]!.toJS() as { data: Record<string, string> }).data['ucgate.yaml']!,
};

for (const [name, text] of Object.entries(configs)) {
  t.test(`${name} passes ucgate check`, async (t) => {
    const dir = t.testdir();
    const file = join(dir, 'ucgate.yaml');
    writeFileSync(file, rehome(text, dir));
    const result = await runCli(['check', '--config', file], { env: { UCGATE_STORE_KEY: randomBytes(32).toString('base64') } });
    t.equal(result.code, 0, result.stderr + result.stdout);
    t.match(parse(text), { certificates: { store: { type: 'redis' } } }, 'a shared store');
  });
}

t.test('kubernetes manifests', async (t) => {
  const docs = parseAllDocuments(readFileSync(join(KUBERNETES, 'deployment.yaml'), 'utf8')).map((doc) => doc.toJS());
  const deployment = docs.find((doc) => doc.kind === 'Deployment');
  t.equal(deployment.spec.replicas, 2);
  const container = deployment.spec.template.spec.containers[0];
  t.match(container.readinessProbe, { httpGet: { path: '/readyz' } });
  t.match(container.livenessProbe, { httpGet: { path: '/healthz' } });
  t.match(container.env, [{ name: 'UCGATE_STORE_KEY', valueFrom: { secretKeyRef: { name: 'ucgate', key: 'store-key' } } }]);
  const secret = parse(readFileSync(join(KUBERNETES, 'secret.yaml'), 'utf8'));
  t.match(secret, { kind: 'Secret', stringData: { 'admin-token': /REPLACE/, 'store-key': /REPLACE/ } }, 'placeholders, no real secret');
  const service = parse(readFileSync(join(KUBERNETES, 'service.yaml'), 'utf8'));
  t.match(service, { kind: 'Service', spec: { selector: deployment.spec.selector.matchLabels } });
});
