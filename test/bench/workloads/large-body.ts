/**
 * Issue 11's large answer: keep-alive GET of a 1 MiB UDS user search (made in
 * upstream/static-bodies.ts: a user entry after another, each naming the
 * answering node in its URI) with wrk, 10 connections, 2 threads. Why: a
 * directory search can answer megabytes, and a proxy that rewrites node names
 * (ucgate) scans every byte and edits a name in every entry where the peers
 * copy bytes; a proxy that held whole bodies in memory would show it in RSS.
 * Reported: req/s, MB/s delivered, latency, errors, proxy CPU per request and
 * RSS. Before the load, one GET checks the contestant delivers the whole body
 * and says how it framed it and what became of the node names; the notes also
 * say whether wrk read at least a whole body per answer it counted. MB/s is
 * what wrk read (heads included) per second.
 */
import { probe, type ProbeResult } from '../lib/probe.js';
import { fmt } from '../lib/stats.js';
import type { Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';
import { namesNote } from '../contestants/common.js';
import { USERS_SEARCH_BYTES } from '../upstream/static-bodies.js';
import { commonColumn, cpuPerRequestUs, measureWithWrk, RSS_COLUMN, wrkErrors, type WrkSummary } from './throughput.js';

const PATH = '/cucm-uds/users?last=a';
const CONNECTIONS = 10;
const THREADS = 2;

function framing(answer: ProbeResult): string {
  const length = answer.headers['content-length'];
  if (length !== undefined) return `Content-Length ${String(length)}`;
  return answer.headers['transfer-encoding'] ? `Transfer-Encoding ${String(answer.headers['transfer-encoding'])}` : 'close-delimited';
}

/**
 * One GET of the body: it must be 200 and whole (every entry the root element
 * announces, then its end tag). Returns its length and a note.
 */
async function checkBody(ctx: WorkloadContext): Promise<{ length: number; note: string }> {
  const { name, endpoint } = ctx.contestant;
  const answer = await probe(endpoint, PATH, 10_000);
  if (answer.status !== 200) {
    const hint = ctx.upstream.kind === 'sim' ? ' (the simulated nodes have no user search: use --upstream nginx)' : '';
    throw new Error(`GET ${PATH} answered ${answer.status}${hint}`);
  }
  const announced = Number(/returnedCount="(\d+)"/.exec(answer.body)?.[1]);
  const entries = answer.body.split('<user uri=').length - 1;
  if (entries !== announced || !answer.body.endsWith('</users>')) {
    throw new Error(`GET ${PATH}: body cut short (${answer.body.length} bytes, ${entries} of ${announced} entries)`);
  }
  const size = answer.body.length === USERS_SEARCH_BYTES ? '1 MiB exactly' : `${answer.body.length.toLocaleString('en-US')} bytes`;
  return { length: answer.body.length, note: `${name}: whole body received (${size}, ${entries} entries, ${framing(answer)}); ${namesNote(answer.body)}` };
}

/**
 * Whether wrk read at least a whole body per answer it counted. It reads more:
 * heads, and the answers under way when the run ended (counted in bytes, not
 * in requests: with a few hundred 1 MiB answers, that is a few percent).
 */
function bytesNote(name: string, s: WrkSummary, bodyLength: number): string {
  const read = `wrk read ${(s.bytes / 1e6).toFixed(1)} MB for ${s.requests} answers`;
  return s.bytes >= s.requests * bodyLength ? `${name}: ${read} (at least a whole body each)` : `${name}: ${read}, LESS than a whole body each`;
}

export const largeBodyWorkload: Workload = {
  id: 'large-body',
  title: `Keep-alive GET of a 1 MiB UDS user search, ${PATH} (wrk, ${CONNECTIONS} connections, ${THREADS} threads)`,
  needs: 'throughput',
  includeDirect: true,
  freshContestant: false,
  ratioKey: 'rps',
  columns: [
    commonColumn('rps'),
    { key: 'mbps', label: 'MB/s', format: fmt.int },
    ...['p50', 'p99', 'errors', 'cpuUsPerReq'].map((key) => commonColumn(key)),
    RSS_COLUMN,
  ],
  async run(ctx: WorkloadContext): Promise<WorkloadResult> {
    const body = await checkBody(ctx);
    const { summary: s, cpuSeconds } = await measureWithWrk(ctx, CONNECTIONS, THREADS, PATH);
    const { errors, notes } = wrkErrors(ctx.contestant.name, s);
    const seconds = s.durationUs / 1e6;
    return {
      metrics: {
        requests: s.requests,
        rps: s.requests / seconds,
        mbps: s.bytes / seconds / 1e6,
        p50: s.p50 / 1000,
        p99: s.p99 / 1000,
        errors,
        cpuUsPerReq: cpuPerRequestUs(cpuSeconds, s.requests),
        rssMb: ctx.proxyRssMb() ?? NaN,
      },
      notes: [body.note, bytesNote(ctx.contestant.name, s, body.length), ...notes],
    };
  },
};
