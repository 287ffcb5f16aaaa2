/**
 * The three ways CUCM names itself in phone XML. Cisco's own documents show
 * all three for the same kind of link: the Feature Configuration Guide's EM
 * service URL is `http://<IP Address>:8080/emapp/EMAppServlet?device=#DEVICENAME#`
 * (secure: `https://<IP Address>:8443/...`); TAC document 200579 ("Dial Tone
 * Settings For Cisco SIP IP Phones") shows a phone configuration file with
 * `<secureServicesURL>https://10.106.110.12:8443/ccmcip/getservicesmenu.jsp`
 * on one cluster and `https://RZCUCM11:8443/ccmcip/getservicesmenu.jsp` (the
 * short upper-case server name) on another; enterprise parameters often
 * carry the FQDN. A gateway must recognise every form.
 */
import net from 'node:net';

export interface NodeNames {
  readonly fqdn: string;
  /** The IP address CUCM writes (its own address, as the phone reaches it). */
  readonly ip: string;
  /** The server name, upper case, as CUCM's System > Server list usually holds it. */
  readonly shortName: string;
}

export function nodeNames(fqdn: string, listenHost: string, ip?: string, shortName?: string): NodeNames {
  const wildcard = listenHost === '' || listenHost === '0.0.0.0' || listenHost === '::';
  return {
    fqdn,
    ip: ip ?? (wildcard ? '127.0.0.1' : listenHost),
    shortName: shortName ?? fqdn.split('.')[0]!.toUpperCase(),
  };
}

/** `https://<host>:8443<path>`: the port CUCM's phone services use over TLS. */
export function secureUrl(host: string, path: string): string {
  return `https://${net.isIPv6(host) ? `[${host}]` : host}:8443${path}`;
}
