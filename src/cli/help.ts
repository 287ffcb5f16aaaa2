/**
 * Help and shell completion, both rendered from the command table
 * (commands.ts), so neither can drift from what the commands accept.
 * Pure text: nothing here reads the config or touches the store.
 */
import { COMMANDS, COMMON_OPTIONS, DEFAULT_EXIT_CODES, type CommandSpec, type OptionSpec } from './commands.js';
import { VERSION } from '../version.js';

const WIDTH = 100;

/** Options a command accepts, common ones last; --config only where the config is read. */
export function optionsOf(spec: CommandSpec): [string, OptionSpec][] {
  const own = Object.entries(spec.options ?? {});
  const common = Object.entries(COMMON_OPTIONS).filter(([name]) => name !== 'config' || spec.readsConfig !== false);
  return [...own, ...common];
}

function optionLabel(name: string, option: OptionSpec): string {
  const long = `--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
  return option.short ? `-${option.short}, ${long}` : `    ${long}`;
}

function wrap(text: string, indent: number, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l);
}

/** `[--force] [--json] [--config FILE]` and positionals, when the command gives no synopsis of its own. */
function defaultSynopsis(spec: CommandSpec): string {
  const parts = Object.entries(spec.options ?? {}).map(([name, o]) => `[--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}]`);
  for (const arg of spec.args ?? []) {
    const name = arg.repeats ? `${arg.name}...` : arg.name;
    parts.push(arg.optional ? `[${name}]` : name);
  }
  return parts.join(' ');
}

export function synopsisLines(path: readonly string[], spec: CommandSpec): string[] {
  const head = `ucgate ${path.join(' ')}`;
  if (spec.subcommands) return [`${head} <command> [options]`];
  const config = spec.readsConfig === false ? '' : ' [--config FILE]';
  const forms = spec.synopsis ?? [defaultSynopsis(spec)];
  return forms.map((form) => `${head}${form ? ` ${form}` : ''}${config}`.replace(/\s+/g, ' '));
}

function table(rows: readonly [string, string][], indent = 2): string[] {
  const width = Math.min(30, Math.max(...rows.map(([left]) => left.length)) + 2);
  const out: string[] = [];
  for (const [left, right] of rows) {
    const pad = indent + width;
    const wrapped = wrap(right, pad);
    if (left.length + 2 > width) out.push(' '.repeat(indent) + left, ...wrapped);
    else out.push(' '.repeat(indent) + left.padEnd(width) + (wrapped[0] ?? '').trimStart(), ...wrapped.slice(1));
  }
  return out;
}

/** The help of one command or group: synopsis, what it does, options (or subcommands), exit codes. */
export function commandHelp(path: readonly string[], spec: CommandSpec): string {
  const lines = [`ucgate ${path.join(' ')} — ${spec.summary}`, '', 'usage:', ...synopsisLines(path, spec).map((l) => `  ${l}`)];
  if (spec.description) lines.push('', ...wrap(spec.description, 0));
  if (spec.subcommands) {
    lines.push('', 'commands:', ...table(spec.subcommands.map((sub) => [sub.name, sub.summary])));
    lines.push('', `\`ucgate ${path.join(' ')} <command> --help\` for a command's options.`);
  } else {
    if (spec.args?.length) lines.push('', 'arguments:', ...table(spec.args.map((arg) => [arg.name, arg.help])));
    lines.push('', 'options:', ...table(optionsOf(spec).map(([name, option]) => [optionLabel(name, option), option.help])));
  }
  lines.push('', 'exit codes:', ...(spec.exitCodes ?? DEFAULT_EXIT_CODES).map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}

/** `ucgate --help`: every command and subcommand, one line each. */
export function mainUsage(): string {
  const rows: [string, string][] = [];
  for (const spec of COMMANDS) {
    if (spec.subcommands) for (const sub of spec.subcommands) rows.push([`${spec.name} ${sub.name}`, sub.summary]);
    else rows.push([spec.name, spec.summary]);
  }
  return [
    `ucgate ${VERSION} — HTTPS gateway for Cisco UCM clusters`,
    '',
    'usage: ucgate <command> [options]',
    '       ucgate <command> --help     what a command does, its options and exit codes (changes nothing)',
    '       ucgate --version',
    '',
    'commands:',
    ...table(rows),
    '',
    'Every command that reads the configuration takes --config FILE (default config/ucgate.yaml;',
    '$UCGATE_CONFIG overrides). Exit codes: 0 ok, 1 runtime failure, 2 bad input.',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- completion

/** Every command path in the table: ['start'], ['cert'], ['cert', 'renew'], ... */
export function commandPaths(specs: readonly CommandSpec[] = COMMANDS, prefix: readonly string[] = []): { path: string[]; spec: CommandSpec }[] {
  return specs.flatMap((spec) => [{ path: [...prefix, spec.name], spec }, ...commandPaths(spec.subcommands ?? [], [...prefix, spec.name])]);
}

const TOP_LEVEL_FLAGS = ['--help', '-h', '--version', '-V'];
const shellWords = (words: readonly string[]) => words.join(' ');

function bashScript(): string {
  const cases: string[] = [];
  for (const { path, spec } of commandPaths()) {
    const key = path.join(' ');
    if (spec.subcommands) {
      cases.push(`    '${key}') words_="${shellWords([...spec.subcommands.map((s) => s.name), '--help'])}" ;;`);
      continue;
    }
    const opts = optionsOf(spec).map(([name]) => `--${name}`);
    const args = spec.args?.flatMap((arg) => arg.complete ?? []) ?? [];
    cases.push(`    '${key}') words_="${shellWords([...args, ...opts])}" ;;`);
  }
  const values: string[] = [];
  const seen = new Set<string>();
  const stringOptions = () => [...seen].map((name) => `--${name}`).join('|');
  for (const { spec } of commandPaths()) {
    for (const [name, option] of spec.subcommands ? [] : optionsOf(spec)) {
      if (option.type !== 'string' || seen.has(name)) continue;
      seen.add(name);
      const action = option.complete === 'file' ? 'COMPREPLY=($(compgen -f -- "$cur"))' : option.complete === 'dir' ? 'COMPREPLY=($(compgen -d -- "$cur"))' : Array.isArray(option.complete) ? `COMPREPLY=($(compgen -W "${shellWords(option.complete)}" -- "$cur"))` : 'COMPREPLY=()';
      values.push(`    --${name}) ${action}; return ;;`);
    }
  }
  return `# bash completion for ucgate ${VERSION}: source <(ucgate completion bash)
_ucgate() {
  local cur prev path_ words_ i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${values.join('\n')}
  esac
  path_=""
  skip_=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip_)); then skip_=0; continue; fi
    case "$w" in
      ${stringOptions()}) skip_=1; continue ;;
      -*) continue ;;
    esac
    if [ -z "$path_" ]; then path_="$w"; continue; fi
    case " $(_ucgate_sub "$path_") " in *" $w "*) path_="$path_ $w" ;; esac
  done
  case "$path_" in
    '') words_="${shellWords([...COMMANDS.map((s) => s.name), ...TOP_LEVEL_FLAGS])}" ;;
${cases.join('\n')}
    *) words_="" ;;
  esac
  COMPREPLY=($(compgen -W "$words_" -- "$cur"))
}
_ucgate_sub() {
  case "$1" in
${COMMANDS.filter((s) => s.subcommands).map((s) => `    ${s.name}) echo "${shellWords(s.subcommands!.map((sub) => sub.name))}" ;;`).join('\n')}
  esac
}
complete -o default -F _ucgate ucgate
`;
}

/** zsh `_arguments` spec of one option: `'--out[folder for ...]:DIR:_files -/'`. */
function zshOption(name: string, option: OptionSpec): string {
  const help = option.help.replace(/[[\]'\\]/g, (c) => (c === "'" ? "'\\''" : `\\${c}`));
  const flags = option.short ? `{-${option.short},--${name}}` : `--${name}`;
  if (option.type === 'boolean') return option.short ? `'(-${option.short} --${name})'${flags}'[${help}]'` : `'${flags}[${help}]'`;
  const action = option.complete === 'file' ? '_files' : option.complete === 'dir' ? '_files -/' : Array.isArray(option.complete) ? `(${option.complete.join(' ')})` : ' ';
  const spec = `[${help}]:${option.value ?? 'value'}:${action}`;
  return option.short ? `'(-${option.short} --${name})'${flags}'${spec}'` : `'${flags}${spec}'`;
}

const zshDescribe = (name: string, summary: string) => `'${name}:${summary.replace(/'/g, "'\\''")}'`;

function zshScript(): string {
  const fn = (path: readonly string[]) => `_ucgate_${path.join('_').replace(/-/g, '_')}`;
  const functions: string[] = [];
  for (const { path, spec } of commandPaths()) {
    if (spec.subcommands) {
      functions.push(`${fn(path)}() {
  local -a cmds
  cmds=(${spec.subcommands.map((sub) => zshDescribe(sub.name, sub.summary)).join(' ')})
  if (( CURRENT == 2 )); then
    _describe -t commands 'ucgate ${path.join(' ')} command' cmds
    return
  fi
  local sub=$words[2]
  shift words; (( CURRENT-- ))
  curcontext="\${curcontext%:*}-$sub:"
  (( $+functions[${fn(path)}_\${sub//-/_}] )) && ${fn(path)}_\${sub//-/_}
}`);
      continue;
    }
    const args = (spec.args ?? []).map((arg) => `'${arg.optional ? ':' : ''}:${arg.name}:${arg.complete ? `(${arg.complete.join(' ')})` : ' '}'`);
    functions.push(`${fn(path)}() {
  _arguments -s ${[...optionsOf(spec).map(([name, option]) => zshOption(name, option)), ...args].join(' \\\n    ')}
}`);
  }
  return `#compdef ucgate
# zsh completion for ucgate ${VERSION}: save as _ucgate in a folder on $fpath, or source <(ucgate completion zsh) after compinit
_ucgate() {
  local -a cmds
  cmds=(${COMMANDS.map((spec) => zshDescribe(spec.name, spec.summary)).join(' ')})
  if (( CURRENT == 2 )); then
    _describe -t commands 'ucgate command' cmds
    _arguments '(- *)'{-h,--help}'[print help]' '(- *)'{-V,--version}'[print the version]'
    return
  fi
  local cmd=$words[2]
  shift words; (( CURRENT-- ))
  curcontext="\${curcontext%:*:*}:ucgate-$cmd:"
  (( $+functions[_ucgate_\${cmd//-/_}] )) && _ucgate_\${cmd//-/_}
}
${functions.join('\n')}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _ucgate "$@"
else
  compdef _ucgate ucgate
fi
`;
}

export function completionScript(shell: 'bash' | 'zsh'): string {
  return shell === 'bash' ? bashScript() : zshScript();
}
