/**
 * The simulated node's TFTP-over-HTTP files (src/sim/tftp-files.ts): the
 * service profile named in the UDS user answer and its TFTP server list, the
 * 12.5 `JAB_` Jabber profile, device files whose "Cisco Support Field" names
 * a group configuration file, and that file.
 */
import t from 'tap';
import http from 'node:http';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode } from '../../src/sim/cucm-node.js';
import { groupConfigurationFile } from '../../src/sim/uds-options.js';
import { httpsRequest } from '../helpers/net.js';

function get(node: CucmNode, path: string): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: node.tftpHttpPort, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text: Buffer.concat(chunks).toString('utf8') }));
      })
      .on('error', reject);
  });
}

const JDOE = { authorization: `Basic ${Buffer.from('jdoe:secret').toString('base64')}` };

t.test('the files a Jabber sign-in fetches, from the links UDS gives', async (t) => {
  const cucm = await startCucmCluster({ tftp: true, actionDelayMs: 0 });
  t.teardown(() => cucm.close());
  const sub1 = cucm.node('sub1');
  const user = await httpsRequest({ url: sub1.url, path: '/cucm-uds/user/jdoe', ca: cucm.caPem, servername: sub1.hostname, headers: JDOE });
  const profile = new URL(/<serviceProfile><uri>([^<]+)<\/uri>/.exec(user.text)![1]!);
  const jabber = new URL(/<jabberProfile><uri>([^<]+)<\/uri>/.exec(user.text)![1]!);
  t.equal(profile.host, 'cucm-pub:6970', 'the TFTP server (the publisher, by its System > Server name)');
  t.equal(jabber.host, 'cucm-pub:6972');

  const sp = await get(cucm.publisher, profile.pathname);
  t.equal(sp.status, 200);
  t.match(sp.text, '<UCServiceProfile><Options><Name>Jabber</Name></Options><Phone><TftpServer1>CUCM-PUB</TftpServer1></Phone></UCServiceProfile>', 'the TFTP servers by bare name');
  const jab = await get(cucm.publisher, jabber.pathname);
  t.equal(jab.status, 200);
  t.match(jab.text, /^<\?xml[^>]*\?><config version="1\.0">/, 'a jabber-config document');
  t.equal((await get(cucm.publisher, '/SPDefault.cnf.xml')).status, 200, 'the system default profile exists too');

  for (const name of ['CSFJDOE', 'BOTJDOE', 'TCTJDOE']) {
    const device = await get(cucm.publisher, `/${name}.cnf.xml`);
    t.equal(device.status, 200, name);
    t.equal(device.type, 'application/octet-stream');
    t.match(device.text, '<vendorConfig><ciscoSupportField>configurationFile=SalesGroup.xml</ciscoSupportField></vendorConfig>', `${name}: the Cisco Support Field`);
  }
  const group = await get(cucm.publisher, '/SalesGroup.xml');
  t.equal(group.status, 200, 'the group file, named only in the device file');
  t.match(group.text, '<config version="1.0"><Directory><OtherPhone>ipPhone</OtherPhone></Directory></config>');
  t.equal((await get(cucm.publisher, '/salesgroup.xml')).status, 404, 'names are case-sensitive');
  t.equal((await get(cucm.publisher, '/csfjdoe.cnf.xml')).status, 404);
  t.equal((await get(cucm.publisher, '/jabber-config.xml')).status, 200);
});

t.test('options: other TFTP servers, the default profile, other fields, an older release', async (t) => {
  const cucm = await startCucmCluster({
    nodes: 1,
    tftp: true,
    version: '12.0.1.10000-10',
    users: { jdoe: 'secret', asmith: 'pw', bnoone: 'pw' },
    serviceProfile: null,
    tftpServers: ['TFTP-A', '10.0.0.50'],
    ciscoSupportField: { jdoe: 'ConfigurationFile=/custom/groupa-config.xml', asmith: 'configurationfile=Marketing.xml;SSO_Enabled=false' },
  });
  t.teardown(() => cucm.close());
  const node = cucm.publisher;
  t.match((await get(node, '/SPDefault.cnf.xml')).text, '<Phone><TftpServer1>TFTP-A</TftpServer1><TftpServer2>10.0.0.50</TftpServer2></Phone>');
  t.equal((await get(node, '/custom/groupa-config.xml')).status, 200, 'a group file in a TFTP folder');
  t.equal((await get(node, '/Marketing.xml')).status, 200);
  t.match((await get(node, '/CSFBNOONE.cnf.xml')).text, '<vendorConfig></vendorConfig>', 'no field, no group');
  t.equal((await get(node, '/BOTBNOONE.cnf.xml')).status, 200);
  const user = await httpsRequest({ url: node.url, path: '/cucm-uds/user/jdoe', ca: cucm.caPem, servername: node.hostname, headers: JDOE });
  t.match(user.text, '<serviceProfile><uri>http://TFTP-A:6970/SPDefault.cnf.xml</uri></serviceProfile></user>', 'no jabberProfile before 12.5');
});

t.test('the Cisco Support Field names its group file', async (t) => {
  t.equal(groupConfigurationFile('configurationFile=SalesGroup.xml'), 'SalesGroup.xml');
  t.equal(groupConfigurationFile('ConfigurationFile=jabber-config-test.xml'), 'jabber-config-test.xml');
  t.equal(groupConfigurationFile('configurationfile=/customFolder/groupa-config.xml'), 'customFolder/groupa-config.xml');
  t.equal(groupConfigurationFile('SSO_Enabled=false;configurationfile=b.xml;configurationfile=c.xml'), 'b.xml', 'the first one counts');
  t.equal(groupConfigurationFile('nothing here'), undefined);
});
