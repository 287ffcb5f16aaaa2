/** The names the gateway's certificate must carry, apart from the manager so that the obtain flow needs no manager. */
import type { UcgateConfig } from '../config/types.js';

/** Names the gateway's certificate must carry: the FQDN first, then altNames, then each cluster's publicName. */
export function requiredNames(config: Pick<UcgateConfig, 'gateway'> & { readonly clusters?: readonly { readonly publicName?: string }[] }): string[] {
  const publicNames = (config.clusters ?? []).flatMap((cluster) => (cluster.publicName ? [cluster.publicName] : []));
  return [...new Set([config.gateway.fqdn, ...config.gateway.altNames, ...publicNames].map((name) => name.toLowerCase()))];
}
