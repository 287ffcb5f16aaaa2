/**
 * `ucgate demo`: the gateway in front of a simulated two-node CUCM cluster,
 * all on loopback, with a locally issued certificate — and lines to paste
 * to see it work, including how to take the publisher down.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { startCucmCluster, type CucmCluster } from '../sim/cucm-cluster.js';
import { parseConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { startGateway, type RunningGateway } from './start.js';
import { printProblems } from './output.js';

const FQDN = 'ucgw.example.test';

export async function demoCommand(options: { port?: string; dir?: string }): Promise<RunningGateway | number> {
  const port = options.port === undefined ? 8443 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port: must be an integer from 0 to 65535\n`);
    return 2;
  }
  const dir = resolve(options.dir ?? 'certs/demo');
  let cucm: CucmCluster | undefined;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    cucm = await startCucmCluster();
    await writeFile(resolve(dir, 'cucm-ca.pem'), cucm.caPem);
    const config = parseConfig(
      {
        gateway: { fqdn: FQDN, altNames: ['localhost', '127.0.0.1'] },
        listen: { https: [{ host: '127.0.0.1', port }] },
        certificates: { dir },
        clusters: [
          {
            name: 'cucm',
            nodes: cucm.nodes.map((node, i) => ({ name: node.name, url: `https://${node.hostname}:${node.port}`, address: '127.0.0.1', priority: i + 1 })),
            tls: { caFile: 'cucm-ca.pem' },
            timeouts: { connectMs: 1000, firstByteMs: 3000 },
          },
        ],
      },
      { baseDir: dir, configFile: '' },
    );
    const running = await startGateway(config, createLogger({ level: 'info', base: { role: 'primary' } }));
    const trust = resolve(dir, 'gateway-ca.pem');
    const anchor = await running.primary.certificates.issuer.trustAnchorPem();
    if (anchor) await writeFile(trust, anchor);
    const gatewayPort = running.primary.listeners[0]?.port ?? port;
    const shown = relative(process.cwd(), trust);
    printGuide(cucm, gatewayPort, shown && !shown.startsWith('..') ? shown : trust);
    acceptNodeCommands(cucm);
    const stopNodes = cucm;
    process.once('exit', () => void stopNodes.close());
    return running;
  } catch (err) {
    await cucm?.close();
    return printProblems(err);
  }
}

function printGuide(cucm: CucmCluster, port: number, trust: string): void {
  const curl = `curl --cacert ${trust} --resolve ${FQDN}:${port}:127.0.0.1`;
  const base = `https://${FQDN}:${port}`;
  const lines = [
    '',
    `ucgate demo: gateway https://${FQDN}:${port} (on 127.0.0.1) in front of a simulated CUCM cluster`,
    ...cucm.nodes.map((node, i) => `  ${i === 0 ? 'publisher ' : 'subscriber'} ${node.name.padEnd(5)} ${node.hostname} at ${node.url}`),
    '',
    'Try:',
    `  ${curl} ${base}/cucm-uds/version`,
    `  ${curl} ${base}/cucm-uds/servers`,
    `  ${curl} '${base}/cucm-uds/clusterUser?username=jdoe'`,
    `  ${curl} -u jdoe:secret ${base}/cucm-uds/user/jdoe/devices`,
    `  ${curl} ${base}/ccmcip/xmldirectory.jsp`,
    `  ${curl} -i ${base}/ccmadmin/          # 403: administration paths never pass`,
    '',
    'Fail a node and watch the answers move (the x-cucm-node header says who answered):',
    `  type "stop pub" here, then: ${curl} -si ${base}/cucm-uds/version | grep x-cucm-node`,
    '  "start pub" brings it back; "hang pub" freezes it (accepts, never answers); "normal pub" thaws it.',
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stderr.write(lines.join('\n'));
}

function acceptNodeCommands(cucm: CucmCluster): void {
  if (!process.stdin.readable) return;
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [verb, name] = line.trim().split(/\s+/);
    if (!verb) return;
    const node = cucm.nodes.find((candidate) => candidate.name === name);
    if (!node) {
      process.stderr.write(`no node "${name ?? ''}"; nodes: ${cucm.nodes.map((n) => n.name).join(', ')}\n`);
      return;
    }
    const done = (what: string) => process.stderr.write(`${node.name}: ${what}\n`);
    if (verb === 'stop') void node.stop().then(() => done('stopped (connections refused)'));
    else if (verb === 'start') void node.restart().then(() => done(`listening again on ${node.url}`));
    else if (verb === 'hang') (node.setBehaviour('hang'), done('hung: accepts connections, never answers'));
    else if (verb === 'normal') (node.setBehaviour('normal'), done('answering normally'));
    else process.stderr.write('commands: stop|start|hang|normal <node>\n');
  });
  // Without a terminal (CI, docker run without -t) stdin ends at once; that must not stop the demo.
  rl.on('close', () => undefined);
}
