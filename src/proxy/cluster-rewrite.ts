/**
 * How one response's node names become the gateway's: the cluster's public
 * name and the port and scheme of the listener the client came in on.
 */
import type { ClusterRuntime } from './proxy-state.js';
import type { ListenerInfo } from './local-answer.js';
import type { ResponseRewrite } from './response-writer.js';
import { expandShortNames, parseUdsServers } from '../rewrite/index.js';

const SERVERS_PATH = /^\/cucm-uds\/servers(?:[/?;]|$)/i;

export function rewriteFor(cluster: ClusterRuntime, listener: ListenerInfo, target: string): ResponseRewrite | undefined {
  const holder = cluster.rewrite;
  if (holder.rules.size === 0) return undefined;
  const spec = { host: cluster.publicHost, port: listener.port, scheme: listener.protocol };
  const forTarget = holder.rules.forTarget(spec);
  if (!SERVERS_PATH.test(target)) return { target: forTarget, extraMediaTypes: holder.rules.extraMediaTypes };
  return {
    target: forTarget,
    extraMediaTypes: holder.rules.extraMediaTypes,
    // UDS lists every node of the cluster, including ones the config does not name: learn them first.
    inspect: (body) => {
      const learned = holder.rules.withNames(expandShortNames(parseUdsServers(body.toString('latin1'))));
      if (learned === holder.rules) return undefined;
      holder.rules = learned;
      return learned.forTarget(spec);
    },
  };
}
