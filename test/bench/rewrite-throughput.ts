/**
 * Issue 6's figure: a 20 KB IP Phone directory answer rewritten (it names the
 * node 60 times) against the same-size answer with no node name (passed
 * through), through one gateway, in one run, rounds alternated; then the
 * gateway's resident memory while 200 keep-alive clients fetch the rewritten
 * one at once. Run: `npm run build && node --import tsx test/bench/rewrite-throughput.ts`.
 */
import https from 'node:https';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueLeaf } from '../../src/pki/x509.js';

const NODE = 'cucm-pub.example.test';
const FQDN = 'ucgw.example.test';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 6);

function directory(host: string): Buffer {
  const entries: string[] = [];
  for (let i = 0; entries.join('').length < 19_500; i++) {
    entries.push(`<DirectoryEntry><Name>Person ${i}</Name><Telephone>+1555${String(i).padStart(4, '0')}</Telephone><URL>https://${host}:8443/ccmcip/x.jsp?i=${i}</URL></DirectoryEntry>`);
  }
  return Buffer.from(`<?xml version="1.0"?><CiscoIPPhoneDirectory><Title>Corporate</Title>${entries.join('')}</CiscoIPPhoneDirectory>`);
}

function rssOfTree(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        for (const child of readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child));
      }
    } catch {
      // The process went away between listing and reading.
    }
  };
  visit(pid);
  return total;
}

/** wrk in a child process, awaited: the upstream lives in this process and must keep answering. */
function wrk(port: number, path: string, connections: number, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '-H', `Host: ${FQDN}`, `https://127.0.0.1:${port}${path}`]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.on('close', () => {
      if (/Non-2xx/.test(out)) reject(new Error(`errors during the run:\n${out}`));
      else resolve(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0));
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'ucgate-rewrite-bench-'));
const ca = await createCa({ commonName: 'bench CUCM CA' });
const leaf = await issueLeaf({ issuer: ca, commonName: NODE, subjectAltNames: [NODE, '127.0.0.1'] });
const named = directory(NODE);
const plain = directory('directory-host.example.org');
// The same size, so the only difference is whether names are found and replaced.
const padded = Buffer.concat([plain, Buffer.alloc(Math.max(0, named.length - plain.length), 0x20)]);
const upstream = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
  const body = req.url === '/ccmcip/named' ? named : padded;
  res.writeHead(200, { 'content-type': 'text/xml', 'content-length': body.length });
  res.end(body);
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamPort = (upstream.address() as { port: number }).port;
writeFileSync(join(dir, 'ca.pem'), ca.certPem);
writeFileSync(
  join(dir, 'ucgate.yaml'),
  `gateway: { fqdn: ${FQDN} }
listen: { https: { host: 127.0.0.1, port: 0 } }
workers: 2
log: { access: false }
clusters:
  - name: cucm
    nodes: [{ name: pub, url: "https://${NODE}:${upstreamPort}", address: 127.0.0.1 }]
    tls: { caFile: ca.pem }
routes: [{ pathPrefix: /ccmcip/, cluster: cucm }]
`,
);
const gateway = spawn(process.execPath, ['dist/main.js', 'start', '--config', join(dir, 'ucgate.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve, reject) => {
  let out = '';
  gateway.stdout!.on('data', (chunk: Buffer) => {
    out += chunk;
    const match = /"event":"gateway_ready","listeners":\[\{[^}]*"port":(\d+)/.exec(out);
    if (match) resolve(Number(match[1]));
  });
  gateway.once('exit', (code) => reject(new Error(`gateway exited (${code})`)));
});
try {
  await wrk(port, '/ccmcip/named', 20, 3);
  await wrk(port, '/ccmcip/plain', 20, 3);
  const rewritten: number[] = [];
  const passed: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['named', 'plain'] : ['plain', 'named'];
    for (const which of order) (which === 'named' ? rewritten : passed).push(await wrk(port, `/ccmcip/${which}`, 50, SECONDS));
  }
  const idle = rssOfTree(gateway.pid!);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOfTree(gateway.pid!))), 200);
  const loaded = await wrk(port, '/ccmcip/named', 200, SECONDS);
  clearInterval(sampler);
  peak = Math.max(peak, rssOfTree(gateway.pid!));
  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(0);
  process.stdout.write(
    [
      `| ${named.length} B XML, keep-alive, 50 connections, ${ROUNDS} rounds of ${SECONDS} s | req/s (median) | rounds |`,
      '| --- | ---: | --- |',
      `| rewritten (60 node URLs) | ${median(rewritten).toFixed(0)} | ${rewritten.map((v) => v.toFixed(0)).join(', ')} |`,
      `| passed through (no node name) | ${median(passed).toFixed(0)} | ${passed.map((v) => v.toFixed(0)).join(', ')} |`,
      `| ratio rewritten / passed through | ${(median(rewritten) / median(passed)).toFixed(2)} | |`,
      '',
      `200 keep-alive clients on the rewritten answer: ${loaded.toFixed(0)} req/s; gateway RSS (primary + 2 workers) ${mb(idle)} MB before, peak ${mb(peak)} MB during.`,
      '',
    ].join('\n'),
  );
} finally {
  gateway.kill('SIGTERM');
  upstream.close();
  upstream.closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
}
