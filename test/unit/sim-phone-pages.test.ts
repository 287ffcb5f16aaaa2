/**
 * The simulated node's other phone pages: the services menu naming the node
 * three ways, authenticate.jsp, the Personal Directory, and Tomcat's
 * `;jsessionid=` in both directions.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode } from '../../src/sim/cucm-node.js';
import { httpsRequest, type HttpsRequestOptions } from '../helpers/net.js';

const cluster = await startCucmCluster({
  actionDelayMs: 20,
  nodes: [
    { name: 'pub', hostname: 'cucm-pub.example.test', ip: '10.0.0.11' },
    { name: 'sub1', hostname: 'cucm-sub1.example.test' },
  ],
});
t.teardown(() => cluster.close());
const [pub, sub1] = [cluster.node('pub'), cluster.node('sub1')];
const DEVICE = 'SEP001122334455';

function request(node: CucmNode, path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}) {
  return httpsRequest({ url: node.url, path, ca: cluster.caPem, servername: node.hostname, ...options });
}

function sessionCookie(res: { headers: { 'set-cookie'?: string[] } }): string | undefined {
  return res.headers['set-cookie']?.find((cookie) => cookie.startsWith('JSESSIONID='));
}

t.test('the services menu names the node by IP:8443, short name and FQDN, and links Unified CM Assistant', async (t) => {
  const menu = await request(pub, `/ccmcip/getservicesmenu.jsp?name=${DEVICE}`);
  t.equal(menu.status, 200);
  t.match(menu.headers['content-type'], /^text\/xml/);
  t.match(menu.text, /^<CiscoIPPhoneMenu><Title>Services<\/Title>/);
  t.match(menu.text, `<URL>https://10.0.0.11:8443/emapp/EMAppServlet?device=${DEVICE}</URL>`, 'the ip option');
  t.match(menu.text, `<URL>https://CUCM-PUB:8443/changecredential/ChangeCredentialServlet?device=${DEVICE}</URL>`, 'short name');
  t.match(menu.text, `<URL>https://cucm-pub.example.test:8443/ccmpd/pdCheckLogin.do?name=${DEVICE}</URL>`, 'FQDN');
  t.match(menu.text, `<URL>https://CUCM-PUB:8443/ma/servlet/MAService?cmd=doPhoneService&#38;Name=${DEVICE}</URL>`);
  t.match(sessionCookie(menu), /; Path=\/ccmcip; Secure; HttpOnly$/);
  const other = await request(sub1, '/ccmcip/getservicesmenu.jsp');
  t.match(other.text, 'https://127.0.0.1:8443/emapp/', 'default IP: the listening address');
  t.match(other.text, 'https://CUCM-SUB1:8443/changecredential/', 'default short name: first label, upper case');
});

t.test('authenticate.jsp answers AUTHORIZED or UN-AUTHORIZED as plain text, after an action', async (t) => {
  const ok = await request(pub, `/ccmcip/authenticate.jsp?UserID=jdoe&Password=secret&devicename=${DEVICE}`);
  t.equal(ok.status, 200);
  t.equal(ok.headers['content-type'], 'text/html');
  t.equal(ok.text, 'AUTHORIZED');
  t.equal(ok.headers['content-length'], '10', 'exactly the ten bytes of the captured answer');
  t.match(sessionCookie(ok), /^JSESSIONID=[0-9A-F]{32}; Path=\/ccmcip; Secure; HttpOnly$/);
  const bad = await request(pub, `/ccmcip/authenticate.jsp?UserID=jdoe&Password=nope&devicename=${DEVICE}`);
  t.equal(bad.text, 'UN-AUTHORIZED');
  const posted = await request(sub1, '/ccmcip/authenticate.jsp', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `UserID=jdoe&Password=secret&devicename=${DEVICE}`,
  });
  t.equal(posted.text, 'AUTHORIZED', 'the phone may POST the form');
  const mine = pub.actions.filter((action) => action.kind === 'authenticate');
  t.match(mine, [
    { user: 'jdoe', device: DEVICE, result: 'ok', detail: 'AUTHORIZED' },
    { user: 'jdoe', device: DEVICE, result: 'failed', detail: 'UN-AUTHORIZED' },
  ]);
  t.ok(mine.every((action) => action.completedAt! - action.startedAt >= 15), 'each took the action delay');
});

t.test('Personal Directory: login, list, read, add, edit, delete', async (t) => {
  const pd = (node: CucmNode, path: string) => request(node, `/ccmpd/${path}${path.includes('?') ? '&' : '?'}name=${DEVICE}`);
  const check = await pd(pub, 'pdCheckLogin.do');
  t.match(check.text, '<Prompt>Personal Directory Login</Prompt>');
  t.match(check.text, `<URL>https://10.0.0.11:8443/ccmpd/login.do?name=${DEVICE}&#38;service=pab</URL>`);
  t.match(sessionCookie(check), /; Path=\/ccmpd; Secure; HttpOnly$/);
  t.match((await pd(pub, 'pabSearch.do?func=search')).text, 'Personal Directory Login', 'reads need a login');
  t.match((await pd(pub, 'login.do?service=pab&userid=jdoe&pin=1')).text, '<Prompt>PD Error Message</Prompt>');

  const login = await pd(pub, 'login.do?service=pab&userid=jdoe&pin=12345');
  t.match(login.text, '<Prompt>Search for an entry</Prompt>');
  t.notMatch(login.text, '12345');
  t.match((await pd(pub, 'pdCheckLogin.do')).text, 'Search for an entry', 'the login is remembered by device name');
  const list = await pd(pub, 'pabSearch.do?func=search');
  t.match(list.text, '<Prompt>Page 1 of 1</Prompt><MenuItem><Name>Erika</Name>');
  const pkid = /pkid=([^&]+)&#38;func=select/.exec(list.text)![1]!;
  const entry = await pd(pub, `pabEntry.do?pkid=${pkid}&func=select`);
  t.match(entry.text, '<Prompt>Select an index to dial</Prompt><MenuItem><Name>Mobile 1004</Name>');
  t.match(entry.text, `pabDeleteEntry.do?pkid=${pkid}&#38;func=delete&#38;name=${DEVICE}`);
  t.match((await pd(pub, `pabEntry.do?pkid=${pkid}&func=dial&fdNumber=1004`)).text, '<URL>Dial:1004</URL>');
  t.equal(pub.actions.filter((action) => action.kind === 'pd-edit').length, 0, 'reads are not actions');

  t.match((await pd(pub, 'pabNewMain.do?n=Max')).text, '<Prompt>Enter phone numbers</Prompt>');
  t.match((await pd(pub, 'pabNewPhones.do?n=Max&workNumber=1003')).text, '<Prompt>Successful add</Prompt>');
  const added = [...cluster.database.pab.get('jdoe')!].find(([, e]) => e.nickname === 'Max')!;
  t.same(added[1], { nickname: 'Max', workNumber: '1003' });
  t.match((await pd(pub, `pabEditMain.do?pkid=${added[0]}&func=phones`)).text, '<Prompt>Edit Phone Numbers</Prompt>');
  t.match((await pd(pub, `pabEditPhones.do?pkid=${added[0]}&mobileNumber=555`)).text, '<Prompt>Successful modify</Prompt>');
  t.same(cluster.database.pab.get('jdoe')!.get(added[0]), { nickname: 'Max', mobileNumber: '555' });

  t.match((await pd(sub1, 'pabSearch.do?func=search')).text, 'Personal Directory Login', 'another node does not know this login');
  await pd(sub1, 'login.do?service=pab&userid=jdoe&pin=12345');
  t.match((await pd(sub1, 'pabSearch.do?func=search&nn=ma')).text, '<Name>Max</Name>', 'but reads the same database');
  t.match((await pd(sub1, `pabDeleteEntry.do?pkid=${added[0]}&func=delete`)).text, '<Prompt>Successful remove</Prompt>');
  t.match((await pd(sub1, `pabDeleteEntry.do?pkid=${added[0]}&func=delete`)).text, 'PD Error Message', 'gone');
  t.match(
    [...pub.actions, ...sub1.actions].filter((action) => action.kind === 'pd-edit'),
    [
      { user: 'jdoe', device: DEVICE, result: 'ok', detail: 'add' },
      { user: 'jdoe', device: DEVICE, result: 'ok', detail: 'edit' },
      { user: 'jdoe', device: DEVICE, result: 'ok', detail: 'delete' },
    ],
  );
});

t.test(';jsessionid= path parameters: routed and honoured always, written only with urlSessionIds', async (t) => {
  const first = await request(pub, '/ccmcip/xmldirectory.jsp');
  const id = /^JSESSIONID=([0-9A-F]+);/.exec(sessionCookie(first)!)![1]!;
  t.notMatch(first.text, 'jsessionid', 'no URL rewriting by default');
  const viaPath = await request(pub, `/ccmcip/xmldirectorylist.jsp;jsessionid=${id}?l=doe`);
  t.equal(viaPath.status, 200, 'the path parameter does not break the mapping');
  t.equal(sessionCookie(viaPath), undefined, 'the session named in the path is kept');
  t.match(viaPath.text, '<Name>Doe, John</Name>');

  const cucm = await startCucmCluster({ nodes: 1, actionDelayMs: 0, urlSessionIds: true });
  t.teardown(() => cucm.close());
  const ask = (path: string, cookie?: string) =>
    httpsRequest({ url: cucm.publisher.url, path, ca: cucm.caPem, servername: cucm.publisher.hostname, ...(cookie && { headers: { cookie } }) });
  const menu = await ask('/ccmcip/xmldirectory.jsp');
  const session = /^JSESSIONID=([0-9A-F]+);/.exec(sessionCookie(menu)!)![1]!;
  t.match(
    menu.text,
    `<URL>http://cucm-pub.example.test:8080/ccmcip/xmldirectoryinput.jsp;jsessionid=${session}</URL>`,
    "a new session: Tomcat's encodeURL writes the id into same-application links",
  );
  t.match(menu.text, `/ccmpd/pdCheckLogin.do?name=undefined</URL>`, 'not into links to another application');
  t.notMatch((await ask('/ccmcip/xmldirectory.jsp', `JSESSIONID=${session}`)).text, 'jsessionid', 'not once the cookie came back');
  const byPath = await ask(`/ccmcip/xmldirectoryinput.jsp;jsessionid=${session}`);
  t.match(byPath.text, `xmldirectorylist.jsp;jsessionid=${session}</URL>`, 'a session known only from the path keeps being written');
  const em = await ask(`/emapp/EMAppServlet?device=${DEVICE}&userid=jdoe&seq=12345`);
  t.match(em.text, /emapp\/EMAppServlet;jsessionid=[0-9A-F]{32}\?device=SEP001122334455&#38;doLogout=true/, 'EM pages too');
  const pd = await ask(`/ccmpd/pdCheckLogin.do?name=${DEVICE}`);
  t.match(pd.text, /\/ccmpd\/login\.do;jsessionid=[0-9A-F]{32}\?name=/, 'and the Personal Directory');
});
