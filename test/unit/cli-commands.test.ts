/**
 * The command table (src/cli/commands.ts) and what is derived from it: help,
 * completion and argv validation agree with each other and with the table,
 * so a command or option added in one place shows up in all three.
 */
import t from 'tap';
import { COMMON_OPTIONS, type CommandSpec } from '../../src/cli/commands.js';
import { commandHelp, completionScript, mainUsage, commandPaths } from '../../src/cli/help.js';
import { findCommand, parseCommandArgs } from '../../src/cli/dispatch.js';

const ALL = commandPaths();
const LEAVES = ALL.filter(({ spec }) => !spec.subcommands);

t.test('the table is well formed', async (t) => {
  const names = new Set<string>();
  for (const { path, spec } of ALL) {
    const key = path.join(' ');
    t.notOk(names.has(key), `${key}: registered once`);
    names.add(key);
    t.ok(spec.summary.length > 0 && !spec.summary.includes('\n'), `${key}: a one-line summary`);
    t.ok(Boolean(spec.run) !== Boolean(spec.subcommands), `${key}: a command runs, a group has subcommands`);
    for (const [name, option] of Object.entries(spec.options ?? {})) {
      t.match(name, /^[a-z][a-z0-9-]*$/, `${key} --${name}: a long option name`);
      t.notOk(name in COMMON_OPTIONS, `${key} --${name}: does not shadow a common option`);
      if (option.type === 'string') t.ok(option.value, `${key} --${name}: a value placeholder for help`);
    }
    t.equal(findCommand(path), spec, `${key}: found by its path`);
  }
  t.ok(findCommand(['cert', 'renew']), 'cert renew');
  t.equal(findCommand(['cert', 'nope']), undefined);
});

t.test('help lists every command, option and exit code', async (t) => {
  const usage = mainUsage();
  for (const { path } of LEAVES) t.match(usage, new RegExp(`^ {2}${path.join(' ')} +\\S`, 'm'), `ucgate --help lists ${path.join(' ')}`);
  for (const { path, spec } of ALL) {
    const help = commandHelp(path, spec);
    t.match(help, `ucgate ${path.join(' ')} — ${spec.summary}`);
    t.match(help, /\nusage:\n {2}ucgate /);
    t.match(help, /\nexit codes:\n {2}0 /);
    for (const name of Object.keys(spec.options ?? {})) t.match(help, new RegExp(`--${name}\\b`), `${path.join(' ')} help: --${name}`);
    if (!spec.subcommands) {
      t.match(help, '-h, --help');
      if (spec.readsConfig === false) t.notMatch(help, '--config', `${path.join(' ')}: reads no config, so --config is not offered`);
      else t.match(help, '--config FILE');
    }
  }
});

t.test('completion offers every command, subcommand and option', async (t) => {
  for (const shell of ['bash', 'zsh'] as const) {
    const script = completionScript(shell);
    for (const { path, spec } of ALL) {
      t.match(script, path[path.length - 1]!, `${shell}: ${path.join(' ')}`);
      for (const name of Object.keys(spec.options ?? {})) t.match(script, `--${name}`, `${shell}: ${path.join(' ')} --${name}`);
    }
  }
  t.match(completionScript('zsh'), /^#compdef ucgate\n/);
  t.match(completionScript('bash'), /\ncomplete -o default -F _ucgate ucgate\n$/);
});

t.test('argv validation: strict, in the CLI\'s words', async (t) => {
  const renew = findCommand(['cert', 'renew'])!;
  t.same(parseCommandArgs(renew, ['--force', '--json', '--config', 'x.yaml']), { values: { force: true, json: true, config: 'x.yaml' }, args: [] });
  t.same(parseCommandArgs(renew, ['--config=x.yaml']), { values: { config: 'x.yaml' }, args: [] });
  t.same(parseCommandArgs(renew, ['--frce']), { error: 'unknown option --frce, did you mean --force?' });
  t.same(parseCommandArgs(renew, ['-x']), { error: 'unknown option -x' });
  t.same(parseCommandArgs(renew, ['--constructor']), { error: 'unknown option --constructor' }, 'no option inherited from Object.prototype');
  t.same(parseCommandArgs(renew, ['--force=yes']), { error: 'option --force takes no value' });
  t.same(parseCommandArgs(renew, ['extra']), { error: 'unexpected argument "extra"' });
  t.same(parseCommandArgs(renew, ['--config']), { error: 'option --config needs a value (--config FILE)' });
  t.match(parseCommandArgs(renew, ['--config', '--force']), { error: /^option --config needs a value, not the option --force/ });
  const completion = findCommand(['completion'])!;
  t.same(parseCommandArgs(completion, ['bash']), { values: {}, args: ['bash'] });
  t.match(parseCommandArgs(completion, []), { error: /^missing SHELL/ });
  const help = findCommand(['help'])!;
  t.same(parseCommandArgs(help, ['cert', 'renew']), { values: {}, args: ['cert', 'renew'] }, 'help takes a command path');
  // Every command accepts --config (the contract) and --help.
  for (const { path, spec } of LEAVES) {
    const parsed = parseCommandArgs(spec as CommandSpec, ['--config', 'x.yaml']);
    t.notOk('error' in parsed && !/^missing /.test(parsed.error), `${path.join(' ')} accepts --config`);
  }
});
