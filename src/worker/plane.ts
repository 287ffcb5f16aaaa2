/**
 * One set of a worker's listeners and the proxy state behind them: the main
 * plane (main-plane.ts: UDS, phone services, directories) and the TFTP plane
 * (src/tftp/tftp-plane.ts). The data plane keeps them as a list and hands
 * each what the primary sends; what differs between them stays inside each.
 */
import type { NodeConfig, UcgateConfig } from '../config/types.js';
import type { NodeHealthUpdate } from '../wire/messages.js';
import type { ProxyState } from '../proxy/proxy-state.js';
import type { BoundListener } from '../tftp/port-map.js';

export interface Plane {
  /** The proxy state requests start on now; undefined while the plane is off (or before start). */
  readonly state: ProxyState | undefined;
  /**
   * Builds the state for `config`, carrying over the health of nodes that
   * stay. Returns the state replaced, for the caller to dispose after the
   * grace period (requests in flight finish on it).
   */
  apply(config: UcgateConfig): ProxyState | undefined;
  /** The listeners are open (`main`: the main plane's state, whose rewriting may follow them). */
  setListeners(bound: readonly BoundListener[], main: ProxyState | undefined): void;
  setHealth(updates: readonly NodeHealthUpdate[]): void;
  /** A cluster's node set changed (SRV). Returns what to destroy after the grace period. */
  setNodes(cluster: string, nodes: readonly NodeConfig[]): { destroy: () => void };
  dispose(): void;
}
