/**
 * The data plane in the primary's own process (`workers: 0`): the messages a
 * worker would get over IPC are applied directly, by the same function
 * (src/worker/primary-messages.ts). Loaded only for that setting.
 */
import type { ListenerAddress, PrimaryMessage } from '../wire/messages.js';
import type { UcgateConfig } from '../config/types.js';
import type { DataPlaneLink, DataPlaneLinkOptions } from './data-plane-link.js';
import { DataPlane } from '../worker/data-plane.js';
import { applyToDataPlane, observerReporting } from '../worker/primary-messages.js';

export class InProcessLink implements DataPlaneLink {
  readonly mode = 'in-process';
  readonly ackers = 0;
  readonly #options: DataPlaneLinkOptions;
  readonly #plane: DataPlane;

  constructor(options: DataPlaneLinkOptions) {
    this.#options = options;
    this.#plane = new DataPlane({
      log: options.log,
      observer: observerReporting((message) => options.onReport(message)),
      reportTftpFile: (cluster, name) => options.onReport({ t: 'tftp-files', cluster, names: [name] }),
    });
  }

  async start(): Promise<ListenerAddress[]> {
    const { certificates, ticketKeys } = this.#options.init();
    const listeners = await this.#plane.start({ config: this.#options.config(), certificates, ticketKeys });
    for (const message of this.#options.catchUp()) this.send(message);
    return listeners;
  }

  send(message: PrimaryMessage): void {
    applyToDataPlane(this.#plane, message, { ack: () => {} });
  }

  relay(): void {}

  applyConfig(config: UcgateConfig): Promise<ListenerAddress[]> {
    return this.#plane.applyConfig(config);
  }

  async metrics(): Promise<unknown[][]> {
    return [await this.#plane.metrics.registry.getMetricsAsJSON()];
  }

  stop(graceMs: number): Promise<void> {
    return this.#plane.drain(graceMs);
  }
}
