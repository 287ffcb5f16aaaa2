/**
 * `ucgate node drain|undrain CLUSTER/NAME` and `ucgate node list`: node
 * maintenance through the running gateway's admin API (src/admin/node-routes.ts).
 * A drained node gets no new request or session; requests of its sticky
 * sessions still go there until they end, then it is idle (watch `in flight`
 * in `node list`). The gateway keeps the state across reloads and restarts.
 * NAME alone is enough when one cluster has a node of that name.
 */
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { callAdmin, type AdminAnswer } from './admin-client.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import type { UcgateConfig } from '../config/types.js';
import type { Storage } from '../store/storage.js';
import type { GatewayStatus } from '../admin/status-types.js';

export interface NodeCommandOptions {
  readonly config?: string;
  readonly json?: boolean;
}

const TIMEOUT_MS = 15_000;

function noGateway(config: UcgateConfig): UcgateError {
  const admin = config.listen.admin;
  const where = admin ? `listen.admin ${admin.host}:${admin.port}` : 'no listen.admin in the configuration';
  return new UcgateError(ErrorCodes.USAGE, `no running gateway answered on its admin API (${where}): node maintenance acts on a running gateway`, { exitCode: 1 });
}

async function status(config: UcgateConfig, storage: Storage): Promise<GatewayStatus> {
  const answer = await callAdmin(config, storage, { method: 'GET', path: '/api/v1/status', timeoutMs: TIMEOUT_MS });
  if (!answer) throw noGateway(config);
  if (answer.status !== 200) throw refused(answer);
  return answer.body as GatewayStatus;
}

function refused(answer: AdminAnswer): UcgateError {
  const message = (answer.body as { message?: string } | undefined)?.message ?? `HTTP ${answer.status}`;
  return new UcgateError(ErrorCodes.USAGE, `the gateway refused: ${message}`, { exitCode: answer.status === 404 || answer.status === 400 ? 2 : 1 });
}

/** `cluster/node`, or a node name that exactly one cluster has. */
function resolve(target: string, current: GatewayStatus): { cluster: string; node: string } {
  const slash = target.indexOf('/');
  if (slash > 0) return { cluster: target.slice(0, slash), node: target.slice(slash + 1) };
  const matches = current.clusters.flatMap((cluster) => cluster.nodes.filter((node) => node.name === target).map(() => cluster.name));
  if (matches.length === 1) return { cluster: matches[0]!, node: target };
  const known = current.clusters.flatMap((cluster) => cluster.nodes.map((node) => `${cluster.name}/${node.name}`));
  throw new UcgateError(
    ErrorCodes.USAGE,
    matches.length === 0 ? `no node ${target}; known: ${known.join(', ') || 'none'}` : `${target} is in several clusters (${matches.join(', ')}): write CLUSTER/${target}`,
    { exitCode: 2 },
  );
}

export async function nodeDrainCommand(options: NodeCommandOptions & { target: string; draining: boolean; reason?: string }): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const storage = await openStorage(config);
    const { cluster, node } = resolve(options.target, await status(config, storage));
    const verb = options.draining ? 'drain' : 'undrain';
    const answer = await callAdmin(config, storage, {
      method: 'POST',
      path: `/api/v1/nodes/${encodeURIComponent(cluster)}/${encodeURIComponent(node)}/${verb}`,
      body: options.reason === undefined ? {} : { reason: options.reason },
      timeoutMs: TIMEOUT_MS,
    });
    if (!answer) throw noGateway(config);
    if (answer.status !== 200) throw refused(answer);
    const outcome = answer.body as { changed: boolean };
    if (options.json) process.stdout.write(JSON.stringify(answer.body, null, 2) + '\n');
    else if (options.draining) {
      process.stdout.write(
        `${cluster}/${node} ${outcome.changed ? 'drained' : 'was already drained'}: new requests and sessions go to the other nodes; ` +
          `requests of its sticky sessions still go there until they end (watch \`ucgate node list\`)\n`,
      );
    } else process.stdout.write(`${cluster}/${node} ${outcome.changed ? 'undrained' : 'was not drained'}: it takes new requests again\n`);
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}

export async function nodeListCommand(options: NodeCommandOptions): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const storage = await openStorage(config);
    const current = await status(config, storage);
    const rows = current.clusters.flatMap((cluster) =>
      cluster.nodes.map((node) => ({
        node: `${cluster.name}/${node.name}`,
        state: `${node.healthy ? 'up' : node.up ? 'busy' : 'down'}${node.draining ? ', draining' : ''}`,
        inFlight: node.inFlight ?? '-',
        rps: node.requestsPerSecond ?? '-',
        since: node.drain ? `drained ${node.drain.since} by ${node.drain.actor}${node.drain.reason ? `: ${node.drain.reason}` : ''}` : '',
      })),
    );
    if (options.json) {
      process.stdout.write(JSON.stringify(current.clusters.flatMap((cluster) => cluster.nodes.map((node) => ({ cluster: cluster.name, ...node }))), null, 2) + '\n');
      return 0;
    }
    const width = Math.max(4, ...rows.map((row) => row.node.length));
    process.stdout.write(`${'NODE'.padEnd(width)}  ${'STATE'.padEnd(15)}  ${'IN FLIGHT'.padStart(9)}  ${'REQ/S'.padStart(7)}\n`);
    for (const row of rows) {
      process.stdout.write(`${row.node.padEnd(width)}  ${row.state.padEnd(15)}  ${String(row.inFlight).padStart(9)}  ${String(row.rps).padStart(7)}${row.since ? `  ${row.since}` : ''}\n`);
    }
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
