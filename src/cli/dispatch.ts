/**
 * argv → the command table (commands.ts) → the command's `run`.
 *
 * Everything about the command line is settled here before any command
 * module is loaded: `--help`/`-h` anywhere (before `--`) prints the help and
 * returns 0, an unknown option or a missing value returns 2 naming it, and
 * only then is `run` called, which is the first thing that may read the
 * config or touch the store.
 */
import { parseArgs } from 'node:util';
import { COMMANDS, COMMON_OPTIONS, type CommandSpec, type OptionValue } from './commands.js';
import { commandHelp, mainUsage, optionsOf } from './help.js';
import { VERSION } from '../version.js';
import type { RunningGateway } from './start.js';

const HELP = new Set(['--help', '-h']);
const VERSION_FLAGS = new Set(['--version', '-V']);

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= (best.length >= 4 ? 2 : 1) ? best : undefined;
}

/** `ucgate cert renew: <message> (see ucgate cert renew --help)` on stderr; returns 2. */
export function usageError(path: readonly string[], message: string): number {
  const name = ['ucgate', ...path].join(' ');
  process.stderr.write(`${name}: ${message} (see ${name} --help)\n`);
  return 2;
}

/** Whether `--help`/`-h` is among the arguments (before a `--` terminator): help wins over everything else. */
const asksHelp = (args: readonly string[]) => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((arg) => HELP.has(arg));
};

type Parsed = { values: Record<string, OptionValue>; args: string[] } | { error: string };

/** node:util parseArgs over the command's options, with every check strict mode makes, in the CLI's own words. */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): Parsed {
  const known = Object.fromEntries(optionsOf(spec));
  // --config is accepted everywhere (the contract), even where help does not list it.
  const options = { ...COMMON_OPTIONS, ...known };
  const parsed = parseArgs({
    args: [...argv],
    options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short && { short: o.short }) }])),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) {
      const longs = Object.keys(options).map((name) => `--${name}`);
      const guess = token.rawName.startsWith('--') ? closest(token.rawName, longs) : undefined;
      return { error: `unknown option ${token.rawName}${guess ? `, did you mean ${guess}?` : ''}` };
    }
    const label = `--${token.name}`;
    if (option.type === 'string') {
      if (token.value === undefined) return { error: `option ${label} needs a value (${label} ${option.value ?? 'VALUE'})` };
      if (!token.inlineValue && token.value.startsWith('-')) {
        return { error: `option ${label} needs a value, not the option ${token.value} (write ${label}=${token.value} if that is the value)` };
      }
    } else if (token.inlineValue) return { error: `option ${label} takes no value` };
  }
  const args = parsed.positionals;
  const wanted = spec.args ?? [];
  if (args.length > wanted.length && !wanted[wanted.length - 1]?.repeats) return { error: `unexpected argument ${JSON.stringify(args[wanted.length])}` };
  const missing = wanted.slice(args.length).find((arg) => !arg.optional);
  if (missing) return { error: `missing ${missing.name} (${missing.help})` };
  return { values: parsed.values as Record<string, OptionValue>, args };
}

/** The spec at `path` (e.g. ['cert', 'renew']), or undefined. */
export function findCommand(path: readonly string[]): CommandSpec | undefined {
  let specs: readonly CommandSpec[] | undefined = COMMANDS;
  let spec: CommandSpec | undefined;
  for (const name of path) {
    spec = specs?.find((candidate) => candidate.name === name);
    if (!spec) return undefined;
    specs = spec.subcommands;
  }
  return spec;
}

/**
 * Runs the command line `argv` (without node and the script): the exit code,
 * or a running gateway (`start`, `demo`) for the caller to hold until a signal.
 */
export async function dispatch(argv: readonly string[]): Promise<number | RunningGateway> {
  const [first] = argv;
  if (first === undefined || HELP.has(first)) return (process.stdout.write(mainUsage()), 0);
  if (VERSION_FLAGS.has(first)) return (process.stdout.write(`ucgate ${VERSION}\n`), 0);
  if (first.startsWith('-')) {
    // `ucgate --config x start` and the like: options go after the command.
    return usageError([], `unknown option ${first} before the command`);
  }
  const path: string[] = [];
  let specs: readonly CommandSpec[] = COMMANDS;
  let args = argv;
  /** `--config FILE` given between a group and its command (`ucgate cert --config F status`): passed on to the command. */
  const carried: string[] = [];
  for (;;) {
    const parent = path.length === 0 ? undefined : findCommand(path);
    const at = args.findIndex((arg) => specs.some((candidate) => candidate.name === arg));
    if (parent && asksHelp(at < 0 ? args : args.slice(0, at))) {
      // `ucgate cert --help`, `ucgate cert -h status`: the group's help.
      return (process.stdout.write(commandHelp(path, parent)), 0);
    }
    while (parent && args[0]?.startsWith('-')) {
      const take = args[0] === '--config' && args[1] !== undefined ? 2 : args[0].startsWith('--config=') ? 1 : 0;
      if (take === 0) return usageError(path, `unknown option ${args[0]}`);
      carried.push(...args.slice(0, take));
      args = args.slice(take);
    }
    const name = args[0];
    if (name === undefined) {
      // A group without its command: `ucgate cert`.
      process.stderr.write(commandHelp(path, parent!));
      return usageError(path, 'needs a command');
    }
    const spec = specs.find((candidate) => candidate.name === name);
    if (!spec) {
      const guess = closest(name, specs.map((candidate) => candidate.name));
      return usageError(path, `unknown command ${name}${guess ? `, did you mean ${guess}?` : ''}`);
    }
    path.push(name);
    args = args.slice(1);
    if (!spec.subcommands) {
      args = [...args, ...carried];
      if (asksHelp(args)) return (process.stdout.write(commandHelp(path, spec)), 0);
      const parsed = parseCommandArgs(spec, args);
      if ('error' in parsed) return usageError(path, parsed.error);
      return spec.run!({ values: parsed.values, args: parsed.args, usageError: (message) => usageError(path, message) });
    }
    specs = spec.subcommands;
  }
}
