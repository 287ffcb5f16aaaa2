/**
 * dns-01 through a CNAME (the acme-dns pattern): an enterprise delegates
 * `_acme-challenge.<name>` by CNAME to a name in a validation zone it lets
 * ucgate's hook write to. The CA follows the CNAME and reads the TXT record
 * at its end, so that is where the hook must publish it and where the
 * propagation check must look (in that zone, from that zone's servers).
 *
 * acme-client's own check (verify.js) follows CNAMEs too, without a bound;
 * here the chain is bounded and a loop is an error, since a CA that meets
 * either fails the authorization anyway.
 */
import { Resolver } from 'node:dns/promises';
import { AcmeError } from './acme-errors.js';

/** More hops than any sane delegation (lego, certbot: a handful); a longer chain is a misconfiguration. */
export const MAX_CNAME_HOPS = 8;

/** Codes that mean "no CNAME here", not "could not ask". */
const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);
const QUERY = { timeout: 2_000, tries: 2 } as const;

const normal = (name: string) => name.replace(/\.$/, '').toLowerCase();

export interface CnameResult {
  /** The name whose TXT record the CA reads: `name` itself when there is no CNAME. */
  readonly target: string;
  /** Every name on the way, `name` first. */
  readonly chain: readonly string[];
  /** Set when a server could not be asked: the chain stops there and `target` is the last name known. */
  readonly unchecked?: string;
}

/**
 * Follows CNAMEs from `name`, asking `servers` (default: the system's
 * resolver, which sees what the CA sees). Throws a challenge-failed
 * AcmeError on a loop or a chain longer than MAX_CNAME_HOPS.
 */
export async function followCname(name: string, servers?: readonly string[]): Promise<CnameResult> {
  const resolver = new Resolver(QUERY);
  if (servers && servers.length > 0) resolver.setServers([...servers]);
  const chain = [normal(name)];
  for (;;) {
    const current = chain.at(-1)!;
    let targets: string[];
    try {
      targets = await resolver.resolveCname(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (ABSENT.has(code)) return { target: current, chain };
      return { target: current, chain, unchecked: `${code || (err as Error).message} asking for the CNAME of ${current}` };
    }
    if (targets.length === 0) return { target: current, chain };
    const next = normal(targets[0]!);
    if (chain.includes(next)) throw new AcmeError('challenge-failed', `CNAME loop from ${chain[0]}: ${[...chain, next].join(' → ')}`);
    chain.push(next);
    if (chain.length > MAX_CNAME_HOPS + 1) throw new AcmeError('challenge-failed', `more than ${MAX_CNAME_HOPS} CNAMEs from ${chain[0]}: ${chain.join(' → ')}`);
  }
}
