/**
 * Rewrite rules: every upstream node name, compiled once into one matcher,
 * plus where each name goes. Recompiled (cheaply, see `withNames`) when names
 * are learned at run time; a request only calls `forTarget`, a cache lookup.
 */
import { ErrorCodes, UcgateError } from '../errors.js';
import { CompiledNames } from './matcher.js';
import { normaliseName, type NormalisedName } from './names.js';
import { RewriteTarget, type PortMapping, type TargetContext, type TargetSpec } from './target.js';
import { LINK_KEEP, type LinkCheck } from './links.js';
import { ServersListTarget } from './servers-list.js';

/** Names rewritten to a fixed public name: another cluster the gateway fronts (issue 9). */
export interface RewriteNameGroup {
  readonly publicName: string;
  readonly names: readonly string[];
}

export interface RewriteRulesInput {
  /**
   * The serving cluster's node names (URL hosts, short names, IPs, aliases):
   * rewritten to the host of the target passed to `forTarget`.
   */
  readonly names: readonly string[];
  /** Other clusters' names, each group rewritten to its own `publicName`. A name in `names` wins over a group. */
  readonly groups?: readonly RewriteNameGroup[];
  /**
   * Per upstream port, where URLs naming it go instead of the client's
   * listener (e.g. `{ 6970: { port: 6970, scheme: 'http' } }` when the TFTP
   * listener runs), or `null` to leave such URLs pointing at the node (e.g.
   * 6970 when it does not). The upstream port of a URL without one is its
   * scheme's default. Unlisted ports go to the client's listener.
   */
  readonly portMap?: Readonly<Record<number, PortMapping>>;
  /** Media types rewritten besides the XML ones, e.g. `text/html` (lower case, no parameters). */
  readonly extraMediaTypes?: readonly string[];
  /**
   * Rewrite only names written as URLs (`http(s)://node...`, `//node...`);
   * bare names and `node:port` stay. For TFTP configuration files, where a
   * bare name is a SIP/CTI address the client must reach directly.
   */
  readonly urlsOnly?: boolean;
}

/** What `RewriteRules.withOptions` may change; the names stay. */
export interface RewriteVariant {
  readonly portMap?: Readonly<Record<number, PortMapping>>;
  readonly urlsOnly?: boolean;
  readonly extraMediaTypes?: readonly string[];
  /** The LinkCheck `forTarget` uses when its caller gives none (e.g. the TFTP listeners' own). */
  readonly links?: LinkCheck;
}

/** More names than any cluster has; bounds the pattern size against a hostile `/servers` list. */
export const MAX_NAMES = 4096;
/** Distinct targets are listeners × public names; more than this means misuse, so start over. */
const MAX_CACHED_TARGETS = 256;

/** Compiled rules. Immutable: `withNames` returns a new instance. */
export class RewriteRules implements TargetContext {
  readonly names: CompiledNames;
  readonly groupHosts: readonly (string | undefined)[];
  readonly portMap: ReadonlyMap<number, PortMapping>;
  readonly extraMediaTypes: ReadonlySet<string>;
  readonly urlsOnly: boolean;
  /** The default LinkCheck of `forTarget` (see RewriteVariant.links). */
  readonly links: LinkCheck | undefined;
  /** Normalised names per group (index 0: the serving cluster), as compiled. */
  readonly #groupNames: readonly (readonly NormalisedName[])[];
  readonly #known: ReadonlySet<string>;
  readonly #targets = new Map<string, RewriteTarget>();
  /** The LinkCheck the cached targets were built with; another one empties the cache. */
  #targetsLinks: LinkCheck | undefined;

  /** @internal Use `compileRewriteRules`. */
  constructor(
    groupNames: readonly (readonly NormalisedName[])[],
    groupHosts: readonly (string | undefined)[],
    portMap: ReadonlyMap<number, PortMapping>,
    extraMediaTypes: ReadonlySet<string>,
    urlsOnly = false,
    links?: LinkCheck,
  ) {
    this.urlsOnly = urlsOnly;
    this.links = links;
    this.#groupNames = groupNames;
    this.groupHosts = groupHosts;
    this.portMap = portMap;
    this.extraMediaTypes = extraMediaTypes;
    const flat = groupNames.flat();
    this.names = new CompiledNames(flat, groupNames.flatMap((list, g) => list.map(() => g)));
    this.#known = new Set(flat.flatMap((n) => n.forms));
  }

  /** Number of distinct name forms matched. */
  get size(): number {
    return this.names.size;
  }

  /** The most bytes a body stream holds back at a chunk boundary (links checked or not). */
  get maxHeldBytes(): number {
    return this.names.keep + LINK_KEEP;
  }

  /** True when `name` (any case, brackets or a trailing dot allowed) is a node name of any group. */
  isNodeName(name: string): boolean {
    const normalised = normaliseName(name);
    return normalised !== undefined && normalised.forms.some((f) => this.#known.has(f));
  }

  /**
   * The rewriter towards one listener. Cached per (scheme, host, port): the
   * first call builds it, later ones are a map lookup. `host` must be a name
   * the gateway's certificate covers (see TargetSpec.host), never a Host
   * header as the client sent it. `links` decides which links are rewritten
   * (default: this rules' `links`; none: all of them). A caller passes the
   * same LinkCheck every time (one per config): another one empties the cache.
   */
  forTarget(spec: TargetSpec, links: LinkCheck | undefined = this.links): RewriteTarget {
    if (links !== this.#targetsLinks) {
      this.#targets.clear();
      this.#targetsLinks = links;
    }
    const key = `${spec.scheme}|${spec.host}|${spec.port}`;
    let target = this.#targets.get(key);
    if (target === undefined) {
      if (this.#targets.size >= MAX_CACHED_TARGETS) this.#targets.clear();
      target = new RewriteTarget(this, spec, links);
      this.#targets.set(key, target);
    }
    return target;
  }

  /**
   * The rewriter for a UDS `/cucm-uds/servers` answer towards one listener:
   * as `forTarget`, and the answer's server list becomes `servers` (the
   * gateway names, each once, in order: see servers-list.ts). Cached with
   * the `forTarget` ones, per (scheme, host, port, servers).
   */
  forServersList(spec: TargetSpec, servers: readonly string[], links: LinkCheck | undefined = this.links): RewriteTarget {
    if (links !== this.#targetsLinks) {
      this.#targets.clear();
      this.#targetsLinks = links;
    }
    const key = `servers|${spec.scheme}|${spec.host}|${spec.port}|${servers.join(' ')}`;
    let target = this.#targets.get(key);
    if (target === undefined) {
      if (this.#targets.size >= MAX_CACHED_TARGETS) this.#targets.clear();
      target = new ServersListTarget(this, spec, links, [...servers]);
      this.#targets.set(key, target);
    }
    return target;
  }

  /**
   * Rules with more names, e.g. learned from UDS `/cucm-uds/servers`: for the
   * serving cluster (no `publicName`) or for the group with that public name
   * (created if new). Learned names are untrusted input: invalid ones and
   * those beyond `MAX_NAMES` are skipped, not thrown. Returns `this` when
   * nothing is new, so a periodic refresh costs a set lookup per name.
   */
  withNames(extra: readonly string[], publicName?: string): RewriteRules {
    const fresh: NormalisedName[] = [];
    let total = this.size;
    for (const raw of extra) {
      const name = normaliseName(raw);
      if (name === undefined || name.forms.every((f) => this.#known.has(f))) continue;
      if (fresh.some((n) => n.forms[0] === name.forms[0]) || total + name.forms.length > MAX_NAMES) continue;
      fresh.push(name);
      total += name.forms.length;
    }
    if (fresh.length === 0) return this;
    const groupNames = this.#groupNames.map((list) => [...list]);
    const groupHosts = [...this.groupHosts];
    let g = publicName === undefined ? 0 : groupHosts.indexOf(publicHost(publicName));
    if (g < 0) {
      g = groupHosts.push(publicHost(publicName!)) - 1;
      groupNames.push([]);
    }
    groupNames[g]!.push(...fresh);
    return new RewriteRules(groupNames, groupHosts, this.portMap, this.extraMediaTypes, this.urlsOnly, this.links);
  }

  /**
   * The same names with another port map, URL-only mode, media types or
   * LinkCheck (the ones given replace these; the others are kept). Cheap: the compiled
   * matcher is rebuilt from already normalised names. Throws like
   * `compileRewriteRules` for a bad port mapping.
   */
  withOptions(variant: RewriteVariant): RewriteRules {
    const portMap = variant.portMap === undefined ? this.portMap : compilePortMap(variant.portMap);
    const media = variant.extraMediaTypes === undefined ? this.extraMediaTypes : mediaTypes(variant.extraMediaTypes);
    return new RewriteRules(this.#groupNames, this.groupHosts, portMap, media, variant.urlsOnly ?? this.urlsOnly, variant.links ?? this.links);
  }
}

function compilePortMap(input: Readonly<Record<number, PortMapping>>, problems?: string[]): Map<number, PortMapping> {
  const portMap = new Map<number, PortMapping>();
  const bad: string[] = problems ?? [];
  for (const [key, mapping] of Object.entries(input)) {
    const port = Number(key);
    if (!isPort(port) || (mapping !== null && !isPort(mapping.port))) bad.push(`portMap.${key}: ports must be integers 1-65535`);
    else portMap.set(port, mapping === null ? null : { port: mapping.port, scheme: mapping.scheme, ...(mapping.plane === undefined ? {} : { plane: mapping.plane }) });
  }
  if (problems === undefined && bad.length > 0) throw new UcgateError(ErrorCodes.CONFIG_INVALID, `rewrite rules: ${bad.join('; ')}`, { exitCode: 2 });
  return portMap;
}

function mediaTypes(list: readonly string[]): Set<string> {
  return new Set(list.map((t) => t.trim().toLowerCase()));
}

/**
 * Compiles rules from configuration. Throws `UCGATE_ERR_CONFIG_INVALID` for
 * a name that is not a host name or IP literal, a bad public name or port
 * mapping, or more than `MAX_NAMES` names. Cost: linear in the names; the
 * regular expression itself is compiled by V8 on first use.
 */
export function compileRewriteRules(input: RewriteRulesInput): RewriteRules {
  const problems: string[] = [];
  const normaliseAll = (list: readonly string[], where: string): NormalisedName[] =>
    list.flatMap((raw) => {
      const name = normaliseName(raw);
      if (name === undefined) problems.push(`${where}: "${raw}" is not a host name or IP address`);
      return name === undefined ? [] : [name];
    });
  const groupNames = [normaliseAll(input.names, 'names')];
  const groupHosts: (string | undefined)[] = [undefined];
  for (const [i, group] of (input.groups ?? []).entries()) {
    if (normaliseName(group.publicName) === undefined) problems.push(`groups[${i}].publicName: "${group.publicName}" is not a host name`);
    groupNames.push(normaliseAll(group.names, `groups[${i}].names`));
    groupHosts.push(publicHost(group.publicName));
  }
  const portMap = compilePortMap(input.portMap ?? {}, problems);
  const count = groupNames.flat().reduce((n, name) => n + name.forms.length, 0);
  if (count > MAX_NAMES) problems.push(`names: ${count} names, at most ${MAX_NAMES}`);
  if (problems.length > 0) throw new UcgateError(ErrorCodes.CONFIG_INVALID, `rewrite rules: ${problems.join('; ')}`, { exitCode: 2 });
  return new RewriteRules(groupNames, groupHosts, portMap, mediaTypes(input.extraMediaTypes ?? []), input.urlsOnly ?? false);
}

function publicHost(name: string): string {
  return name.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}
