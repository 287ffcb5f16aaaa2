/**
 * Checks that span keys or reach outside the file (cross-key rules, files on
 * disk, listener clashes). They run on the data before and whatever the
 * schema said.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { keyPath, quoteValue as quote } from './schema-check.js';
import { isLoopbackHost } from './formats.js';
import { isObj, objects, showText, describeIoError, type Add, type Obj } from './plain-data.js';
import { canonicalHost, gatewaySelf, selfAddressReason, selfNameReason } from '../net/self-target.js';
import { tokenWeakness } from './token-strength.js';
import { reusePortUnsupported } from '../net/reuse-port.js';

/**
 * Rules that span keys or reach outside the file. They run even when the
 * schema failed, so one `ucgate check` shows everything; hence every access
 * here is guarded.
 */
export function crossChecks(root: Obj, add: Add): void {
  const clusterNames = new Set<string>();
  (Array.isArray(root.clusters) ? root.clusters : []).forEach((c: unknown, i) => {
    if (!isObj(c)) return;
    const at = `clusters[${i}]`;
    if (c.nodes !== undefined && c.srv !== undefined) add(`${at}.srv`, 'cannot be combined with nodes; give one of them');
    if (c.nodes === undefined && c.srv === undefined) add(`${at}.nodes`, 'is required (or srv, to find the nodes by DNS)');
    if (typeof c.name === 'string') {
      if (clusterNames.has(c.name)) add(`${at}.name`, `duplicate cluster name ${quote(c.name)}`);
      clusterNames.add(c.name);
    }
    const nodeNames = new Set<string>();
    (Array.isArray(c.nodes) ? c.nodes : []).forEach((n: unknown, j) => {
      if (!isObj(n) || typeof n.name !== 'string') return;
      if (nodeNames.has(n.name)) add(`${at}.nodes[${j}].name`, `duplicate node name ${quote(n.name)}`);
      nodeNames.add(n.name);
    });
    const tftpNames = new Set<string>();
    (isObj(c.tftp) && Array.isArray(c.tftp.nodes) ? c.tftp.nodes : []).forEach((n: unknown, j) => {
      if (!isObj(n) || typeof n.name !== 'string') return;
      if (tftpNames.has(n.name)) add(`${at}.tftp.nodes[${j}].name`, `duplicate TFTP server name ${quote(n.name)}`);
      tftpNames.add(n.name);
    });
    if (isObj(c.tls) && typeof c.tls.caFile === 'string') checkFile(add, `${at}.tls.caFile`, c.tls.caFile, false);
  });
  // Without every cluster's name, "unknown cluster" would only echo another problem.
  if (Array.isArray(root.clusters) && root.clusters.every((c: unknown) => isObj(c) && typeof c.name === 'string')) {
    (Array.isArray(root.routes) ? root.routes : []).forEach((r: unknown, i) => {
      if (isObj(r) && typeof r.cluster === 'string' && !clusterNames.has(r.cluster)) {
        add(`routes[${i}].cluster`, `unknown cluster ${quote(r.cluster)}`);
      }
    });
  }
  (Array.isArray(root.routes) ? root.routes : []).forEach((r: unknown, i) => checkReplay(r, `routes[${i}]`, add));
  if (root.workerMode === 'thread' && root.workers !== 0) {
    const why = reusePortUnsupported();
    if (why) add('workerMode', `thread cannot run here: ${why}; use process or auto`);
  }
  checkServiceChecks(root, add);
  checkGatewaySelf(root, add);
  const listen = isObj(root.listen) ? root.listen : {};
  checkListeners(listen, isObj(root.tftp) ? root.tftp.listen : undefined, add);
  const admin = listen.admin;
  if (isObj(admin)) {
    if (admin.tls === false && typeof admin.host === 'string' && !isLoopbackHost(admin.host)) {
      add('listen.admin.tls', `false (plain HTTP) is allowed only on a loopback host, not ${quote(admin.host)}`);
    }
    if (typeof admin.tokenFile === 'string') {
      checkFile(add, 'listen.admin.tokenFile', admin.tokenFile, true);
      checkAdminTokenStrength(add, admin.tokenFile);
    }
  }
  const certs = isObj(root.certificates) ? root.certificates : {};
  const keyTypes = certs.keyTypes;
  if (Array.isArray(keyTypes) && keyTypes.length === 2 && keyTypes[0] !== keyTypes[1] && keyTypes.every((k) => typeof k === 'string' && k.startsWith('rsa'))) {
    // TLS picks between dual certificates by signature algorithm, never by RSA size.
    add('certificates.keyTypes', 'two key types must be one RSA and one ECDSA (dual certificates)');
  }
  checkCucmTrust(root, certs.cucmTrust, add);
  const issuer = isObj(certs.issuer) ? certs.issuer : {};
  // An inactive acme block may name files that do not exist yet.
  if (issuer.type === 'acme' && isObj(issuer.acme)) {
    const acme = issuer.acme;
    const at = 'certificates.issuer.acme';
    if (typeof acme.caFile === 'string') checkFile(add, `${at}.caFile`, acme.caFile, false);
    if (isObj(acme.eab) && typeof acme.eab.hmacKeyFile === 'string') {
      checkFile(add, `${at}.eab.hmacKeyFile`, acme.eab.hmacKeyFile, false);
    }
  }
}

/** Every target names a known cluster once, and a cluster found by SRV names its publisher. */
function checkCucmTrust(root: Obj, trust: unknown, add: Add): void {
  if (!isObj(trust)) return;
  const at = 'certificates.cucmTrust';
  if (typeof trust.credentialsFile === 'string') checkFile(add, `${at}.credentialsFile`, trust.credentialsFile, true);
  const clusters = objects(root.clusters);
  const byName = new Map(clusters.filter((c) => typeof c.name === 'string').map((c) => [c.name as string, c]));
  const targets = Array.isArray(trust.clusters) ? trust.clusters : clusters.map((c) => ({ cluster: c.name }));
  const seen = new Set<string>();
  targets.forEach((t: unknown, i) => {
    if (!isObj(t) || typeof t.cluster !== 'string') return;
    const where = Array.isArray(trust.clusters) ? `${at}.clusters[${i}]` : `${at}.clusters`;
    const cluster = byName.get(t.cluster);
    if (Array.isArray(trust.clusters) && !cluster) add(`${where}.cluster`, `unknown cluster ${quote(t.cluster)}`);
    if (seen.has(t.cluster)) add(`${where}.cluster`, `cluster ${quote(t.cluster)} is listed twice`);
    seen.add(t.cluster);
    // An SRV cluster's servers are not in the file: name the publisher, or the servers themselves.
    if (cluster && t.url === undefined && !Array.isArray(t.nodes) && !Array.isArray(cluster.nodes)) {
      add(`${where}${Array.isArray(trust.clusters) ? '.url' : ''}`, `cluster ${quote(t.cluster)} finds its nodes by SRV: give its publisher's url (or its servers as nodes)`);
    }
  });
}

const WILDCARD_V4 = '0.0.0.0';
const WILDCARD_ANY = '::'; // dual-stack in Node: covers IPv4 too

function overlaps(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y || x === WILDCARD_ANY || y === WILDCARD_ANY) return true;
  return (x === WILDCARD_V4 && !y.includes(':')) || (y === WILDCARD_V4 && !x.includes(':'));
}

function checkListeners(listen: Obj, tftpListen: unknown, add: Add): void {
  const seen: { at: string; host: string; port: number }[] = [];
  const visit = (at: string, l: unknown): void => {
    if (!isObj(l) || typeof l.host !== 'string' || typeof l.port !== 'number' || l.port === 0) return;
    const { host, port } = l;
    const clash = seen.find((s) => s.port === port && overlaps(s.host, host));
    if (clash !== undefined) add(`${at}.port`, `${showText(host)}:${port} is already used by ${clash.at}`);
    seen.push({ at, host, port });
  };
  for (const kindName of ['https', 'http'] as const) {
    const list = listen[kindName];
    if (Array.isArray(list)) list.forEach((l: unknown, i) => visit(`listen.${kindName}[${i}]`, l));
  }
  visit('listen.admin', listen.admin);
  for (const kindName of ['http', 'https'] as const) {
    const list = isObj(tftpListen) ? tftpListen[kindName] : undefined;
    if (Array.isArray(list)) list.forEach((l: unknown, i) => visit(`tftp.listen.${kindName}[${i}]`, l));
  }
}

function checkFile(add: Add, at: string, file: string, secret: boolean): void {
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      add(at, `not a regular file: ${showText(file)}`);
      return;
    }
    mode = st.mode;
    accessSync(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    add(at, code === 'ENOENT' || code === 'ENOTDIR' ? `file not found: ${showText(file)}` : `cannot read ${showText(file)}: ${describeIoError(err)}`);
    return;
  }
  // CONTRACT.md: the admin token file is 0600 or stricter, or the gateway refuses to start.
  if (secret && process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    add(at, `must not be accessible to group or others (mode ${octal}); run: chmod 600 ${showText(file)}`);
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A hedged request reaches two nodes, so `replay: hedge` needs a route whose
 * methods are all safe and listed (RFC 9110 §9.2.1). Even then the method is
 * only a promise: phones change state with GET, so hedge only paths known to be reads.
 */
function checkReplay(r: unknown, at: string, add: Add): void {
  if (!isObj(r) || r.replay !== 'hedge') return;
  const methods = Array.isArray(r.methods) ? r.methods : undefined;
  if (methods === undefined) {
    add(`${at}.replay`, 'hedge needs `methods` listing only safe methods (GET, HEAD, OPTIONS): with every method allowed, a write would reach two nodes');
    return;
  }
  const unsafe = methods.filter((m) => typeof m === 'string' && !SAFE_METHODS.has(m));
  if (unsafe.length > 0) add(`${at}.replay`, `hedge is only for safe methods; this route also allows ${unsafe.join(', ')} (use before-send or never)`);
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A service check that no route of its cluster names decides nothing: most likely a misspelt
 * service (the built-in routes name uds and tomcat), which would leave the routes it was meant
 * for following the main check unnoticed. An error rather than a warning: `ucgate check` has no
 * warnings, and a check that protects nothing is not something to start with.
 */
function checkServiceChecks(root: Obj, add: Add): void {
  const routes = objects(root.routes);
  (Array.isArray(root.clusters) ? root.clusters : []).forEach((c: unknown, i) => {
    if (!isObj(c) || !isObj(c.serviceChecks)) return;
    for (const service of Object.keys(c.serviceChecks)) {
      // A key that is no name at all is the schema's to report.
      if (!SERVICE_NAME.test(service) || routes.some((r) => r.cluster === c.name && r.service === service)) continue;
      add(keyPath(`clusters[${i}].serviceChecks`, service), `no route names service ${quote(service)} (routes[].service, on a route to cluster ${quote(c.name)})`);
    }
  });
}

/**
 * Issue 16: `gateway.instances` are names of the certificate (Jabber checks
 * each one it fails over to), and no static node is the gateway itself (one
 * of its names, or an address and port it listens on): the gateway would
 * proxy to itself.
 */
function checkGatewaySelf(root: Obj, add: Add): void {
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const listeners = (v: unknown): { host: string; port: number }[] =>
    objects(v).flatMap((l) => (typeof l.host === 'string' && typeof l.port === 'number' ? [{ host: l.host, port: l.port }] : []));
  const gateway = isObj(root.gateway) ? root.gateway : {};
  const fqdn = typeof gateway.fqdn === 'string' ? gateway.fqdn : '';
  const altNames = strings(gateway.altNames);
  const certified = new Set([fqdn, ...altNames].map(canonicalHost));
  (Array.isArray(gateway.instances) ? gateway.instances : []).forEach((name: unknown, i) => {
    if (typeof name === 'string' && !certified.has(canonicalHost(name))) {
      add(`gateway.instances[${i}]`, `${quote(name)} is not a name on the gateway's certificate: it must be gateway.fqdn or one of gateway.altNames`);
    }
  });
  const listen = isObj(root.listen) ? root.listen : {};
  const tftpListen = isObj(root.tftp) && isObj(root.tftp.listen) ? root.tftp.listen : undefined;
  const self = gatewaySelf({
    gateway: { fqdn, altNames, instances: strings(gateway.instances) },
    clusters: objects(root.clusters).map((c) => (typeof c.publicName === 'string' ? { publicName: c.publicName } : {})),
    listen: { https: listeners(listen.https), http: listeners(listen.http) },
    ...(tftpListen !== undefined && { tftp: { listen: { http: listeners(tftpListen.http), https: listeners(tftpListen.https) } } }),
  });
  const visit = (list: unknown, at: string): void =>
    (Array.isArray(list) ? list : []).forEach((n: unknown, j) => {
      if (!isObj(n) || typeof n.url !== 'string') return;
      let url: URL;
      try {
        url = new URL(n.url);
      } catch {
        return; // the schema reports it
      }
      const port = url.port === '' ? 443 : Number(url.port);
      const address = typeof n.address === 'string' ? n.address : undefined;
      const byName = selfNameReason(self, url.hostname);
      const byAddress = byName === undefined ? selfAddressReason(self, address ?? url.hostname, port) : undefined;
      const reason = byName ?? byAddress;
      if (reason === undefined) return;
      const key = byName === undefined && address !== undefined ? 'address' : 'url';
      add(`${at}[${j}].${key}`, `names the gateway itself (${reason}); the gateway would proxy to itself`);
    });
  (Array.isArray(root.clusters) ? root.clusters : []).forEach((c: unknown, i) => {
    if (!isObj(c)) return;
    visit(c.nodes, `clusters[${i}].nodes`);
    if (isObj(c.tftp)) visit(c.tftp.nodes, `clusters[${i}].tftp.nodes`);
  });
}

/** Bigger than any token: such a file is something else (a key, a log), and is not read whole. */
const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * Issue 17: the admin token holds at least 128 bits of a hex or base64 secret
 * (the rule: src/config/token-strength.ts). `start` refuses a weak one as `check`
 * does, since both load the config through here. The token itself is never shown.
 * An unreadable file is checkFile's to report.
 */
function checkAdminTokenStrength(add: Add, file: string): void {
  let content: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) return;
    if (st.size > MAX_TOKEN_FILE_BYTES) {
      add('listen.admin.tokenFile', `${showText(file)} is ${st.size} bytes, too big for a token file (one line, the token): is it the right file?`);
      return;
    }
    content = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  const weakness = tokenWeakness(content, showText(file));
  if (weakness !== undefined) add('listen.admin.tokenFile', weakness);
}
