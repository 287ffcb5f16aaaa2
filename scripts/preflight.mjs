#!/usr/bin/env node
/**
 * Test preflight: the real third-party tools the test suite drives must be on
 * PATH before any test starts. `npm test` runs this first; when something is
 * missing it prints ONE message naming each missing tool and the command that
 * installs it, and exits 1 within a second, instead of minutes of
 * `spawn ... ENOENT` from the tests themselves.
 *
 *   node scripts/preflight.mjs                      check the suite's tools (exit 0 / 1)
 *   node scripts/preflight.mjs --missing-packages   print the Debian packages still to
 *                                                   install, space-separated (exit 0)
 *   add --bench                                     also the benchmark peers (nginx, haproxy, caddy, wrk)
 *
 * scripts/install-test-tools.sh uses --missing-packages, so the list below is
 * the single place that says what the tests need.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Each tool: the command the tests spawn (or an absolute path), the Debian
 * package that provides it, and why the tests need it.
 * @type {ReadonlyArray<{ command: string; path?: string; library?: boolean; pkg: string; why: string; bench?: boolean }>}
 */
export const TOOLS = [
  { command: 'openssl', pkg: 'openssl', why: 'test CAs and certificates, s_client handshakes' },
  { command: 'pebble', pkg: 'pebble', why: 'the real ACME CA the issuance and renewal tests order from' },
  { command: 'pebble-challtestsrv', pkg: 'pebble', why: "pebble's DNS server for dns-01 and name validation" },
  { command: 'dnsmasq', pkg: 'dnsmasq-base', why: 'a real DNS server: SRV discovery, dns-01 propagation' },
  { command: 'redis-server', pkg: 'redis-server', why: 'the shared store: standalone, sentinel and cluster Redis' },
  { command: 'redis-cli', pkg: 'redis-tools', why: 'building the Redis cluster the tests use' },
  { command: 'chromium', path: process.env.UCGATE_CHROMIUM ?? '/usr/bin/chromium', pkg: 'chromium', why: 'the browser the dashboard tests drive (playwright-core)' },
  { command: 'testssl', pkg: 'testssl.sh', why: 'the TLS audit of the listeners' },
  { command: 'sslscan', pkg: 'sslscan', why: 'the TLS audit of the listeners' },
  { command: 'slowhttptest', pkg: 'slowhttptest', why: 'the slowloris test' },
  { command: 'tcpdump', pkg: 'tcpdump', why: 'DSCP marks read on the wire' },
  { command: 'promtool', pkg: 'prometheus', why: 'checks and unit-tests the shipped Prometheus alert rules' },
  // A library, not a command: found by its path (x86-64 Debian; elsewhere UCGATE_JEMALLOC names it).
  {
    command: 'libjemalloc.so.2',
    path: process.env.UCGATE_JEMALLOC ?? '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
    library: true,
    pkg: 'libjemalloc2',
    why: "the Docker image's malloc, preloaded by the gateway test that runs on it and by the bench",
  },
  { command: 'nginx', pkg: 'nginx', why: 'benchmark peer', bench: true },
  { command: 'haproxy', pkg: 'haproxy', why: 'benchmark peer', bench: true },
  { command: 'caddy', pkg: 'caddy', why: 'benchmark peer', bench: true },
  { command: 'wrk', pkg: 'wrk', why: 'benchmark load generator', bench: true },
];

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function readable(file) {
  try {
    accessSync(file, constants.R_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether a command is found: its absolute path, or an executable of that name in a PATH folder. */
export function found(tool, pathVariable = process.env.PATH ?? '') {
  if (tool.library) return readable(tool.path);
  if (tool.path) return executable(tool.path);
  return pathVariable.split(delimiter).some((dir) => dir !== '' && executable(join(dir, tool.command)));
}

export function missingTools({ bench = false, pathVariable } = {}) {
  return TOOLS.filter((tool) => (bench || !tool.bench) && !found(tool, pathVariable));
}

function hasApt(pathVariable) {
  return found({ command: 'apt-get' }, pathVariable);
}

/** Where a command not on PATH sits anyway (Debian puts dnsmasq and tcpdump in /usr/sbin, outside a user's PATH). */
function elsewhere(tool) {
  if (tool.path) return undefined;
  return ['/usr/sbin', '/sbin', '/usr/local/sbin'].map((dir) => join(dir, tool.command)).find(executable);
}

/** The whole message for the missing tools, or '' when nothing is missing. */
export function missingMessage(missing, { root = process.getuid?.() === 0, apt = hasApt(process.env.PATH ?? '') } = {}) {
  if (missing.length === 0) return '';
  const toInstall = missing.filter((tool) => !elsewhere(tool));
  const packages = [...new Set(toInstall.map((tool) => tool.pkg))];
  const name = (tool) => (tool.path ? `${tool.command} (${tool.path})` : tool.command);
  const width = Math.max(...missing.map((tool) => name(tool).length));
  const sudo = root ? '' : 'sudo ';
  const lines = [
    `ucgate tests: ${missing.length} tool${missing.length === 1 ? '' : 's'} the suite drives ${missing.length === 1 ? 'is' : 'are'} missing, so no test was started:`,
    ...missing.map((tool) => {
      const there = elsewhere(tool);
      const why = there ? `installed as ${there}, but that folder is not on PATH` : `Debian package ${tool.pkg}`;
      return `  ${name(tool).padEnd(width)}  ${tool.why} (${why})`;
    }),
  ];
  if (packages.length > 0) {
    lines.push(
      `Install ${packages.length === 1 ? 'it' : 'them'}${apt ? '' : ' (on Debian or Ubuntu; this machine has no apt-get)'}:`,
      `  ${sudo}apt-get update && ${sudo}DEBIAN_FRONTEND=noninteractive apt-get install -y ${packages.join(' ')}`,
      "or, as root on Debian, run the README's test line, which installs what is missing and runs the suite: npm ci && npm run test:all",
    );
  }
  if (missing.length > toInstall.length) lines.push('Add /usr/sbin to PATH (PATH=$PATH:/usr/sbin:/sbin npm test), or run the tests as root.');
  if (missing.some((tool) => tool.command === 'chromium')) lines.push('A Chromium elsewhere can be named with UCGATE_CHROMIUM=/path/to/chromium.');
  return lines.join('\n') + '\n';
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const args = process.argv.slice(2);
  const bench = args.includes('--bench');
  const missing = missingTools({ bench });
  if (args.includes('--missing-packages')) {
    process.stdout.write([...new Set(missing.map((tool) => tool.pkg))].join(' ') + '\n');
  } else if (missing.length > 0) {
    process.stderr.write(missingMessage(missing));
    process.exitCode = 1;
  }
}
