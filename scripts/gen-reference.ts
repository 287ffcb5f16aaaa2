/**
 * Writes docs/reference.md: every log event (`event: '...'` in src/) and
 * every error code (the ErrorTable in src/errors.ts), generated from
 * the code so the list cannot drift. test/unit/reference-doc.test.ts
 * regenerates it in memory and fails when the committed file is stale.
 *
 *   npx tsx scripts/gen-reference.ts          # rewrite docs/reference.md
 *   npx tsx scripts/gen-reference.ts --check  # exit 1 if it is stale
 *
 * Sites are named by file, not line, so an edit elsewhere in a file does not
 * make the reference stale; a new, renamed or removed event or code does.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorTable, type ErrorDefinition } from '../src/errors.js';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const REFERENCE_FILE = join(ROOT, 'docs', 'reference.md');

export interface EventSite {
  readonly file: string;
  readonly level: string;
  readonly message: string | undefined;
  readonly fields: readonly string[];
}

export interface ErrorCodeEntry extends ErrorDefinition {
  readonly key: string;
  /** The files besides src/errors.ts that name the code (`ErrorCodes.KEY`). */
  readonly files: readonly string[];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const posix = (path: string) => path.split(sep).join('/');

/** Index just past a string literal that starts at `i` ('...', "...", `...`, with `${}` nesting in templates). */
function skipString(text: string, i: number): number {
  const quote = text[i]!;
  let j = i + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (c === '\\') j += 2;
    else if (c === quote) return j + 1;
    else if (quote === '`' && c === '$' && text[j + 1] === '{') j = skipBalanced(text, j + 1);
    else j += 1;
  }
  return j;
}

/** Index just past the bracket that closes the one at `i` (`{`, `(` or `[`), skipping strings. */
function skipBalanced(text: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const c = text[j]!;
    if (c === "'" || c === '"' || c === '`') {
      j = skipString(text, j);
      continue;
    }
    if (c === '{' || c === '(' || c === '[') depth += 1;
    else if (c === '}' || c === ')' || c === ']') {
      depth -= 1;
      if (depth === 0) return j + 1;
    }
    j += 1;
  }
  return j;
}

/** The top-level keys of the object literal `{...}` (spreads as `...name`), in order. */
function objectKeys(body: string): string[] {
  const keys: string[] = [];
  let start = 1;
  let j = 1;
  const flush = (end: number) => {
    const part = body.slice(start, end).trim();
    if (part === '') return;
    const spread = /^\.\.\.\s*([\w.$]+)/.exec(part);
    const named = /^([\w$]+)\s*(?::|$)/.exec(part);
    const conditional = /^\.\.\.\s*\((?:[^()]|\([^()]*\))*\{\s*([\w$,\s]+?)\s*\}\s*\)$/.exec(part);
    if (conditional) keys.push(...conditional[1]!.split(',').map((key) => `${key.trim()}?`).filter((key) => key !== '?'));
    else if (spread) keys.push(`...${spread[1]}`);
    else if (named) keys.push(named[1]!);
  };
  while (j < body.length - 1) {
    const c = body[j]!;
    if (c === "'" || c === '"' || c === '`') j = skipString(body, j);
    else if (c === '{' || c === '(' || c === '[') j = skipBalanced(body, j);
    else if (c === ',') {
      flush(j);
      start = j + 1;
      j += 1;
    } else j += 1;
  }
  flush(body.length - 1);
  return keys;
}

/** A string literal's text as written (template placeholders kept as `${...}`), or undefined. */
function literalAt(text: string, i: number): string | undefined {
  const c = text[i];
  if (c !== "'" && c !== '"' && c !== '`') return undefined;
  const end = skipString(text, i);
  return text.slice(i + 1, end - 1).replace(/\\(['"`\\])/g, '$1');
}

const LEVEL = '(trace|debug|info|warn|error|fatal)';

/**
 * The level of the log call around the object literal at [open, close): `log.warn({...})`,
 * `log[first ? 'warn' : 'debug']({...})`, or `const fields = {...}` logged just after
 * (`log.error(fields, ...)` / `log.warn(fields, ...)`: every level found, joined with " / ").
 */
function levelOf(text: string, open: number, close: number): string {
  const before = text.slice(Math.max(0, open - 200), open);
  const direct = new RegExp(`\\.${LEVEL}\\s*\\(\\s*$`).exec(before);
  if (direct) return direct[1]!;
  const computed = /\[([^\]]*)\]\s*\(\s*$/.exec(before);
  if (computed) {
    const levels = [...computed[1]!.matchAll(new RegExp(`'${LEVEL}'`, 'g'))].map((m) => m[1]!);
    if (levels.length) return [...new Set(levels)].join(' / ');
  }
  const assigned = /(?:const|let)\s+([\w$]+)\s*=\s*$/.exec(before);
  if (assigned) {
    const after = text.slice(close, close + 600);
    const levels = [...after.matchAll(new RegExp(`\\.${LEVEL}\\s*\\(\\s*${assigned[1]}\\b`, 'g'))].map((m) => m[1]!);
    if (levels.length) return [...new Set(levels)].join(' / ');
  }
  const loose = [...before.matchAll(new RegExp(`\\.${LEVEL}\\s*\\(`, 'g'))].at(-1);
  return loose?.[1] ?? '?';
}

/** Every `event: '...'` in src/, by event name, each with its sites. */
export function collectEvents(root = ROOT): Map<string, EventSite[]> {
  const events = new Map<string, EventSite[]>();
  for (const path of sourceFiles(join(root, 'src'))) {
    const text = readFileSync(path, 'utf8');
    const file = posix(relative(root, path));
    // `event: 'name'`, or a choice between names (`event: draining ? 'node_drained' : 'node_undrained'`).
    for (const match of text.matchAll(/\bevent:\s*([^,}\n]*)/g)) {
      const expression = match[1]!.trim();
      if (!/^[\w.!?\s:'()&|=]*$/.test(expression)) continue;
      const names = [...expression.matchAll(/'([a-z0-9_.-]+)'/g)].map((m) => m[1]!);
      if (names.length === 0) continue;
      const at = match.index;
      const open = text.lastIndexOf('{', at);
      const close = skipBalanced(text, open);
      const level = levelOf(text, open, close);
      const fields = objectKeys(text.slice(open, close)).filter((key) => key !== 'event');
      let k = close;
      while (k < text.length && /\s/.test(text[k]!)) k += 1;
      let message: string | undefined;
      if (text[k] === ',') {
        k += 1;
        while (k < text.length && /\s/.test(text[k]!)) k += 1;
        message = literalAt(text, k);
      }
      const site: EventSite = { file, level, message, fields };
      for (const name of names) {
        const list = events.get(name) ?? [];
        list.push(site);
        events.set(name, list);
      }
    }
  }
  return new Map([...events].sort(([a], [b]) => a.localeCompare(b)));
}

/** The ErrorTable in src/errors.ts, in its order, with the files that raise (or report) each code. */
export function collectErrorCodes(root = ROOT): ErrorCodeEntry[] {
  const users = new Map<string, Set<string>>();
  for (const path of sourceFiles(join(root, 'src'))) {
    const file = posix(relative(root, path));
    if (file === 'src/errors.ts') continue;
    for (const use of readFileSync(path, 'utf8').matchAll(/\bErrorCodes\.([A-Z0-9_]+)/g)) {
      const set = users.get(use[1]!) ?? new Set<string>();
      set.add(file);
      users.set(use[1]!, set);
    }
  }
  return Object.entries(ErrorTable).map(([key, entry]: [string, ErrorDefinition]) => ({ key, ...entry, files: [...(users.get(key) ?? [])].sort() }));
}

export interface OtherCode {
  readonly code: string;
  readonly file: string;
}

/** `'UCGATE_ERR_...'` string literals outside src/errors.ts: codes defined beside the table (there must be none). */
export function collectOtherCodes(root = ROOT): OtherCode[] {
  const found: OtherCode[] = [];
  for (const path of sourceFiles(join(root, 'src'))) {
    const file = posix(relative(root, path));
    if (file === 'src/errors.ts') continue;
    for (const m of readFileSync(path, 'utf8').matchAll(/['"](UCGATE_ERR_[A-Z0-9_]+)['"]/g)) found.push({ code: m[1]!, file });
  }
  return found;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);

/** docs/reference.md's full text. */
export function renderReference(root = ROOT): string {
  const events = collectEvents(root);
  const codes = collectErrorCodes(root);
  const lines: string[] = [
    '# ucgate reference: log events and error codes',
    '',
    '<!-- Generated by scripts/gen-reference.ts from src/ — do not edit by hand.',
    '     Regenerate with `npx tsx scripts/gen-reference.ts`; test/unit/reference-doc.test.ts fails when this file is stale. -->',
    '',
    'Every log line ucgate writes on purpose carries an `event` field (JSON logs: `"event":"upstream_down"`); alert and',
    'search on it, never on the message text, which may be reworded. Every error ucgate raises on purpose carries a',
    '`code` (`UCGATE_ERR_...`), shown by the CLI and in API answers. Both lists below are read from the source.',
    '',
    `## Log events (${events.size})`,
    '',
    'Level: the pino level of the call (`debug` lines appear only with `log.level: debug`). Message: the text of the',
    'line (`${...}` parts are filled in at run time). Fields: the keys besides `event` (`...x`: the fields of `x`).',
    '',
    '| Event | Level | Message | Fields | Source |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const [name, sites] of events) {
    for (const [i, site] of sites.entries()) {
      lines.push(
        `| ${i === 0 ? code(name) : '〃'} | ${site.level} | ${site.message === undefined ? '—' : cell(site.message)} | ${cell(site.fields.join(', ')) || '—'} | ${code(site.file)} |`,
      );
    }
  }
  lines.push(
    '',
    `## Error codes (${codes.length})`,
    '',
    'From the `ErrorTable` in `src/errors.ts`. HTTP: the status a client is answered with when the failure ends its',
    'request (— when no request sees it). Message: its shape (`%s`, `%d`: filled in at run time). Raised in: the files',
    'that use the code (besides `src/errors.ts`). A CLI command that fails exits 2 for bad input (`CONFIG_INVALID`,',
    '`USAGE` and other input errors) and 1 otherwise. Failures of the connection to a node otherwise carry Node\'s own',
    'code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, ...) in `upstream_error` log lines.',
    '',
    '| Code | HTTP | Meaning | Message | Raised in |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const entry of codes) {
    lines.push(
      `| ${code(entry.code)} | ${entry.status ?? '—'} | ${cell(entry.meaning)} | ${code(entry.message)} | ${entry.files.length ? entry.files.map(code).join(', ') : '—'} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = renderReference();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(REFERENCE_FILE, 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== text) {
      process.stderr.write('docs/reference.md is stale: run `npx tsx scripts/gen-reference.ts`\n');
      process.exit(1);
    }
  } else {
    writeFileSync(REFERENCE_FILE, text);
    process.stderr.write(`wrote ${posix(relative(process.cwd(), REFERENCE_FILE))}\n`);
  }
}
