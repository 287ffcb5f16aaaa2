/**
 * The built-in UC allow-list: what a config without `routes` proxies. It covers
 * what Jabber and phones need from an edge (UDS discovery and directory,
 * phone services, Extension Mobility, credential change) and nothing else;
 * administration paths stay unreachable.
 */
import type { HttpMethod, RouteConfig } from './types.js';

const READ: readonly HttpMethod[] = ['GET', 'HEAD'];
const READ_POST: readonly HttpMethod[] = ['GET', 'HEAD', 'POST'];

const ALLOW_LIST: readonly { readonly pathPrefix: string; readonly methods: readonly HttpMethod[] }[] = [
  { pathPrefix: '/cucm-uds/', methods: READ },
  { pathPrefix: '/ccmcip/', methods: READ_POST },
  { pathPrefix: '/ccmpd/', methods: READ_POST },
  { pathPrefix: '/emapp/EMAppServlet', methods: READ_POST },
  { pathPrefix: '/changecredential/', methods: READ_POST },
];

/**
 * The built-in routes, all pointing at `cluster`. Returns fresh objects each
 * call, so callers may freeze or extend them.
 */
export function builtInRoutes(cluster: string): RouteConfig[] {
  return ALLOW_LIST.map((r) => ({ pathPrefix: r.pathPrefix, cluster, methods: [...r.methods] }));
}
