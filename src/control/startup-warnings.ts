/** What an administrator must hear about at every start: settings that weaken or do not take effect. */
import type { UcgateConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ListenerAddress } from './messages.js';
import { dscpSupported } from '../net/dscp.js';

export function warnAtStart(config: UcgateConfig, listeners: readonly ListenerAddress[], log: Logger): void {
  const tftp = config.tftp ? [...config.tftp.listen.http, ...config.tftp.listen.https] : [];
  const wantsDscp = [...config.listen.https, ...config.listen.http, ...tftp, ...config.clusters].some((item) => item.dscp !== undefined);
  if (wantsDscp && !dscpSupported) {
    log.warn(
      { event: 'dscp_unavailable', runtime: process.version },
      `dscp is configured but Node ${process.version} cannot mark sockets (socket.setTypeOfService needs Node 24+): traffic goes unmarked`,
    );
  }
  for (const listener of listeners) {
    if (listener.profile === 'legacy') {
      log.warn(
        { event: 'legacy_tls_listener', listener: listener.name, port: listener.port },
        `listener ${listener.name} accepts TLS 1.0/1.1 with RSA key exchange and CBC ciphers (profile: legacy) for old phones: keep it off the open network`,
      );
    }
  }
}
