/**
 * Rewriting node names to the gateway's, in headers and XML bodies, so that
 * clients that follow a link come back through the gateway (DESIGN.md, "Facts
 * about the UC side"; issues 6 and 9). Compile once per config with
 * `compileRewriteRules`, pick the listener with `forTarget`, then call
 * `rewriteHeader` / `createBodyRewriter` / `rewriteBody` per response.
 */
export { compileRewriteRules, MAX_NAMES, RewriteRules, type RewriteNameGroup, type RewriteRulesInput, type RewriteVariant } from './rules.js';
export { RewriteTarget, type PortMapping, type Scheme, type TargetSpec } from './target.js';
export { MAX_SERVERS_LIST_BYTES, replaceServerList, ServersListTarget } from './servers-list.js';
export { MAX_LINK_PATH, type LinkCheck } from './links.js';
export { planBody, type BodyCoding, type BodyHeaders } from './body.js';
export { looksWide } from './chunk-scanner.js';
export { MAX_NAME_LENGTH, normaliseName, type NormalisedName } from './names.js';
export { expandShortNames, namesOfCluster, namesOfNode, parseUdsServers, rulesInputForCluster, type NameOptions } from './config-names.js';
