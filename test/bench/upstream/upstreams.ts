/**
 * The two CUCM nodes behind every contestant, started once per run.
 *
 * - `sim`: the project's simulated CUCM node, one process per node. Realistic
 *   (real UDS bodies, Tomcat-like keep-alive) and the only choice for the
 *   failover workloads: each node is a PID we can SIGKILL and SIGSTOP.
 * - `nginx-static`: nginx serving the very same UDS bytes as files over HTTPS
 *   (static-bodies.ts: version, servers, the login storm users' clusterUser
 *   and devices, and a 1 MiB user search the simulator lacks), and a fixed
 *   OAuth token answer to `POST /ssosp/oauth/token` (the login storm's token
 *   step; it redeems any code: no gateway here can tell). The default
 *   for throughput workloads, because a single Node thread answering
 *   ~450-byte XML tops out below what nginx or HAProxy can push through, and
 *   its CPU cost per request is taken from the same two cores the proxy
 *   needs: with it as upstream every proxy would measure the simulator, not
 *   itself. The static nginx costs a few µs per request, so ratios to
 *   "direct" say what the proxy adds.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchPki, NodeName } from '../lib/pki.js';
import { NODES } from '../lib/pki.js';
import { launch, waitForLine, type Spawned } from '../lib/proc.js';
import { withPortRetries } from '../lib/ports.js';
import { waitUntilServing } from '../lib/probe.js';
import type { ControllableUpstream, UpstreamNodeRef, UpstreamSet } from '../lib/types.js';
import { oauthTokenBody, writeNodeBodies } from './static-bodies.js';

/** The simulator's default CUCM version, so static and simulated bodies are identical. */
const CUCM_VERSION = '14.0.1.13900-155';

export async function startSimUpstream(pki: BenchPki, repo: string): Promise<ControllableUpstream> {
  const procs = new Map<NodeName, Spawned>();
  const ports = new Map<NodeName, number>();
  const clusterNodes = NODES.map((n) => n.hostname);

  const spawnNode = async (name: NodeName, port: number): Promise<void> => {
    const spec = NODES.find((n) => n.name === name)!;
    const args = JSON.stringify({ name, hostname: spec.hostname, clusterNodes, port, ...pki.nodeFiles[name] });
    const child = launch(`sim-${name}`, process.execPath, ['--import', 'tsx', join(repo, 'test/bench/upstream/node-process.ts'), args], { cwd: repo });
    procs.set(name, child);
    const ready = await waitForLine(child, (line) => (line.includes('node_ready') ? (JSON.parse(line) as { port: number }) : undefined), 30_000);
    ports.set(name, ready.port);
  };
  const refOf = (name: NodeName): UpstreamNodeRef => ({ name, hostname: NODES.find((n) => n.name === name)!.hostname, port: ports.get(name)! });
  const serving = (name: NodeName) =>
    waitUntilServing({ host: '127.0.0.1', port: ports.get(name)!, servername: refOf(name).hostname, caFile: pki.nodeCaFile, url: '' }, 15_000);

  for (const node of NODES) await spawnNode(node.name, 0);
  for (const node of NODES) await serving(node.name);
  const proc = (name: NodeName): Spawned => procs.get(name)!;

  return {
    kind: 'sim',
    get nodes() {
      return NODES.map((n) => refOf(n.name));
    },
    caFile: pki.nodeCaFile,
    pids: () => [...procs.values()].map((p) => p.pid),
    pidOf: (name) => proc(name).pid,
    kill: (name) => void proc(name).proc.kill('SIGKILL'),
    freeze: (name) => void proc(name).proc.kill('SIGSTOP'),
    thaw: (name) => void proc(name).proc.kill('SIGCONT'),
    async revive(name) {
      const child = proc(name);
      if (child.alive()) {
        child.proc.kill('SIGCONT');
      } else {
        // Same port: every contestant's config names it. Node sets SO_REUSEADDR, so TIME_WAIT does not block it.
        await spawnNode(name, ports.get(name)!);
      }
      await serving(name);
    },
    async stop() {
      await Promise.all([...procs.values()].map((p) => p.stop(3000)));
    },
  };
}

/** The token answer as an nginx single-quoted string: JWTs are base64url and dots, so only a stray quote, backslash or `$` could break it. */
function nginxQuoted(body: string): string {
  if (/['\\$\r\n]/.test(body)) throw new Error('token answer would need escaping in nginx.conf');
  return `'${body}'`;
}

function nginxStaticConfig(dir: string, pki: BenchPki, ports: readonly number[]): string {
  const tokenAnswer = nginxQuoted(oauthTokenBody());
  const servers = NODES.map((node, i) => {
    const files = join(dir, node.name);
    return `
  server {
    listen 127.0.0.1:${ports[i]} ssl;
    ssl_certificate ${pki.nodeFiles[node.name].certFile};
    ssl_certificate_key ${pki.nodeFiles[node.name].keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:UP${i}:1m;
    default_type "text/xml; charset=UTF-8";
    add_header x-cucm-node ${node.name} always;
    # Lets the harness see which TLS version the proxy used on the upstream leg.
    add_header x-upstream-tls $ssl_protocol always;
    location = /cucm-uds/version { alias ${files}/version.xml; }
    location = /cucm-uds/servers { alias ${files}/servers.xml; }
    location = /cucm-uds/users { alias ${files}/users.xml; }
    location = /cucm-uds/clusterUser {
      root ${files};
      try_files /clusterUser/$arg_username.xml =404;
    }
    # root + try_files: alias in a regex location would need the capture in it.
    location ~ ^/cucm-uds/user/([^/]+)/devices$ {
      root ${files};
      try_files /devices/$1.xml =404;
    }
    # OAuth token endpoint (authorization code grant): the same JSON for every code, as CUCM answers
    # a valid one (RFC 6749 section 5.1: no-store). \`return\` reads and discards the small form body
    # (within client_max_body_size, 1 MiB by default), so the connection stays usable for the next request.
    location = /ssosp/oauth/token {
      if ($request_method != POST) { return 405; }
      client_max_body_size 64k;
      default_type "application/json;charset=UTF-8";
      # add_header here drops the server's: repeat them.
      add_header x-cucm-node ${node.name} always;
      add_header x-upstream-tls $ssl_protocol always;
      add_header Cache-Control no-store always;
      add_header Pragma no-cache always;
      return 200 ${tokenAnswer};
    }
    location / { return 404; }
  }`;
  });
  return `# generated by test/bench/upstream/upstreams.ts
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  types { }
  access_log off;
  server_tokens off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  open_file_cache max=16;
  # Tomcat keeps a connection 20 s and has no per-connection request limit; do the same.
  keepalive_timeout 20s;
  keepalive_requests 10000000;
${servers.join('\n')}
}
`;
}

export async function startNginxStaticUpstream(pki: BenchPki, workDir: string): Promise<UpstreamSet> {
  const dir = join(workDir, 'upstream-nginx');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  // Run as root, nginx's workers drop to `nobody`: they must be able to reach the body files.
  chmodSync(workDir, 0o755);
  const clusterNodes = NODES.map((n) => n.hostname);
  for (const node of NODES) writeNodeBodies(join(dir, node.name), { hostname: node.hostname, version: CUCM_VERSION }, clusterNodes);
  return withPortRetries(NODES.length, async (ports) => {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxStaticConfig(dir, pki, ports));
    const child = launch('upstream-nginx', 'nginx', ['-e', 'stderr', '-p', dir, '-c', conf]);
    const nodes = NODES.map((n, i) => ({ name: n.name, hostname: n.hostname, port: ports[i]! }));
    try {
      for (const node of nodes) {
        await waitUntilServing({ host: '127.0.0.1', port: node.port, servername: node.hostname, caFile: pki.nodeCaFile, url: '' }, 10_000, child.alive);
      }
    } catch (err) {
      await child.stop(2000);
      throw new Error(`static nginx upstream: ${(err as Error).message}\n${child.tail()}`);
    }
    return { kind: 'nginx-static' as const, nodes, caFile: pki.nodeCaFile, pids: () => [child.pid], stop: async () => void (await child.stop(3000)) };
  });
}
