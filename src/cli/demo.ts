/**
 * `ucgate demo`: the gateway in front of a simulated two-node CUCM cluster,
 * all on loopback, with a locally issued certificate — and lines to paste
 * to see it work, including how to take the publisher down. The admin
 * listener runs too (loopback, TLS like the other listeners), with a fresh
 * 256-bit token for the session, so the dashboard shows node health change
 * as the nodes are stopped and started from the demo's prompt (`help`).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { resolve, relative } from 'node:path';
import { startCucmCluster, type CucmCluster } from '../sim/cucm-cluster.js';
import { parseConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { startGateway, type RunningGateway } from './start.js';
import { printProblems } from './output.js';
import { bindFailure } from './listen-errors.js';
import { acceptDemoCommands, demoHelpText } from './demo-commands.js';

const FQDN = 'ucgw.example.test';
/** The admin listener's port when `--port` is a fixed one (listen.admin.port's default); with `--port 0`, 0 too. */
const ADMIN_PORT = 9000;
/** The token file in the demo directory: 32 random bytes as hex (256 bits; the admin token rule asks for 128). */
const TOKEN_FILE = 'admin-token';

function portOption(value: string | undefined, fallback: number, flag: string): number | undefined {
  const port = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`${flag}: must be an integer from 0 to 65535\n`);
    return undefined;
  }
  return port;
}

export async function demoCommand(options: { port?: string; dir?: string; adminPort?: string }): Promise<RunningGateway | number> {
  const port = portOption(options.port, 8443, '--port');
  if (port === undefined) return 2;
  const adminPort = portOption(options.adminPort, port === 0 ? 0 : ADMIN_PORT, '--admin-port');
  if (adminPort === undefined) return 2;
  const dir = resolve(options.dir ?? 'certs/demo');
  let cucm: CucmCluster | undefined;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    cucm = await startCucmCluster();
    await writeFile(resolve(dir, 'cucm-ca.pem'), cucm.caPem);
    // A fresh token each run: a demo directory left behind never holds a login that still works.
    const token = randomBytes(32).toString('hex');
    const tokenFile = resolve(dir, TOKEN_FILE);
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    await chmod(tokenFile, 0o600);
    const config = parseConfig(
      {
        gateway: { fqdn: FQDN, altNames: ['localhost', '127.0.0.1'] },
        listen: { https: [{ host: '127.0.0.1', port }], admin: { host: '127.0.0.1', port: adminPort, tokenFile, tls: true } },
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
    const trustShown = shown && !shown.startsWith('..') ? shown : trust;
    const dashboard = dashboardLines(running.primary.adminPort ?? adminPort, token, trustShown);
    printGuide(cucm, gatewayPort, trustShown, dashboard);
    acceptDemoCommands({ cucm, dashboardLines: () => dashboard });
    const stopNodes = cucm;
    process.once('exit', () => void stopNodes.close());
    return running;
  } catch (err) {
    await cucm?.close();
    if (bindFailure(err)?.code === 'EADDRINUSE') {
      process.stderr.write(
        `ucgate demo: ${(err as Error).message}: a port the demo listens on is in use (another demo or gateway running?)\n` +
          `  choose others: ucgate demo --port N --admin-port N, or --port 0 for any free ports\n`,
      );
      return 1;
    }
    return printProblems(err);
  }
}

/** The dashboard's address and the session's login token, as printed at start and by `dashboard`. */
function dashboardLines(adminPort: number, token: string, trust: string): string[] {
  const url = `https://localhost:${adminPort}/`;
  return [
    `Dashboard: ${url}`,
    `  login token: ${token}`,
    `  (new each run; the browser warns about the demo CA unless it trusts ${trust})`,
    `  health: curl --cacert ${trust} ${url}healthz`,
  ];
}

function printGuide(cucm: CucmCluster, port: number, trust: string, dashboard: readonly string[]): void {
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
    ...dashboard,
    '',
    'Fail a node and watch the answers move (the x-cucm-node header says who answered) and the dashboard turn red:',
    `  type "stop pub" here, then: ${curl} -si ${base}/cucm-uds/version | grep x-cucm-node`,
    '  "start pub" brings it back; "hang pub" freezes it (accepts, never answers); "normal pub" thaws it.',
    '',
    demoHelpText(cucm.nodes.map((n) => n.name)).replace(/\n$/, ''),
    'Ctrl-C (or "quit") stops everything.',
    '',
  ];
  process.stderr.write(lines.join('\n'));
}
