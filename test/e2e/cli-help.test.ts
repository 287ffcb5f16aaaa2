/**
 * Help that never acts (issue 18), through the real CLI: `--help`/`-h` on
 * every command and subcommand of the command table prints its usage and exits
 * 0 with the store, the config and the token byte-for-byte unchanged (every
 * file hashed before and after) — `cert renew --help` issues nothing,
 * `cert rollback --help` rolls nothing back, `cert csr --help` writes no key,
 * `demo --help` starts nothing. An unknown option exits 2 naming it;
 * `--version`/`-V`; completion scripts for bash and zsh name every command.
 * And the operator's habits: a pipe closed early (`cert status | head`) exits
 * 0 without a stack trace, a port in use names the listener and what to do,
 * a missing config file names the path tried and how to make one.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { COMMANDS, type CommandSpec } from '../../src/cli/commands.js';
import { FQDN, MAIN, REPO, runCli, writeConfig, writeTokenFile, type CliResult } from '../helpers/gateway.js';
import { snapshotTree } from '../helpers/openssl-ca.js';

t.setTimeout(240_000);

/** Every command path of the table, groups included: ['start'], ['cert'], ['cert', 'renew'], ... */
function paths(specs: readonly CommandSpec[] = COMMANDS, prefix: string[] = []): { path: string[]; spec: CommandSpec }[] {
  return specs.flatMap((spec) => [{ path: [...prefix, spec.name], spec }, ...paths(spec.subcommands ?? [], [...prefix, spec.name])]);
}
const ALL = paths();
const LEAVES = ALL.filter(({ spec }) => !spec.subcommands);
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** A store as an operator's would be: an active and a previous certificate, a pending CSR key, a local CA, an audit log. */
async function populatedStore(t: Test): Promise<{ dir: string; configFile: string }> {
  const dir = t.testdir();
  const tokenFile = writeTokenFile(dir);
  const configFile = writeConfig(dir, {
    workers: 1,
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tokenFile } },
    certificates: { dir: 'certs', issuer: { type: 'self-signed' } },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://127.0.0.1:9', priority: 1 }], tls: { verify: false } }],
  });
  const cli = (...args: string[]) => runCli([...args, '--config', configFile], { cwd: dir, timeoutMs: 60_000 });
  for (const args of [['cert', 'renew', '--force'], ['cert', 'renew', '--force'], ['cert', 'csr', '--out', 'csr']]) {
    const result = await cli(...args);
    t.equal(result.code, 0, `setup: ucgate ${args.join(' ')}: ${result.stderr}`);
  }
  t.ok(existsSync(join(dir, 'certs', 'certificates', 'rsa-2048', 'previous')), 'setup: a previous certificate to roll back to');
  t.ok(existsSync(join(dir, 'certs', 'certificates', 'rsa-2048', 'pending', 'private-key.pem')), 'setup: a pending CSR key');
  return { dir, configFile };
}

t.test('--help on every command changes nothing', async (t) => {
  const { dir, configFile } = await populatedStore(t);
  const before = snapshotTree(dir);
  t.ok(before.some((line) => line.startsWith('admin.token ')) && before.some((line) => line.startsWith('ucgate.yaml ')), 'the token and config are hashed too');

  const runs = ALL.flatMap(({ path, spec }) => [
    { path, spec, args: [...path, '--help'] },
    { path, spec, args: [...path, '-h', '--config', configFile] },
    // Help wins over everything else on the line, an unknown option included.
    { path, spec, args: [...path, '--config', configFile, '--no-such-option', '--help'] },
  ]);
  const results = await mapLimit(runs, 4, (run) => runCli(run.args, { cwd: dir, timeoutMs: 30_000 }));
  runs.forEach((run, i) => {
    const result = results[i]!;
    const name = `ucgate ${run.args.join(' ')}`;
    t.equal(result.code, 0, `${name}: exit 0`);
    t.equal(result.stderr, '', `${name}: nothing on stderr`);
    t.match(result.stdout, `ucgate ${run.path.join(' ')} — ${run.spec.summary}`, `${name}: names the command and what it does`);
    t.match(result.stdout, /^usage:\n {2}ucgate /m, `${name}: a synopsis`);
    t.match(result.stdout, /^exit codes:\n {2}0 /m, `${name}: exit codes`);
    if (run.spec.subcommands) {
      for (const sub of run.spec.subcommands) t.match(result.stdout, new RegExp(`^ {2}${sub.name} `, 'm'), `${name}: lists ${sub.name}`);
    } else {
      for (const option of Object.keys(run.spec.options ?? {})) t.match(result.stdout, `--${option}`, `${name}: documents --${option}`);
      t.match(result.stdout, '-h, --help', `${name}: documents --help`);
    }
  });

  // `ucgate help cert renew` is `ucgate cert renew --help`.
  const viaHelp = await runCli(['help', 'cert', 'renew'], { cwd: dir });
  t.equal(viaHelp.code, 0);
  t.equal(viaHelp.stdout, results[runs.findIndex((run) => run.args.join(' ') === 'cert renew --help')]!.stdout, 'help cert renew = cert renew --help');

  t.strictSame(snapshotTree(dir), before, 'every file (store, config, token) byte-for-byte and mode unchanged, nothing added');
  t.notOk(existsSync(join(dir, 'ucgate-rsa-2048.csr')), 'cert csr --help wrote no CSR');
});

t.test('demo --help starts nothing and returns at once', async (t) => {
  const dir = t.testdir();
  const timed = async (args: string[]) => {
    const started = Date.now();
    const result = await runCli(args, { cwd: dir, timeoutMs: 20_000 });
    return { result, ms: Date.now() - started };
  };
  // A bare start-up of the CLI on this machine, to compare with (a loaded CI box is slow to start node).
  const baseline = await timed(['--version']);
  const help = await timed(['demo', '--help', '--dir', join(dir, 'demo')]);
  t.equal(help.result.code, 0);
  t.match(help.result.stdout, 'ucgate demo — ');
  t.ok(help.ms < Math.max(1000, baseline.ms + 1000), `returned in ${help.ms} ms (bare start-up ${baseline.ms} ms)`);
  t.notOk(existsSync(join(dir, 'demo')), 'no demo folder, no certificate, no token');
  t.notOk(existsSync(join(dir, 'certs')), 'nothing under the default demo folder either');
});

t.test('unknown options and commands exit 2 naming them, and change nothing', async (t) => {
  const { dir, configFile } = await populatedStore(t);
  const before = snapshotTree(dir);
  const frce = await runCli(['cert', 'renew', '--frce', '--config', configFile], { cwd: dir });
  t.equal(frce.code, 2);
  t.match(frce.stderr, /^ucgate cert renew: unknown option --frce\b.*\(see ucgate cert renew --help\)$/m);
  t.match(frce.stderr, 'did you mean --force?');
  t.equal(frce.stdout, '');

  const results = await mapLimit(LEAVES, 4, ({ path }) => runCli([...path, '--no-such-option', '--config', configFile], { cwd: dir }));
  LEAVES.forEach(({ path }, i) => {
    const result = results[i]!;
    t.equal(result.code, 2, `ucgate ${path.join(' ')} --no-such-option: exit 2`);
    t.match(result.stderr, `ucgate ${path.join(' ')}: unknown option --no-such-option`, `ucgate ${path.join(' ')}: names the option`);
  });

  const cases: [string[], RegExp][] = [
    [['cert', 'renwe'], /^ucgate cert: unknown command renwe, did you mean renew\?/m],
    [['frobnicate'], /^ucgate: unknown command frobnicate/m],
    [['cert'], /^ucgate cert: needs a command/m],
    [['cert', 'csr', '--out'], /^ucgate cert csr: option --out needs a value/m],
    [['cert', 'rollback', '--key-type', '--help=no'], /^ucgate cert rollback: option --key-type needs a value, not the option --help=no/m],
    [['cert', 'status', '--json=yes'], /^ucgate cert status: option --json takes no value/m],
    [['check', 'extra'], /^ucgate check: unexpected argument "extra"/m],
    [['completion'], /^ucgate completion: missing SHELL/m],
    [['completion', 'fish'], /^ucgate completion: SHELL must be bash or zsh/m],
  ];
  for (const [args, expected] of cases) {
    const result = await runCli([...args, '--config', configFile], { cwd: dir });
    t.equal(result.code, 2, `ucgate ${args.join(' ')}: exit 2`);
    t.match(result.stderr, expected, `ucgate ${args.join(' ')}: says what is wrong`);
  }
  t.strictSame(snapshotTree(dir), before, 'nothing changed');
});

t.test('--version and -V', async (t) => {
  for (const flag of ['--version', '-V', 'version']) {
    const result = await runCli([flag]);
    t.equal(result.code, 0, flag);
    t.equal(result.stdout, `ucgate ${VERSION}\n`, `${flag}: the package version`);
  }
});

t.test('completion scripts name every command, subcommand and option', async (t) => {
  for (const shell of ['bash', 'zsh'] as const) {
    const result = await runCli(['completion', shell]);
    t.equal(result.code, 0, shell);
    for (const { path, spec } of ALL) {
      t.match(result.stdout, new RegExp(`\\b${path[path.length - 1]}\\b`), `${shell}: ${path.join(' ')}`);
      for (const option of Object.keys(spec.options ?? {})) t.match(result.stdout, `--${option}`, `${shell}: ${path.join(' ')} --${option}`);
    }
  }
  // Completion as bash runs it.
  const script = (await runCli(['completion', 'bash'])).stdout;
  const bash = spawnSync(
    'bash',
    [
      '-c',
      `${script}
complete_() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _ucgate; echo "\${COMPREPLY[*]}"; }
complete_ ucgate ''
complete_ ucgate cert ''
complete_ ucgate cert renew --
complete_ ucgate --config x.yaml cert csr --key-type ''`,
    ],
    { encoding: 'utf8' },
  );
  t.equal(bash.status, 0, `bash ran the script: ${bash.stderr}`);
  const [top, cert, renew, keyTypes] = bash.stdout.split('\n');
  t.strictSame(top!.split(' ').filter((w) => !w.startsWith('-')), COMMANDS.map((spec) => spec.name), 'bash: the commands');
  t.strictSame(cert!.split(' ').filter((w) => !w.startsWith('-')), COMMANDS.find((spec) => spec.name === 'cert')!.subcommands!.map((spec) => spec.name), 'bash: cert commands');
  t.match(renew, /--force/, 'bash: cert renew options');
  t.strictSame(keyTypes!.split(' '), ['rsa-2048', 'rsa-3072', 'ecdsa-p256'], 'bash: option values');
  const zsh = spawnSync('zsh', ['-n'], { input: (await runCli(['completion', 'zsh'])).stdout, encoding: 'utf8' });
  if (zsh.error) t.comment('zsh not installed: syntax of the zsh script not checked');
  else t.equal(zsh.status, 0, `zsh -n accepts the script: ${zsh.stderr}`);
});

t.test('a pipe closed early exits 0, without a stack trace', async (t) => {
  const { dir, configFile } = await populatedStore(t);
  /** `ucgate ARGS | head -c0`: the reader is gone before the first write. */
  const closedPipe = (args: string[]) =>
    new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout: '', stderr }));
    });
  /** `ucgate ARGS | head -c1`: one byte read, then the pipe closed. */
  const oneByte = (args: string[]) =>
    new Promise<CliResult & { first: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let first = '';
      child.stdout.once('data', (chunk: Buffer) => {
        first = chunk.subarray(0, 1).toString();
        child.stdout.destroy();
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout: first, stderr, first }));
    });
  for (const args of [['cert', 'status'], ['cert', 'status', '--json'], ['routes'], ['cert', 'export-trust', '--leaf'], ['--help'], ['completion', 'bash']]) {
    const withConfig = [...args, '--config', configFile];
    const closed = await closedPipe(withConfig);
    t.equal(closed.code, 0, `ucgate ${args.join(' ')} | head -c0: exit 0`);
    t.equal(closed.stderr, '', `ucgate ${args.join(' ')} | head -c0: nothing on stderr`);
    const one = await oneByte(withConfig);
    t.equal(one.code, 0, `ucgate ${args.join(' ')} | head -c1: exit 0`);
    t.equal(one.stderr, '', `ucgate ${args.join(' ')} | head -c1: nothing on stderr`);
    t.equal(one.first.length, 1, 'one byte was read');
  }
  // Through a real shell pipe too.
  const sh = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" cert status --config "${configFile}" | head -c1 >/dev/null; echo "\${PIPESTATUS[0]}"`], {
    cwd: dir,
    encoding: 'utf8',
  });
  t.equal(sh.stdout, '0\n', 'bash: ucgate cert status | head -c1 exits 0');
  t.equal(sh.stderr, '', 'bash: no stack trace');
});

t.test('a missing config file says which path was tried and how to make one', async (t) => {
  const dir = t.testdir();
  const byDefault = await runCli(['check'], { cwd: dir, env: { UCGATE_CONFIG: undefined } });
  t.equal(byDefault.code, 2);
  t.match(byDefault.stderr, /^config: cannot read .*config\/ucgate\.yaml: ENOENT/m);
  t.match(byDefault.stderr, /tried config\/ucgate\.yaml \(the default/);
  t.match(byDefault.stderr, /to make one: mkdir -p config && cp \S*config\/ucgate\.example\.yaml config\/ucgate\.yaml/);
  t.match(byDefault.stderr, 'ucgate demo');
  const example = /cp (\S+) /.exec(byDefault.stderr)?.[1];
  t.ok(example !== undefined && existsSync(example), 'the example it points to exists');

  mkdirSync(join(dir, 'etc'));
  const byFlag = await runCli(['cert', 'status', '--config', 'etc/gw.yaml'], { cwd: dir });
  t.equal(byFlag.code, 2);
  t.match(byFlag.stderr, /tried etc\/gw\.yaml \(from --config\)/);
  t.match(byFlag.stderr, /to make one: cp \S+ucgate\.example\.yaml etc\/gw\.yaml\n/);
  t.match(byFlag.stderr, 'ucgate check --config etc/gw.yaml');

  const byEnv = await runCli(['start'], { cwd: dir, env: { UCGATE_CONFIG: join(dir, 'env.yaml') } });
  t.equal(byEnv.code, 2);
  t.match(byEnv.stderr, /\(from \$UCGATE_CONFIG\)/);
});

t.test('a port in use at start names the listener and what to do', async (t) => {
  const dir = t.testdir();
  const held: Server = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  t.teardown(() => held.close());
  const port = (held.address() as AddressInfo).port;
  const configFile = writeConfig(dir, {
    workers: 1,
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port }] },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://127.0.0.1:9', priority: 1 }], tls: { verify: false } }],
  });
  const result = await runCli(['start', '--config', configFile], { cwd: dir, timeoutMs: 60_000 });
  t.equal(result.code, 1, 'exit 1');
  t.match(result.stderr, `ucgate: listen.https[1] (127.0.0.1:${port}): the port is already in use by another process`);
  t.match(result.stderr, `ss -ltnp 'sport = :${port}'`, 'how to see who holds it');
  t.match(result.stderr, 'give listen.https[1].port another port in ucgate.yaml', 'what to change');
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
