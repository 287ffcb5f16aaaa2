/**
 * The thread pool's own duties (src/control/thread-pool.ts), with a scripted
 * worker thread that speaks the primary's protocol and serves nothing
 * (fixtures/scripted-thread-worker.mjs): the first thread binds a port-0
 * listener and the others are told its port; a thread that throws is logged
 * and replaced, and its replacement joins the same port; metrics come from
 * every thread without the process-wide figures; stop ends them all.
 * test/e2e/worker-modes.test.ts covers the real workers.
 */
import t from 'tap';
import { ThreadPool } from '../../src/control/thread-pool.js';
import { createLogger } from '../../src/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { WorkerMessage } from '../../src/wire/messages.js';
import { waitFor } from '../helpers/net.js';

const config = parseConfig(
  {
    gateway: { fqdn: 'ucgw.example.test' },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
  },
  { baseDir: '/etc/ucgate', configFile: '' },
);

t.test('start, shared ports, a failing thread replaced, metrics, stop', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const pool = new ThreadPool({
    count: 2,
    log,
    logLevel: 'info',
    config: () => config,
    initMessage: () => ({ t: 'init', config, certificates: [], ticketKeys: '' }),
    catchUp: () => [],
    entry: new URL('./fixtures/scripted-thread-worker.mjs', import.meta.url),
  });
  /** What each thread said it was given at init: its thread id and the ports it was told to join. */
  const inits: { threadId: number; ports: Record<string, number> }[] = [];
  pool.on('report', (message: WorkerMessage) => {
    if (message.t === 'tftp-files' && message.cluster.startsWith('init-')) inits.push({ threadId: Number(message.cluster.slice(5)), ports: JSON.parse(message.names[0]!) as Record<string, number> });
  });
  t.teardown(() => pool.stop(0));

  const listeners = await pool.start();
  t.equal(pool.size, 2, 'two threads');
  const port = listeners[0]!.port;
  await waitFor(() => inits.length === 2, { timeoutMs: 5_000, message: 'both threads initialised' });
  t.same(inits[0]!.ports, {}, 'the first thread binds its port-0 listener itself');
  t.same(inits[1]!.ports, { 'https#0:0': port }, `the second is told to join the first one's port (${port})`);

  const metrics = await pool.metrics();
  t.equal(metrics.length, 2, 'metrics from both threads');
  t.same(
    metrics.map((m) => m.map((metric) => (metric as { name: string }).name)),
    [['ucgate_worker_nodejs_heap_size_used_bytes'], ['ucgate_worker_nodejs_heap_size_used_bytes']],
    'their own heap figures, without copies of the process-wide ucgate_worker_process_*',
  );

  const victim = inits[1]!.threadId;
  pool.broadcast({ t: 'health', updates: [{ cluster: 'cucm', node: `crash-${victim}`, healthy: true }] });
  const error = await waitFor(() => lines.find((line) => line.event === 'worker_error'), { timeoutMs: 5_000, message: 'worker_error logged' });
  t.equal(error.threadId, victim, 'the failing thread is named');
  t.match(error.err, `scripted failure in thread ${victim}`, 'with what it threw');
  await waitFor(() => lines.find((line) => line.event === 'worker_exit'), { timeoutMs: 5_000, message: 'worker_exit logged' });
  await waitFor(() => (inits.length === 3 ? inits[2] : undefined), { timeoutMs: 10_000, message: 'a replacement thread started' });
  t.not(inits[2]!.threadId, victim, 'a new thread replaced it');
  t.same(inits[2]!.ports, { 'https#0:0': port }, 'and joined the same port');
  await waitFor(() => pool.size === 2 || undefined, { timeoutMs: 5_000, message: 'two threads again' });
  t.equal((await pool.metrics()).length, 2, 'both answer for metrics again');

  await pool.stop(1_000);
  t.equal(pool.size, 0, 'stop ends every thread');
  t.notOk(lines.some((line) => line.event === 'worker_restart_failed'), 'no restart failed');
});
