/**
 * Which way the data-plane workers run (src/control/worker-mode.ts): threads
 * only where listeners in one process can share a port (src/net/reuse-port.ts),
 * and a config that asks for threads where they cannot run is refused by
 * `ucgate check`, naming the key.
 */
import t from 'tap';
import { reusePortUnsupported } from '../../src/net/reuse-port.js';
import { resolveWorkerMode } from '../../src/control/worker-mode.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };
const linux = (nodeVersion: string) => ({ nodeVersion, platform: 'linux' as const });

t.test('reusePort: Node 22.12+ and 23.1+, on Linux only', async (t) => {
  for (const version of ['22.12.0', '22.20.1', '23.1.0', '24.0.0', '24.22.3', '25.2.1']) t.equal(reusePortUnsupported(linux(version)), undefined, `Node ${version} on Linux`);
  for (const version of ['20.19.0', '20.20.2', '22.11.0', '23.0.0', '18.20.0']) t.match(reusePortUnsupported(linux(version)), `this is Node.js ${version}`, `not Node ${version}`);
  t.match(reusePortUnsupported({ nodeVersion: '24.22.3', platform: 'darwin' }), 'only on Linux (this is darwin)', 'not macOS, where SO_REUSEPORT does not spread connections');
});

t.test('auto is threads where they can run, processes elsewhere; an explicit mode is kept', async (t) => {
  t.equal(resolveWorkerMode('auto', linux('24.22.3')), 'thread');
  t.equal(resolveWorkerMode('auto', linux('22.12.0')), 'thread');
  t.equal(resolveWorkerMode('auto', linux('20.20.2')), 'process');
  t.equal(resolveWorkerMode('auto', { nodeVersion: '24.22.3', platform: 'win32' }), 'process');
  t.equal(resolveWorkerMode('process', linux('24.22.3')), 'process');
  t.equal(resolveWorkerMode('thread', linux('24.22.3')), 'thread');
});

t.test('workerMode in the config', async (t) => {
  const base = { gateway: { fqdn: 'ucgw.example.test' }, clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }] };
  t.equal(parseConfig(base, opts).workerMode, 'auto', 'defaults to auto');
  t.equal(parseConfig({ ...base, workerMode: 'process' }, opts).workerMode, 'process');
  t.equal(parseConfig({ ...base, workers: 0, workerMode: 'thread' }, opts).workerMode, 'thread', 'no workers (the data plane in the primary): nothing to check');
  const problems = (config: object): string[] => {
    try {
      parseConfig(config, opts);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return [...err.problems];
      throw err;
    }
  };
  t.match(problems({ ...base, workerMode: 'fibres' }).join('\n'), /workerMode: .*auto.*thread.*process/, 'an unknown mode names the key and the choices');
  // The running Node decides: on Node 20 (local runs) threads are refused, on 22.12+ and 24 (CI) accepted.
  const why = reusePortUnsupported();
  const thread = problems({ ...base, workers: 2, workerMode: 'thread' });
  if (why) t.match(thread.join('\n'), `workerMode: thread cannot run here: ${why}`, `refused on Node ${process.versions.node}, naming the key and why`);
  else t.same(thread, [], `accepted on Node ${process.versions.node}`);
});
