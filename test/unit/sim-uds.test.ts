/**
 * The simulated node's UDS as CUCM 12.5–15 answers it (src/sim/uds-*.ts):
 * host names mixed within one answer, the 12.5 `jabberProfile`, the writes
 * Jabber sends (push tokens, remote destinations) and the self-service ones,
 * all recorded and shared by the cluster's nodes.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode, UdsWrite } from '../../src/sim/cucm-node.js';
import { simulatedDevices } from '../../src/sim/uds-user-bodies.js';
import { httpsRequest, once, type HttpsRequestOptions } from '../helpers/net.js';

const cluster = await startCucmCluster({ nodes: 3, actionDelayMs: 0 });
t.teardown(() => cluster.close());
const [pub, sub1, sub2] = cluster.nodes as [CucmNode, CucmNode, CucmNode];
const JDOE = { authorization: basic('jdoe', 'secret') };
const devices = simulatedDevices('jdoe');
const csf = devices.find((d) => d.name === 'CSFJDOE')!;
const tct = devices.find((d) => d.name === 'TCTJDOE')!;

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function request(node: CucmNode, path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}) {
  return httpsRequest({ url: node.url, path, ca: cluster.caPem, servername: node.hostname, ...options });
}

function send(node: CucmNode, method: string, path: string, body?: string, headers: Record<string, string> = JDOE) {
  return request(node, path, { method, headers: { ...headers, 'content-type': 'application/xml' }, ...(body !== undefined && { body }) });
}

t.test('one user answer mixes the host forms real UDS writes', async (t) => {
  const user = await request(sub1, '/cucm-uds/user/jdoe', { headers: JDOE });
  t.equal(user.status, 200);
  const uri = (element: string) => new RegExp(`<${element} uri="([^"]+)"`).exec(user.text)?.[1];
  t.match(user.text, '<user version="14.0.1" uri="https://cucm-sub1.example.test:8443/cucm-uds/user/jdoe">', 'the root: the FQDN with :8443');
  t.equal(uri('devices'), 'https://cucm-sub1.example.test:8443/cucm-uds/user/jdoe/devices');
  t.equal(uri('speedDials'), 'https://127.0.0.1:8443/cucm-uds/user/jdoe/speedDials', 'speedDials: the node as System > Server defines it (an address)');
  t.match(user.text, '<userLocale uri="https://127.0.0.1:8443/cucm-uds/options/installedLocales"');
  const profile = /<serviceProfile><uri>([^<]+)<\/uri><\/serviceProfile>/.exec(user.text)?.[1];
  const jabber = /<jabberProfile><uri>([^<]+)<\/uri><\/jabberProfile>/.exec(user.text)?.[1];
  t.match(profile, /^http:\/\/CUCM-PUB:6970\/SP([0-9a-f-]{36})\.cnf\.xml$/, 'serviceProfile: a <uri> child on the TFTP server, short upper-case name');
  t.equal(jabber, profile!.replace('http://', 'https://').replace(':6970/SP', ':6972/JAB_'), 'jabberProfile: the same profile id on 6972');
  const list = await request(sub1, '/cucm-uds/user/jdoe/devices', { headers: JDOE });
  t.match(list.text, `<device uri="https://cucm-sub1.example.test/cucm-uds/user/jdoe/device/${csf.pkid}">`, 'device URIs: /user/{id}/device/{pkid}, no port');
  t.same([...list.text.matchAll(/<name>([^<]+)<\/name>/g)].map((m) => m[1]), devices.map((d) => d.name), 'CSF, BOT, TCT and a desk phone');
  const servers = await request(sub2, '/cucm-uds/servers');
  t.match(servers.text, '<server>CUCM-PUB</server><server>127.0.0.1</server><server>cucm-sub2.example.test</server>', 'mixed by default: short name, IP, FQDN');
});

t.test('release differences: jabberProfile from 12.5, devicetoken from 12.0, capabilities from 11.5', async (t) => {
  const old = await startCucmCluster({ nodes: 1, version: '12.0.1.10000-10', serverNames: 'fqdn' });
  t.teardown(() => old.close());
  const node = old.publisher;
  const get = (path: string) => httpsRequest({ url: node.url, path, ca: old.caPem, servername: node.hostname, headers: JDOE });
  const user = await get('/cucm-uds/user/jdoe');
  t.notMatch(user.text, 'jabberProfile');
  t.match(user.text, '<serviceProfile><uri>http://cucm-pub.example.test:6970/SP', "serverNames 'fqdn': the profile on the FQDN");
  t.match((await get('/cucm-uds/version')).text, '<version>12.0.1</version><capabilities>');
  const put = await httpsRequest({ url: node.url, path: `/cucm-uds/user/jdoe/device/${csf.pkid}/devicetoken`, method: 'PUT', body: '<token><pushNotifyToken>x</pushNotifyToken></token>', ca: old.caPem, servername: node.hostname, headers: JDOE });
  t.equal(put.status, 200, '12.0 has devicetoken');
  const eleven = await startCucmCluster({ nodes: 1, version: '11.0.1.10000-10', serviceProfile: null, tftpServers: ['tftp1.example.test'] });
  t.teardown(() => eleven.close());
  const e = eleven.publisher;
  const req = (path: string, method = 'GET') => httpsRequest({ url: e.url, path, method, ca: eleven.caPem, servername: e.hostname, headers: JDOE, ...(method === 'PUT' && { body: '<token><pushNotifyToken>x</pushNotifyToken></token>' }) });
  t.notMatch((await req('/cucm-uds/version')).text, 'capabilities');
  t.equal((await req(`/cucm-uds/user/jdoe/device/${csf.pkid}/devicetoken`, 'PUT')).status, 404, 'no devicetoken before 12.0');
  t.match((await req('/cucm-uds/user/jdoe')).text, '<serviceProfile><uri>http://tftp1.example.test:6970/SPDefault.cnf.xml</uri></serviceProfile>', 'the default profile on the named TFTP server');
});

t.test('push-token registration: PUT and DELETE devicetoken, recorded once each, shared by the cluster', async (t) => {
  pub.clearActions();
  sub1.clearActions();
  const path = `/cucm-uds/user/jdoe/device/${tct.pkid}/devicetoken`;
  const body =
    '<token><pushNotifyToken>ABCD12345</pushNotifyToken><pushChannelType>APNS</pushChannelType><key>key1</key><algorithm>algorithm</algorithm>' +
    '<application>application3</application><payloadVersion>v2</payloadVersion><deviceToken>EFGH12345</deviceToken><isCallKitDisabled>true</isCallKitDisabled></token>';
  const announced = once<[UdsWrite]>(pub.events, 'uds-write');
  const put = await send(pub, 'PUT', path, body);
  t.equal(put.status, 200);
  t.equal(put.text, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rowsUpdated>1</rowsUpdated>');
  const [write] = await announced;
  t.match(write, { kind: 'device-token', method: 'PUT', user: 'jdoe', resource: tct.pkid, path, private: false, status: 200 });
  t.same(pub.udsWrites, [write]);

  t.equal((await send(pub, 'PUT', `/cucm-uds/user/jdoe/device/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/devicetoken`, body)).status, 404, 'not the user\'s device: 404');
  t.equal((await send(pub, 'PUT', path, '<token><key>k</key></token>')).status, 415, 'no pushNotifyToken: 415');
  t.equal((await send(pub, 'GET', path)).status, 405);
  t.equal((await send(pub, 'PUT', path, body, {})).status, 401);
  t.equal((await send(pub, 'PUT', path.replace('/jdoe/', '/asmith/'), body)).status, 403, "another user's device: 403");
  t.equal(pub.udsWrites.length, 3, 'refused writes of the user count too; 401, 403 and a GET do not');

  t.equal((await send(sub1, 'DELETE', `${path}/WRONG`)).status, 404, 'another token: 404');
  const del = await send(sub1, 'DELETE', `${path}/ABCD12345`);
  t.equal(del.status, 204, 'the token PUT on the publisher is deleted on the subscriber: one database');
  t.equal(del.text, '');
  t.match(sub1.udsWrites.at(-1), { kind: 'device-token', method: 'DELETE', status: 204 });
  t.equal((await send(sub1, 'DELETE', `${path}/ABCD12345`)).status, 404, 'gone');
  t.equal((await send(sub1, 'DELETE', path)).status, 404, 'a DELETE names its token');
  pub.clearActions();
  t.same(pub.udsWrites, [], 'clearActions() forgets UDS writes');
});

t.test('remote destinations: POST adds, PUT updates, GET reads, no DELETE', async (t) => {
  const rd = '/cucm-uds/user/jdoe/remoteDestination/rd-0001';
  const add =
    '<remoteDestination><name>Mobile</name><destination>+12345678901</destination><ringWhenExtensionDialed>true</ringWhenExtensionDialed>' +
    `<allowTransferToMobile>true</allowTransferToMobile><associatedDevices><associatedDevice><name>${tct.name}</name><usage>2</usage></associatedDevice></associatedDevices></remoteDestination>`;
  t.equal((await send(pub, 'GET', rd)).status, 404);
  const before = pub.udsWrites.length;
  const posted = await send(pub, 'POST', rd, add);
  t.equal(posted.status, 201);
  t.equal(posted.text, '', 'no body');
  t.equal((await send(pub, 'POST', rd, add)).status, 409, 'already there: 409, use PUT');
  t.equal((await send(pub, 'POST', '/cucm-uds/user/jdoe/remoteDestination/rd-0002', add.replace(tct.name, 'TCTSOMEONE'))).status, 415, "another user's device: 415");
  const updated = await send(sub1, 'PUT', rd, '<remoteDestination><name>Mobile</name><destinationNumber>+12121212121</destinationNumber></remoteDestination>');
  t.equal(updated.status, 201);
  t.equal((await send(sub1, 'PUT', '/cucm-uds/user/jdoe/remoteDestination/nope', add)).status, 404);
  t.equal((await send(sub1, 'DELETE', rd)).status, 405, 'the API reference documents no DELETE');
  t.same(pub.udsWrites.slice(before).map((w) => [w.kind, w.method, w.status]), [
    ['remote-destination', 'POST', 201],
    ['remote-destination', 'POST', 409],
    ['remote-destination', 'POST', 415],
  ]);
  const one = await send(sub2, 'GET', rd);
  t.match(one.text, '<remoteDestination version="14.0.1" uri="https://cucm-sub2.example.test/cucm-uds/user/jdoe/remoteDestination/rd-0001">');
  t.match(one.text, '<destination>+12121212121</destination>');
  t.match(one.text, '<usage uri="https://cucm-sub2.example.test/cucm-uds/options/remoteDestinationUsage" value="2">');
  t.match(one.text, '<model>Cisco Dual Mode for iPhone</model>');
  const list = await send(sub2, 'GET', '/cucm-uds/user/jdoe/remoteDestinations');
  t.match(list.text, '<remoteDestinations version="14.0.1" uri="https://cucm-sub2.example.test:8443/cucm-uds/user/jdoe/remoteDestinations"><remoteDestination uri="https://cucm-sub2.example.test/cucm-uds/user/jdoe/remoteDestination/rd-0001">');
  t.match(list.text, '>Dual Mode Mobile</usage>');
});

t.test('self-service writes: user, device, credentials, speed dials, Conference Now', async (t) => {
  const before = pub.udsWrites.length;
  const user = await send(pub, 'PUT', '/cucm-uds/user/jdoe', '<user><displayName>John Doe</displayName><enableDoNotDisturb>true</enableDoNotDisturb></user>');
  t.equal(user.status, 200);
  t.match(user.text, '<displayName>John Doe</displayName>', 'answers like a GET');
  t.match((await send(sub1, 'GET', `/cucm-uds/user/jdoe/device/${csf.pkid}`)).text, '<doNotDisturbSettings><enable>true</enable>');
  const device = await send(sub1, 'PUT', `/cucm-uds/user/jdoe/device/${csf.pkid}`, '<device><description>My laptop</description></device>');
  t.match(device.text, '<description editable="true">My laptop</description>');
  t.match((await send(sub2, 'GET', '/cucm-uds/user/jdoe/devices')).text, '<description editable="true">My laptop</description>');

  t.equal((await send(pub, 'POST', '/cucm-uds/user/jdoe/speedDials', '<speedDials><speedDial><index>1</index><number>1002</number><label>Jane</label></speedDial></speedDials>')).status, 201);
  t.equal((await send(pub, 'POST', '/cucm-uds/user/jdoe/speedDials', '<speedDials><speedDial><index>1</index><number>1003</number></speedDial></speedDials>')).status, 409);
  t.match((await send(sub1, 'GET', '/cucm-uds/user/jdoe/speedDials')).text, '<speedDials appliesToAllDevices="true" totalCount="1"><speedDial><index>1</index><number>1002</number><label>Jane</label></speedDial></speedDials>');
  t.equal((await send(pub, 'DELETE', '/cucm-uds/user/jdoe/speedDials?index=1')).status, 204);

  const conference = await send(pub, 'PUT', '/cucm-uds/user/jdoe/conferencing', '<conferencing><conferenceNow><enabled>true</enabled><accessCode>9876</accessCode></conferenceNow></conferencing>');
  t.match(conference.text, '<conferenceNow><enabled>true</enabled><accessCode>9876</accessCode></conferenceNow>');

  t.equal((await send(pub, 'PUT', '/cucm-uds/user/jdoe/credentials', '<credentials><credential type="pin">54321</credential></credentials>')).status, 204);
  t.equal(cluster.database.pins.get('jdoe'), '54321', 'a PIN change writes the PIN Extension Mobility checks');
  t.equal((await send(pub, 'PUT', '/cucm-uds/user/jdoe/credentials', '<credentials/>')).status, 415);
  t.equal((await send(pub, 'PUT', '/cucm-uds/user/jdoe/credentials', '<credentials><credential type="password">n3w</credential></credentials>')).status, 204);
  t.equal((await send(sub2, 'GET', '/cucm-uds/user/jdoe')).status, 401, 'the old password is refused on every node');
  const newAuth = { authorization: basic('jdoe', 'n3w') };
  t.equal((await send(sub2, 'GET', '/cucm-uds/user/jdoe', undefined, newAuth)).status, 200);
  const login = await send(sub2, 'GET', '/cucm-uds/user/jdoe/credentials', undefined, newAuth);
  t.match(login.text, /<lastSuccessfulLogin>\d{4}-\d\d-\d\dT[^<]+<\/lastSuccessfulLogin><lastSuccessfulLoginIp>127\.0\.0\.1<\/lastSuccessfulLoginIp><\/loginDetails><loginFailures>0<\/loginFailures>/);
  await send(pub, 'PUT', '/cucm-uds/user/jdoe/credentials', '<credentials><credential type="password">secret</credential></credentials>', newAuth);

  const kinds = pub.udsWrites.slice(before).map((w) => `${w.kind} ${w.method} ${w.status}`);
  t.same(kinds, ['user PUT 200', 'speed-dials POST 201', 'speed-dials POST 409', 'speed-dials DELETE 204', 'conferencing PUT 200', 'credentials PUT 204', 'credentials PUT 415', 'credentials PUT 204', 'credentials PUT 204']);
});

t.test('a user homed elsewhere: no user PUT here', async (t) => {
  const visited = await startCucmCluster({ nodes: 1, homeCluster: 'cucm-pub.other.example.test' });
  t.teardown(() => visited.close());
  const node = visited.publisher;
  const put = await httpsRequest({ url: node.url, path: '/cucm-uds/user/jdoe', method: 'PUT', body: '<user><displayName>x</displayName></user>', ca: visited.caPem, servername: node.hostname, headers: JDOE });
  t.equal(put.status, 403);
  const get = await httpsRequest({ url: node.url, path: '/cucm-uds/user/jdoe', ca: visited.caPem, servername: node.hostname, headers: JDOE });
  t.match(get.text, '>false</homeCluster>');
});

t.test('/cucm-uds/private/ mirrors the user resources and needs credentials', async (t) => {
  const before = sub1.udsWrites.length;
  t.equal((await send(sub1, 'GET', '/cucm-uds/private/user/jdoe', undefined, {})).status, 401);
  t.equal((await send(sub1, 'GET', '/cucm-uds/private/user/jdoe')).status, 200);
  const put = await send(sub1, 'PUT', `/cucm-uds/private/user/jdoe/device/${csf.pkid}/devicetoken`, '<token><pushNotifyToken>P1</pushNotifyToken></token>');
  t.equal(put.status, 200);
  t.match(sub1.udsWrites.slice(before), [{ kind: 'device-token', private: true, path: `/cucm-uds/private/user/jdoe/device/${csf.pkid}/devicetoken` }]);
  t.equal((await send(sub1, 'GET', '/cucm-uds/private/users', undefined, {})).status, 401);
  const users = await send(sub1, 'GET', '/cucm-uds/private/users?name=jd');
  t.match(users.text, '<users uri="https://cucm-sub1.example.test/cucm-uds/private/users" version="14.0.1" start="0" requestedCount="64" returnedCount="1" totalCount="1"><user uri="https://cucm-sub1.example.test:8443/cucm-uds/user/jdoe">');
  t.equal((await send(sub1, 'GET', '/cucm-uds/user/jdoe/nothing')).status, 404);
  t.equal((await send(sub1, 'GET', '/cucm-uds/user/jdoe', undefined, { authorization: 'Bearer not-a-token' })).status, 401, 'an unknown bearer token');
});
