/**
 * Jabber's whole sign-in on CUCM 12.5–15, through the gateway with the
 * built-in routes and the TFTP listeners on (issue 16): the SRV record from a
 * real DNS server (dnsmasq) → version → clusterUser → servers → user →
 * devices → OAuth authorize, login and token → push-token registration → the
 * service profile and the JAB_ file over the TFTP listeners → the group
 * configuration file named only in the CSF file. Every step stays on the
 * gateway, and no header or body shows the client a node's name or port —
 * except the SIP and CTI names in the device file, which Jabber must reach
 * directly.
 */
import t from 'tap';
import { Resolver } from 'node:dns/promises';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { SIM_JABBER_CLIENT } from '../../src/sim/oauth-store.js';
import { httpsRequest, plainHttpGet } from '../helpers/net.js';
import { startClusterGateway, listenerPort, FQDN } from '../helpers/gateway.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';

const DOMAIN = 'example.test';
const BASIC = `Basic ${Buffer.from('jdoe:secret').toString('base64')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** SIP call control and CTI: Jabber registers with these nodes itself, so the device file keeps them. */
const DIRECT = /<(callManager|processNodeName|ctiTftp|CtiServer\d?|cti)[^>]*>[\s\S]*?<\/\1>/gi;

t.test('the whole Jabber walk completes through the gateway and never shows a node', async (t) => {
  const cucm = await startCucmCluster({ tftp: true, actionDelayMs: 20, version: '14.0.1.13900-155' });
  t.teardown(() => cucm.close());
  const { gw, ca, dir } = await startClusterGateway(
    t,
    cucm,
    { tftp: { nodes: cucm.nodes.map((node, i) => ({ name: node.name, url: `https://${node.hostname}:${node.tftpPort}`, address: '127.0.0.1', priority: i + 1 })) } },
    { routes: undefined, tftp: { listen: { http: [{ host: '127.0.0.1', port: 0 }], https: [{ host: '127.0.0.1', port: 0 }] } } },
  );
  const tftpHttp = listenerPort(gw, 'tftp-http#');
  const tftpHttps = listenerPort(gw, 'tftp-https#');

  // Jabber finds the gateway as its UDS server through DNS.
  const dns = await startDnsmasq(t, dir, `_cisco-uds._tcp.${DOMAIN}`, [{ target: FQDN, port: gw.port, priority: 1, weight: 1 }], { [FQDN]: '127.0.0.1' });
  const resolver = new Resolver();
  resolver.setServers([`127.0.0.1:${dns.port}`]);
  const [srv] = await resolver.resolveSrv(`_cisco-uds._tcp.${DOMAIN}`);
  t.same([srv?.name, srv?.port], [FQDN, gw.port], 'the SRV record names the gateway');
  const [address] = await resolver.resolve4(srv!.name);

  // Everything that would betray a node: its FQDN, its server name (any case), its own ports.
  const leaks = cucm.nodes.flatMap((node) => [
    new RegExp(node.hostname.replace(/\./g, '\\.'), 'i'),
    new RegExp(`(?<![\\w.-])${node.hostname.split('.')[0]!}(?![\\w-])`, 'i'),
    ...[node.port, node.tftpPort, node.tftpHttpPort].map((port) => new RegExp(`:${port}(?!\\d)`)),
  ]);
  const clean = (label: string, headers: unknown, text: string, keep?: RegExp) => {
    const visible = JSON.stringify(headers) + (keep ? text.replace(keep, '') : text);
    t.same(leaks.filter((re) => re.test(visible)).map(String), [], `${label}: no node name or port`);
  };
  const uds = async (path: string, opts: { method?: string; body?: string; headers?: Record<string, string>; status?: number } = {}) => {
    const res = await httpsRequest({ host: address!, port: srv!.port, path, ca, servername: srv!.name, method: opts.method ?? 'GET', body: opts.body, headers: opts.headers ?? {}, timeoutMs: 20_000 });
    t.equal(res.status, opts.status ?? 200, `${opts.method ?? 'GET'} ${path.split('?')[0]}: ${opts.status ?? 200}`);
    clean(path.split('?')[0]!, res.headers, res.text);
    return res;
  };

  const version = await uds('/cucm-uds/version');
  t.match(version.text, /<versionInformation[^>]*version="10\.0\.0"/);
  const cu = await uds('/cucm-uds/clusterUser?username=jdoe');
  const serversUri = /serversUri="([^"]+)"/.exec(cu.text)?.[1];
  t.equal(serversUri, `https://${FQDN}:${gw.port}/cucm-uds/servers`, 'serversUri is the gateway');
  const servers = await uds(new URL(serversUri!).pathname);
  t.same(servers.text.match(/<server>[^<]*<\/server>/g), [`<server>${FQDN}</server>`], 'the server list names the gateway, once');
  const user = await uds('/cucm-uds/user/jdoe', { headers: { authorization: BASIC } });
  const serviceProfile = /<serviceProfile>\s*<uri>([^<]+)<\/uri>/.exec(user.text)?.[1];
  const jabberProfile = /<jabberProfile>\s*<uri>([^<]+)<\/uri>/.exec(user.text)?.[1];
  t.match(serviceProfile, new RegExp(`^http://${FQDN}:${tftpHttp}/SP[^/]*\\.cnf\\.xml$`), 'the service profile is on the TFTP HTTP listener');
  t.match(jabberProfile, new RegExp(`^https://${FQDN}:${tftpHttps}/JAB_[^/]*\\.cnf\\.xml$`), 'the Jabber profile is on the TFTP HTTPS listener');
  const devices = await uds('/cucm-uds/user/jdoe/devices', { headers: { authorization: BASIC } });
  const csf = /<name>(CSF[^<]+)<\/name>/.exec(devices.text)?.[1];
  const devicePath = new RegExp(`uri="https://${FQDN.replace(/\./g, '\\.')}(?::\\d+)?(/cucm-uds/user/jdoe/device/[^"]+)"[^>]*>\\s*<name>${csf}<`).exec(devices.text)?.[1]
    ?? /uri="[^"]*(\/cucm-uds\/user\/jdoe\/device\/[^"]+)"/.exec(devices.text)?.[1];
  t.ok(csf && devicePath, 'the softphone and its device URI');

  // OAuth with Refresh Login Flow.
  const client = SIM_JABBER_CLIENT;
  const redirect = client.redirectUris[0]!;
  const query = new URLSearchParams({ response_type: 'code', client_id: client.clientId, redirect_uri: redirect, scope: 'UnifiedCommunications:readwrite', state: 'walk' });
  const authorize = await uds(`/ssosp/oauth/authorize?${query}`, { status: 302 });
  const login = new URL(String(authorize.headers.location));
  t.equal(login.host, `${FQDN}:${gw.port}`, 'the login page is on the gateway');
  const cookie = /^(JSESSIONID=[^;]+)/.exec(([] as string[]).concat(authorize.headers['set-cookie'] ?? [])[0] ?? '')?.[1] ?? '';
  await uds(login.pathname + login.search, { headers: { cookie } });
  const signedIn = await uds('/ssosp/oauth/login', { method: 'POST', body: 'j_username=jdoe&j_password=secret', headers: { ...FORM, cookie }, status: 302 });
  const back = new URL(String(signedIn.headers.location));
  t.equal(`${back.protocol}//${back.host}`, new URL(redirect).origin === 'null' ? `${back.protocol}//${back.host}` : new URL(redirect).origin, "Jabber's own redirect URI is left as it is");
  const code = back.searchParams.get('code')!;
  const clientAuth = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
  const tokenRes = await uds('/ssosp/oauth/token', { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect }).toString(), headers: { ...FORM, authorization: clientAuth } });
  const accessToken = (JSON.parse(tokenRes.text) as { access_token: string }).access_token;
  t.ok(accessToken, 'an access token');

  // Push registration, authenticated by the token Jabber just got.
  await uds(`${devicePath}/devicetoken`, {
    method: 'PUT',
    body: '<token><pushNotifyToken>abc123</pushNotifyToken><pushNotifyService>apns</pushNotifyService></token>',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/xml' },
  });
  t.equal(cucm.nodes.flatMap((n) => n.udsWrites.filter((w) => w.kind === 'device-token' && w.status === 200)).length, 1, 'the push token was written once');

  // The configuration files, from the TFTP listeners the UDS answers pointed at.
  const sp = await plainHttpGet(tftpHttp, new URL(serviceProfile!).pathname, `${FQDN}:${tftpHttp}`);
  t.equal(sp.status, 200, 'service profile');
  clean('service profile', sp.headers, sp.text);
  const tftps = (path: string) => httpsRequest({ host: '127.0.0.1', port: tftpHttps, path, ca, servername: FQDN, timeoutMs: 20_000 });
  const jab = await tftps(new URL(jabberProfile!).pathname);
  t.equal(jab.status, 200, 'JAB_ file');
  clean('JAB_ file', jab.headers, jab.text);
  const device = await tftps(`/${csf}.cnf.xml`);
  t.equal(device.status, 200, 'CSF file');
  clean('CSF file', device.headers, device.text, DIRECT);
  const group = /configurationFile=([^<\s;]+)/i.exec(device.text)?.[1];
  t.ok(group, `the CSF file names a group configuration file (${group})`);
  const groupFile = await tftps(`/${group}`);
  t.equal(groupFile.status, 200, 'the group file, named only in the CSF file, comes through');
  clean('group file', groupFile.headers, groupFile.text);
});
