/**
 * `ucgate demo` as a newcomer runs it (issue 18): the guide it prints names
 * the dashboard and a login token for the session; `/healthz` answers there
 * over TLS with the demo's CA; the dashboard login with that token works
 * (HTTP only, no browser); `help` typed into the demo lists its commands;
 * and `stop pub` shows in the node health the dashboard reads.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenWeakness } from '../../src/config/token-strength.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'main.ts');

interface Demo {
  readonly proc: ChildProcess;
  stderr(): string;
  /** Waits until stderr (from `from` on) matches. */
  waitFor(pattern: RegExp, from?: number, ms?: number): Promise<RegExpExecArray>;
  say(line: string): void;
}

function startDemo(dir: string): Demo {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'demo', '--port', '0', '--dir', dir], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    proc,
    stderr: () => err,
    say: (line) => void proc.stdin!.write(`${line}\n`),
    waitFor: (pattern, from = 0, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const tick = () => {
          const match = pattern.exec(err.slice(from));
          if (match) return resolve(match);
          if (proc.exitCode !== null) return reject(new Error(`demo exited (${proc.exitCode}):\n${err}`));
          if (Date.now() - started > ms) return reject(new Error(`no ${pattern} in the demo's output within ${ms} ms:\n${err}`));
          setTimeout(tick, 50);
        };
        tick();
      }),
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function fetchTls(url: string, ca: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The `up` flag of the node named `name` anywhere in a status document. */
function nodeUp(status: unknown, name: string): boolean | undefined {
  if (Array.isArray(status)) {
    for (const item of status) {
      const found = nodeUp(item, name);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (status && typeof status === 'object') {
    const record = status as Record<string, unknown>;
    if (record.name === name && typeof record.up === 'boolean') return record.up;
    for (const value of Object.values(record)) {
      const found = nodeUp(value, name);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

t.test('the demo starts the dashboard with a session token; help lists the commands', async (t) => {
  const dir = t.testdir();
  const demo = startDemo(dir);
  t.teardown(() => {
    demo.proc.kill('SIGKILL');
  });

  // Generous: the demo issues its certificates at start, and CI machines are often busy.
  const [, url] = await demo.waitFor(/Dashboard: (https:\/\/localhost:\d+\/)/, 0, 90_000);
  const [, token] = await demo.waitFor(/login token: (\S+)/);
  await demo.waitFor(/Ctrl-C/);
  t.equal(tokenWeakness(token!, 'admin-token'), undefined, 'the printed token passes the admin token rule (128 bits or more)');
  t.ok(token!.length >= 32, 'at least 32 hex characters');
  t.equal(readFileSync(join(dir, 'admin-token'), 'utf8').trim(), token, 'the token file holds the printed token');
  t.equal(statSync(join(dir, 'admin-token')).mode & 0o777, 0o600, 'the token file is 0600');
  const ca = readFileSync(join(dir, 'gateway-ca.pem'), 'utf8');

  const health = await fetchTls(`${url}healthz`, ca);
  t.equal(health.status, 200, '/healthz answers over TLS, trusted through the demo CA');

  const refused = await fetchTls(`${url}login`, ca, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${'0'.repeat(63)}1`,
  });
  t.not(refused.status, 303, 'a wrong token starts no session');

  const login = await fetchTls(`${url}login`, ca, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: token! }).toString(),
  });
  t.equal(login.status, 303, 'login with the printed token redirects to the dashboard');
  const setCookie = [login.headers['set-cookie'] ?? []].flat()[0] ?? '';
  t.match(setCookie, /^__Host-ucgate_session=/, 'a session cookie (TLS: __Host- and Secure)');
  const cookie = setCookie.split(';')[0]!;
  const page = await fetchTls(url!, ca, { headers: { cookie } });
  t.equal(page.status, 200, 'the dashboard answers the session');
  t.match(page.body, /pub/, 'and shows the nodes');
  t.notMatch(page.body, /name="token"/, 'not the login form');

  const before = demo.stderr().length;
  demo.say('help');
  const help = await demo.waitFor(/demo commands:[\s\S]*nodes: pub, sub1[^\n]*\n/, before);
  for (const command of ['stop NODE', 'start NODE', 'hang NODE', 'normal NODE', 'dashboard', 'help', 'quit']) {
    t.match(help[0], command, `help lists ${command}`);
  }

  const beforeUnknown = demo.stderr().length;
  demo.say('frobnicate');
  await demo.waitFor(/unknown command "frobnicate"; type "help"/, beforeUnknown);
  t.pass('an unknown command points at help');

  const status = async () => JSON.parse((await fetchTls(`${url}api/v1/status`, ca, { headers: { cookie } })).body) as unknown;
  t.equal(nodeUp(await status(), 'pub'), true, 'the publisher is up');
  const beforeStop = demo.stderr().length;
  demo.say('stop pub');
  await demo.waitFor(/pub: stopped/, beforeStop);
  const deadline = Date.now() + 60_000;
  let up: boolean | undefined = true;
  while (up !== false && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    up = nodeUp(await status(), 'pub');
  }
  t.equal(up, false, 'after "stop pub" the status the dashboard reads shows the publisher down');

  const exited = new Promise<number | null>((resolve) => demo.proc.once('exit', (code) => resolve(code)));
  demo.say('quit');
  t.equal(await exited, 0, '"quit" stops the demo cleanly');
});
