/**
 * The main plane: the proxy state behind the `listen.https` and
 * `listen.http` listeners (UDS, phone services, directories), swapped whole
 * on a reload or an SRV change so a request runs on the state it started on.
 */
import type { NodeConfig, UcgateConfig } from '../config/types.js';
import type { NodeHealthUpdate } from '../wire/messages.js';
import { buildProxyState, disposeProxyState, withClusterNodes, type ProxyState } from '../proxy/proxy-state.js';
import type { Plane } from './plane.js';

export class MainPlane implements Plane {
  #state: ProxyState | undefined;

  get state(): ProxyState | undefined {
    return this.#state;
  }

  apply(config: UcgateConfig): ProxyState | undefined {
    const old = this.#state;
    this.#state = buildProxyState(config, old);
    return old;
  }

  setListeners(): void {
    // The main plane's URLs name the listeners the client used: nothing to learn from the ports.
  }

  setHealth(updates: readonly NodeHealthUpdate[]): void {
    const state = this.#state;
    if (!state) return;
    for (const update of updates) {
      const node = state.clusters.get(update.cluster)?.nodesByName.get(update.node);
      if (node) node.setHealthy(update.healthy, update.services, update.draining);
    }
  }

  /** Only for a cluster whose nodes come from SRV (a reload may have made it static since). */
  setNodes(cluster: string, nodes: readonly NodeConfig[]): { destroy: () => void } {
    const state = this.#state;
    if (!state?.clusters.get(cluster)?.config.srv) return { destroy: () => {} };
    const next = withClusterNodes(state, cluster, nodes);
    this.#state = next.state;
    return { destroy: () => next.removed.forEach((node) => node.destroy()) };
  }

  /** Another worker saw this node issue a session: keep that client there too. */
  learnSession(cluster: string, sessionId: string, node: string): void {
    this.#state?.clusters.get(cluster)?.sticky.set(cluster, sessionId, node, Date.now());
  }

  dispose(): void {
    if (this.#state) disposeProxyState(this.#state);
  }
}
