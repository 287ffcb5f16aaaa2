/**
 * The import rules of src/ (docs/architecture.md draws them), checked by
 * `npm run lint:deps`, which `npm test` runs first: a violation fails CI.
 *
 * Layers, top to bottom. A module imports from its own layer or any layer
 * below it, never from one above. Within a layer the order is not enforced
 * (certificates, lifecycle and issuers call each other in both directions).
 */
const LAYERS = [
  { name: 'entry', paths: ['main\\.ts$', 'cli/'], what: 'argv to a command' },
  { name: 'sim', paths: ['sim/'], what: 'the simulated CUCM of the demo and the tests' },
  { name: 'control', paths: ['control/'], what: 'the primary: config, certificates, health, workers' },
  { name: 'admin', paths: ['admin/'], what: 'the admin API and dashboard (started by the primary)' },
  { name: 'worker', paths: ['worker/'], what: 'the data plane: listeners, drain' },
  { name: 'tftp', paths: ['tftp/'], what: "the TFTP plane (Jabber's configuration files)" },
  { name: 'proxy', paths: ['proxy/'], what: 'one request: route, deny, try nodes, answer' },
  { name: 'rewrite', paths: ['rewrite/'], what: 'node names in headers and bodies' },
  { name: 'metrics', paths: ['metrics/'], what: 'Prometheus registries' },
  { name: 'cucm-trust', paths: ['cucm-trust/'], what: "the gateway's certificate in CUCM's trust stores" },
  { name: 'certificates', paths: ['certificates/', 'lifecycle/', 'issuers/'], what: 'obtain, renew, import, activate' },
  { name: 'acme', paths: ['acme/'], what: 'the ACME client' },
  { name: 'challenges', paths: ['challenges/'], what: 'answering ACME challenges (data plane and CLI)' },
  { name: 'upstream', paths: ['upstream/'], what: 'CUCM nodes: pools, health checks, SRV' },
  { name: 'store', paths: ['store/'], what: 'file and Redis storage' },
  { name: 'tls-pki', paths: ['tls/', 'pki/'], what: 'TLS profiles and keys, X.509' },
  { name: 'wire', paths: ['wire/'], what: 'the messages between primary and workers' },
  { name: 'config', paths: ['config/'], what: 'schema, load, validate' },
  { name: 'base', paths: ['net/', 'http/', '(?!main\\.ts$)[^/]+\\.ts$'], what: 'errors, clock, log, IP and HTTP facts' },
];

const pathOf = (layers) => `^src/(${layers.flatMap((layer) => layer.paths).join('|')})`;

const layerRules = LAYERS.slice(1).map((layer, i) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.name} (${layer.what}) imports nothing from a layer above it: ${LAYERS.slice(0, i + 1).map((above) => above.name).join(', ')}`,
  severity: 'error',
  from: { path: pathOf([layer]) },
  to: {
    path: pathOf(LAYERS.slice(0, i + 1)),
  },
}));

/** I/O a layer that must do none may not import (node:net's address syntax comes from src/net/ip-address.ts). */
const SOCKETS = '^(node:)?(net|http|https|http2|tls|dgram|dns|dns/promises)$';
const PROCESSES = '^(node:)?(child_process|cluster|worker_threads)$';

module.exports = {
  forbidden: [
    {
      name: 'data-plane-not-acme-or-control',
      comment: 'the data plane (worker, proxy, upstream) imports nothing from acme/ or control/: challenges come from src/challenges, messages from src/wire',
      severity: 'error',
      from: { path: '^src/(worker|proxy|upstream)/' },
      to: { path: '^src/(acme|control)/' },
    },
    {
      name: 'admin-not-control',
      comment: 'admin/ imports nothing from control/: the status document is admin/status-types.ts; control/ starts the admin server',
      severity: 'error',
      from: { path: '^src/admin/' },
      to: { path: '^src/control/' },
    },
    {
      name: 'nothing-below-control-imports-control',
      comment: 'control/ is the top of the running gateway: only the entry points (main.ts, cli/) import it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(control/|cli/|main\\.ts$)' },
      to: { path: '^src/control/' },
    },
    {
      name: 'pki-does-no-io',
      comment: 'src/pki computes (keys, CSRs, X.509, PKCS#12): no files, sockets, DNS, HTTP clients or Redis',
      severity: 'error',
      from: { path: '^src/pki/' },
      to: { path: [SOCKETS, '^(node:)?(fs|fs/promises)$', '^undici', '^ioredis'] },
    },
    {
      name: 'config-runs-nothing',
      comment: 'src/config reads and checks a config: it starts no server, socket, timer loop or process, and knows none of the parts that do',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: [SOCKETS, PROCESSES, '^src/(control|worker|proxy|upstream|acme|store|challenges|tftp|admin)/'] },
    },
    {
      name: 'store-knows-no-requests',
      comment: 'src/store keeps values: it knows nothing of requests, nodes or workers',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(proxy|upstream|worker|tftp|rewrite)/' },
    },
    {
      name: 'no-circular',
      comment:
        'no import cycles. A cycle closed only by an `import type` (erased at compile time) or an `import()` ' +
        '(loaded lazily, after both modules ran) orders no module evaluation and is allowed.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only', 'dynamic-import'] } },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: require('node:path').join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
