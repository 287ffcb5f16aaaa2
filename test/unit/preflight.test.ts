/**
 * The test preflight (scripts/preflight.mjs), run as `npm test` runs it: with
 * a PATH that lacks a tool the suite drives (pebble here), it stops within
 * seconds, before any test, with one message naming the tool and the command
 * that installs it — never minutes of `spawn pebble ENOENT`.
 *
 * The reduced PATH is one folder of links to every command of the real PATH
 * except `pebble`, so whatever else this machine has stays reachable.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const PREFLIGHT = join(REPO, 'scripts', 'preflight.mjs');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function run(command: string, args: readonly string[], options: { cwd?: string; path?: string } = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const env = { ...process.env, ...(options.path === undefined ? {} : { PATH: options.path }) };
    const child = spawn(command, args, { cwd: options.cwd ?? REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** One folder with a link to each command on the real PATH (first one wins), leaving out `without`; `node` is this runtime. */
function reducedPath(dir: string, without: string): string {
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>(['node', without]);
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder === '' || !existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const target = join(folder, name);
      try {
        if (statSync(target).isFile()) symlinkSync(target, join(dir, name));
      } catch {
        // a dangling link on the real PATH: not a command either way
      }
    }
  }
  return dir;
}

/** The tools a preflight message lists: the first word of each indented line before the install command. */
function listed(message: string): string[] {
  const lines = message.split('\n');
  const end = lines.findIndex((line) => /^Install|^Add /.test(line));
  return lines.slice(1, end === -1 ? undefined : end).filter((line) => line.startsWith('  ')).map((line) => line.trim().split(/\s+/)[0]!);
}

t.test('a PATH without pebble: one message naming it and its install command, exit 1, within seconds', async (t) => {
  const baseline = await run(process.execPath, [PREFLIGHT]);
  const path = reducedPath(join(t.testdir(), 'bin'), 'pebble');
  const result = await run(process.execPath, [PREFLIGHT], { path });
  t.equal(result.code, 1, 'exits 1');
  t.ok(result.ms < 5000, `within seconds (${result.ms} ms)`);
  t.equal(result.stdout, '', 'nothing on stdout');
  t.match(result.stderr, /^ucgate tests: .* missing, so no test was started:\n/, 'one message, saying no test ran');
  t.ok(listed(result.stderr).includes('pebble'), 'names pebble');
  t.match(result.stderr, /apt-get install -y [^\n]*\bpebble\b/, 'with the command that installs it');
  if (baseline.code === 0) {
    t.same(listed(result.stderr), ['pebble'], 'names only what is missing (pebble-challtestsrv is still there)');
  } else {
    t.comment(`this machine lacks other tools too:\n${baseline.stderr}`);
  }
  t.equal(result.stderr.split('ucgate tests:').length, 2, 'a single message');
});

t.test('everything installed: silent, exit 0', async (t) => {
  const result = await run(process.execPath, [PREFLIGHT]);
  if (result.code !== 0) {
    t.comment(`this machine lacks tools the suite drives:\n${result.stderr}`);
    t.pass('skipped: not every tool is installed here');
    return;
  }
  t.equal(result.stderr, '');
  t.equal(result.stdout, '');
});

t.test('--missing-packages lists the Debian packages to install, for scripts/install-test-tools.sh', async (t) => {
  const path = reducedPath(join(t.testdir(), 'bin'), 'pebble');
  const result = await run(process.execPath, [PREFLIGHT, '--missing-packages'], { path });
  t.equal(result.code, 0);
  t.ok(result.stdout.trim().split(' ').includes('pebble'), `pebble among "${result.stdout.trim()}"`);
});

t.test('`npm test` with a PATH without pebble stops at the preflight: no build, no tap', async (t) => {
  // A copy of the project's scripts and package.json and nothing else: were the preflight to pass,
  // the build would fail at once (no node_modules) rather than start the suite inside this test.
  const dir = t.testdir();
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  cpSync(join(REPO, 'scripts'), join(dir, 'scripts'), { recursive: true });
  const path = reducedPath(join(dir, '.bin'), 'pebble');
  const npm = join(path, 'npm');
  t.ok(existsSync(npm), 'npm on the PATH');
  const result = await run(npm, ['test'], { cwd: dir, path });
  t.not(result.code, 0, 'npm test fails');
  t.ok(result.ms < 20_000, `within seconds (${result.ms} ms)`);
  t.match(result.stderr, /ucgate tests: .* missing, so no test was started:\n\s+pebble\b/, 'the preflight message, naming pebble');
  t.notMatch(result.stdout + result.stderr, /TAP version|tsc -p/, 'neither the build nor tap started');
});
