/**
 * What a phone sees from the gateway itself, through a real gateway process
 * in front of simulated nodes: its own refusals and failures as a
 * CiscoIPPhoneText the phone can show (browsers keep the plain text), and
 * CUCM's session cookie in a form a phone on the plain-HTTP listener sends back.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, type HttpsResponse } from '../helpers/net.js';
import { startClusterGateway, FQDN } from '../helpers/gateway.js';

const PHONE = { 'x-CiscoIPPhoneModelName': 'CP-8845' };
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'user-agent': 'Mozilla/5.0' };
const PLAIN_TEXT: Record<number, string> = { 403: 'Forbidden', 502: 'Bad Gateway', 503: 'Service Unavailable' };
const PHONE_TITLE: Record<number, string> = { 403: 'Not available', 502: 'Service error', 503: 'Service unavailable' };
const PHONE_TEXT = /^<\?xml version="1\.0" encoding="utf-8"\?>\n<CiscoIPPhoneText><Title>([^<]*)<\/Title><Text>([^<]*)<\/Text><\/CiscoIPPhoneText>\n$/;

function httpGet(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { host: `${FQDN}:${port}`, ...headers }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      })
      .on('error', reject);
  });
}

t.test('the gateway\'s own answers: a CiscoIPPhoneText to a phone, the plain text to a browser', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, { healthCheck: { path: '/cucm-uds/version', intervalMs: 250, timeoutMs: 600, fall: 2, rise: 2 } });
  const get = (path: string, headers: Record<string, string>) => httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, headers });

  const checkPair = (t: Test, phone: HttpsResponse, browser: HttpsResponse, what: string) => {
    t.equal(phone.status, browser.status, `${what}: the same status to both`);
    t.equal(phone.headers['content-type'], 'text/xml; charset=utf-8', `${what}: the phone gets XML`);
    const doc = PHONE_TEXT.exec(phone.text);
    t.ok(doc, `${what}: a CiscoIPPhoneText with a Title and a Text`);
    t.equal(doc?.[1], PHONE_TITLE[phone.status], `${what}: titled for the status`);
    t.match(doc?.[2], `(HTTP ${phone.status})`);
    t.equal(Number(phone.headers['content-length']), phone.body.length, `${what}: exact length`);
    for (const node of cucm.nodes) t.notOk(phone.text.includes(node.hostname.split('.')[0]!), `${what}: no node name (${node.name})`);
    t.equal(browser.headers['content-type'], 'text/plain; charset=utf-8', `${what}: the browser gets plain text`);
    t.equal(browser.text, `${browser.status} ${PLAIN_TEXT[browser.status]}\n`, `${what}: exactly as before`);
  };

  // A path the gateway never forwards (CUCM's administration): refused before any node is asked.
  const refused = [await get('/ccmadmin/showHome.do', PHONE), await get('/ccmadmin/showHome.do', BROWSER)] as const;
  t.equal(refused[0].status, 403);
  checkPair(t, refused[0], refused[1], 'a refused path');

  await Promise.all(cucm.nodes.map((node) => node.stop()));
  const phone = await get('/ccmcip/xmldirectory.jsp', PHONE);
  const browser = await get('/ccmcip/xmldirectory.jsp', BROWSER);
  // Every node refuses the connection: today the gateway answers with the last try's status (502);
  // "no node to try" is 503. Either is the gateway's own answer, and that is what is tested here.
  t.ok(phone.status === 502 || phone.status === 503, `every node stopped: the gateway answers itself (${phone.status})`);
  checkPair(t, phone, browser, 'every node stopped');
  t.match(PHONE_TEXT.exec(phone.text)?.[2], phone.status === 503 ? /No server is available/ : /did not answer properly/);
});

t.test('JSESSIONID over the plain-HTTP listener comes without Secure, so the phone sends it back; over HTTPS it keeps Secure', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {}, { listen: { https: [{ host: '127.0.0.1', port: 0 }], http: [{ host: '127.0.0.1', port: 0 }] } });
  const [httpsPort, httpPort] = gw.ports as [number, number];
  // CUCM's Tomcat scopes it to the context path (`/ccmcip`; the simulator follows a capture, see src/sim).
  const SESSION = /^JSESSIONID=([0-9A-F]{32}); Path=\/ccmcip\/?; HttpOnly$/;

  const plain = await httpGet(httpPort, '/ccmcip/xmldirectory.jsp', PHONE);
  t.equal(plain.status, 200);
  const cookies = plain.headers['set-cookie'] ?? [];
  t.equal(cookies.length, 1, 'one cookie');
  const id = SESSION.exec(cookies[0] ?? '')?.[1];
  t.ok(id, `over http: no Secure, everything else as CUCM set it (${cookies[0]})`);
  t.ok(cucm.publisher.sessions.has(id!), 'the node\'s own session id, unchanged');

  const again = await httpGet(httpPort, '/ccmcip/xmldirectoryinput.jsp', { ...PHONE, cookie: `JSESSIONID=${id}` });
  t.equal(again.status, 200);
  t.equal(again.headers['set-cookie'], undefined, 'the phone sends it back and keeps its session: no new cookie');

  const secure = await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/ccmcip/xmldirectory.jsp', ca, servername: FQDN, headers: PHONE });
  t.equal(secure.status, 200);
  t.same(secure.headers['set-cookie']?.length, 1);
  t.match(secure.headers['set-cookie']?.[0], /^JSESSIONID=[0-9A-F]{32}; Path=\/ccmcip\/?; Secure; HttpOnly$/, 'over https: untouched, Secure kept');
});
