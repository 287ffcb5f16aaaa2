/**
 * The configuration loader: YAML text → plain data → lists normalised →
 * schema (fills defaults) → cross-key checks → paths resolved → deep-frozen
 * UcgateConfig. Every problem found on the way is collected and thrown at once
 * as a ConfigError whose lines read `path.to.key: message`, with the path in
 * the file's own terms (`clusters[0].nodes[1].url`), never ajv's JSON pointers.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { ConfigError } from '../errors.js';
import { builtInRoutes } from './builtin-routes.js';
import { checkSchema, keyPath, quoteValue as quote } from './schema-check.js';
import { isLoopbackHost } from './formats.js';
import type { UcgateConfig } from './types.js';

/** Where relative paths resolve, and what to record as `configFile`. */
export interface ParseOptions {
  /** Folder that relative paths in the config resolve against. */
  readonly baseDir: string;
  /** Absolute path of the config file, or '' for an in-memory config. */
  readonly configFile: string;
}

type Obj = Record<string, unknown>;
type Add = (at: string, message: string) => void;

/** The path shown for problems with the document as a whole. */
const ROOT = 'config';

/**
 * Reads, parses and validates a YAML config file. Relative paths in it resolve
 * against the file's folder.
 * @throws ConfigError for an unreadable file, bad YAML or an invalid config.
 */
export async function loadConfigFile(file: string): Promise<UcgateConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([`${ROOT}: cannot read ${showText(abs)}: ${describeIoError(err)}`]);
  }
  return parseConfigText(text, { baseDir: path.dirname(abs), configFile: abs });
}

/**
 * Parses YAML text and validates it as {@link parseConfig} does. A YAML syntax
 * error becomes a single `config: YAML error at line L, column C: ...` line.
 * @throws ConfigError
 */
export function parseConfigText(text: string, options: ParseOptions): UcgateConfig {
  // logLevel 'error': YAML warnings (e.g. stringified collection keys) would go
  // to process warnings; the schema reports the odd key that results instead.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  // Later YAML errors are mostly echoes of the first; one clear line helps more.
  const first = doc.errors[0];
  if (first !== undefined) throw new ConfigError([yamlProblem(first)]);
  let data: unknown;
  try {
    // Bounds alias expansion ("billion laughs").
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([`${ROOT}: YAML error: ${firstLine(err)}`]);
  }
  return parseConfig(data, options);
}

/**
 * Validates plain data (as parsed from YAML or JSON), fills the defaults from
 * the schema, checks rules that span keys and files the config refers to,
 * resolves relative paths against `options.baseDir`, and returns the result
 * deep-frozen. The input is never modified.
 * @throws ConfigError listing every problem found, one `path.to.key: message` line each.
 */
export function parseConfig(input: unknown, options: ParseOptions): UcgateConfig {
  if (input === null || input === undefined) {
    throw new ConfigError([`${ROOT}: is empty (gateway and clusters are required)`]);
  }
  const problems: string[] = [];
  const add: Add = (at, message) => problems.push(`${at === '' ? ROOT : at}: ${message}`);
  const reported = new Set<string>();
  const data = toPlain(input, '', new Set(), (at, message) => {
    reported.add(at);
    add(at, message);
  });
  if (!isObj(data)) {
    throw new ConfigError(
      problems.length > 0 ? problems : [`${ROOT}: must be a mapping of keys (gateway, clusters, ...), not ${kind(data)}`],
    );
  }
  normaliseLists(data);
  for (const [at, message] of checkSchema(data)) if (!reported.has(at)) add(at, message);
  resolvePaths(data, options.baseDir);
  crossChecks(data, add);
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return finish(data, options.configFile);
}

/** The problems of a ConfigError, one per line, as `ucgate check` prints them. */
export function formatProblems(err: ConfigError): string {
  return err.problems.join('\n');
}

// ---------------------------------------------------------------- paths and values

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** File paths stay readable unless they hold control characters. */
function showText(s: string): string {
  return /[\u0000-\u001f\u007f]/.test(s) ? quote(s) : s;
}

function kind(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'true/false';
  if (typeof v === 'number') return 'a number';
  return typeof v;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]?.trim() || 'invalid YAML';
}

function describeIoError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  if (code === undefined) return firstLine(err);
  return why[code] === undefined ? code : `${code} (${why[code]})`;
}

function yamlProblem(err: YAMLError): string {
  const msg = firstLine(err).replace(/ at line \d+, column \d+:?$/, '');
  const pos = err.linePos?.[0];
  return pos === undefined
    ? `${ROOT}: YAML error: ${msg}`
    : `${ROOT}: YAML error at line ${pos.line}, column ${pos.col}: ${msg}`;
}

/**
 * A private copy made only of plain objects, arrays and primitives, so the
 * caller's input is never touched by ajv's defaults. Null values in mappings
 * are dropped (absent, so defaults apply). `__proto__` keys stay
 * ordinary data. Cycles (recursive YAML aliases) and class instances are
 * reported rather than followed.
 */
function toPlain(v: unknown, at: string, ancestors: Set<object>, add: Add): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (ancestors.has(v)) {
    add(at, 'refers to itself (a recursive YAML alias)');
    return null;
  }
  if (Array.isArray(v)) {
    ancestors.add(v);
    const out = Array.from(v, (x, i) => toPlain(x, keyPath(at, i), ancestors, add));
    ancestors.delete(v);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    const type = (v as { constructor?: { name?: unknown } }).constructor?.name;
    add(at, `must be plain data, not ${typeof type === 'string' && /^\w{1,40}$/.test(type) ? `a ${type}` : 'an object'}`);
    return null;
  }
  ancestors.add(v);
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    // YAML `key:` with nothing after it (say, every entry commented out) means "not set".
    if (x === undefined || x === null) continue;
    Object.defineProperty(out, k, {
      value: toPlain(x, keyPath(at, k), ancestors, add),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  ancestors.delete(v);
  return out;
}

// ---------------------------------------------------------------- before the schema

function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** "A single object is accepted wherever a list is" (CONTRACT.md); one scalar too. */
function wrap(o: unknown, key: string, scalars = false): void {
  if (!isObj(o)) return;
  const v = o[key];
  if (isObj(v) || (scalars && typeof v === 'string')) o[key] = [v];
}

function normaliseLists(root: Obj): void {
  wrap(root, 'clusters');
  wrap(root, 'routes');
  wrap(root.listen, 'https');
  wrap(root.listen, 'http');
  wrap(root.gateway, 'altNames', true);
  wrap(root.certificates, 'keyTypes', true);
  if (isObj(root.certificates)) wrap(root.certificates.cucmTrust, 'clusters');
  if (isObj(root.certificates) && isObj(root.certificates.cucmTrust)) wrap(root.certificates.cucmTrust, 'stores', true);
  if (isObj(root.tftp)) {
    wrap(root.tftp.listen, 'http');
    wrap(root.tftp.listen, 'https');
    wrap(root.tftp, 'allow', true);
  }
  for (const c of objects(root.clusters)) {
    wrap(c, 'nodes');
    wrap(c.srv, 'servers', true);
    wrap(c.tftp, 'nodes');
    for (const n of [...objects(c.nodes), ...(isObj(c.tftp) ? objects(c.tftp.nodes) : [])]) wrap(n, 'aliases', true);
  }
  for (const r of objects(root.routes)) {
    wrap(r, 'methods', true);
    if (Array.isArray(r.methods)) r.methods = r.methods.map((m: unknown) => (typeof m === 'string' ? m.toUpperCase() : m));
  }
}

// ---------------------------------------------------------------- after the schema

function resolvePaths(root: Obj, baseDir: string): void {
  const resolve = (o: unknown, key: string): void => {
    if (isObj(o) && typeof o[key] === 'string' && o[key] !== '') o[key] = path.resolve(baseDir, o[key] as string);
  };
  const certs = isObj(root.certificates) ? root.certificates : {};
  const acme = isObj(certs.issuer) ? certs.issuer.acme : undefined;
  resolve(certs, 'dir');
  resolve(certs.store, 'keyFile');
  resolve(acme, 'caFile');
  resolve(isObj(acme) ? acme.eab : undefined, 'hmacKeyFile');
  resolve(isObj(root.listen) ? root.listen.admin : undefined, 'tokenFile');
  for (const c of objects(root.clusters)) resolve(c.tls, 'caFile');
  resolve(certs.cucmTrust, 'credentialsFile');
}

/**
 * Rules that span keys or reach outside the file. They run even when the
 * schema failed, so one `ucgate check` shows everything; hence every access
 * here is guarded.
 */
function crossChecks(root: Obj, add: Add): void {
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
  const listen = isObj(root.listen) ? root.listen : {};
  checkListeners(listen, isObj(root.tftp) ? root.tftp.listen : undefined, add);
  const admin = listen.admin;
  if (isObj(admin)) {
    if (admin.tls === false && typeof admin.host === 'string' && !isLoopbackHost(admin.host)) {
      add('listen.admin.tls', `false (plain HTTP) is allowed only on a loopback host, not ${quote(admin.host)}`);
    }
    if (typeof admin.tokenFile === 'string') checkFile(add, 'listen.admin.tokenFile', admin.tokenFile, true);
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
    if (cluster && t.url === undefined && !Array.isArray(cluster.nodes)) {
      add(`${where}${Array.isArray(trust.clusters) ? '.url' : ''}`, `cluster ${quote(t.cluster)} finds its nodes by SRV: give its publisher's url`);
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

/** Shapes the validated data into its final form and freezes it. */
function finish(data: Obj, configFile: string): UcgateConfig {
  const clusters = data.clusters as Obj[];
  for (const c of clusters) if (c.srv !== undefined) c.nodes = [];
  const routesBuiltIn = data.routes === undefined;
  if (routesBuiltIn) data.routes = builtInRoutes(String(clusters[0]?.name));
  data.routesBuiltIn = routesBuiltIn;
  data.configFile = configFile;
  return deepFreeze(data) as unknown as UcgateConfig;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
