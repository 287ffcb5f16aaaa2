/**
 * The hard deny list: CUCM administration and platform paths that are never
 * proxied, whatever the routes say (CONTRACT.md, "Data-plane behaviour";
 * DESIGN.md: CUCM's web management interfaces had an actively exploited RCE).
 * Matching is on the first segment of an already normalised `matchPath`, so
 * encoding, dot-segment and case tricks were removed before we get here.
 */
import { ErrorCodes, UcgateError } from '../errors.js';

/**
 * First path segments (lowercase) refused exactly. Tomcat maps a request to
 * a web application by its first segment, so that is what we compare.
 */
export const DENIED_SEGMENTS: readonly string[] = Object.freeze([
  // CUCM administration, serviceability, OS and platform APIs
  'ccmadmin',
  'ccmservice',
  'cmplatform',
  'platformcom',
  'axl',
  'ast',
  'rtmtreports',
  'pktcap',
  'art',
  'taps',
  'dna',
  'drf',
  'cmuser',
  // Added: OS administration's name before cmplatform (CUCM 6/7); Enterprise
  // License Manager's admin UI (CUCM 9-11).
  'iptplatform',
  'elm-admin',
  // Added: Tomcat's stock manager apps (WAR deployment is code execution),
  // its examples (session-manipulating servlets), and the old invoker
  // servlet path that runs any servlet class by name. No UC client uses them.
  'manager',
  'host-manager',
  'examples',
  'servlet',
]);

/**
 * First-segment prefixes refused: the serviceability SOAP families, which
 * CUCM versions suffix (`realtimeservice`, `realtimeservice2`, ...).
 */
export const DENIED_PREFIXES: readonly string[] = Object.freeze([
  'realtimeservice',
  'controlcenterservice',
  'perfmonservice',
  'logcollectionservice',
  'cdrondemandservice',
]);

/** End-user pages refused unless the deployment opts in to them by name. */
export const OPT_IN_SEGMENTS: readonly string[] = Object.freeze(['ccmuser', 'ucmuser', 'webdialer']);

/** Answers whether a normalised path is administration-only. */
export interface DenyList {
  /**
   * True when the first segment of `matchPath` (case-insensitive, `;params`
   * ignored) is denied. Expects a path from `normaliseTarget`; raw targets
   * must be normalised first or this check can be bypassed.
   */
  isDenied(matchPath: string): boolean;
}

const EDGE_SLASHES = /^\/+|\/+$/g;

function firstSegment(path: string): string {
  let end = path.length;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x2f || c === 0x3b) {
      end = i;
      break;
    }
  }
  return path.slice(path.charCodeAt(0) === 0x2f ? 1 : 0, end).toLowerCase();
}

/**
 * Builds the deny list. `optIn` may name `ccmuser`, `ucmuser` and
 * `webdialer` (leading/trailing `/` and case ignored) to let them through;
 * naming anything else throws UCGATE_ERR_CONFIG_INVALID, since no
 * configuration may open an administration path.
 */
export function createDenyList(optIn: readonly string[] = []): DenyList {
  const exact = new Set<string>(DENIED_SEGMENTS);
  const opened = new Set<string>();
  for (const raw of optIn) {
    const name = raw.replace(EDGE_SLASHES, '').toLowerCase();
    if (!OPT_IN_SEGMENTS.includes(name)) {
      throw new UcgateError(
        ErrorCodes.CONFIG_INVALID,
        `"${raw}" cannot be opted in; only ${OPT_IN_SEGMENTS.join(', ')} can`,
        { exitCode: 2 },
      );
    }
    opened.add(name);
  }
  for (const name of OPT_IN_SEGMENTS) if (!opened.has(name)) exact.add(name);
  const prefixes = DENIED_PREFIXES;

  return {
    isDenied(matchPath: string): boolean {
      const seg = firstSegment(matchPath);
      if (exact.has(seg)) return true;
      for (let i = 0; i < prefixes.length; i++) if (seg.startsWith(prefixes[i]!)) return true;
      return false;
    },
  };
}
