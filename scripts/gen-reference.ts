/**
 * Writes docs/reference.md: every log event (`event: '...'` in src/) and
 * every error code (the ErrorCodes table in src/errors.ts), generated from
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

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const REFERENCE_FILE = join(ROOT, 'docs', 'reference.md');

export interface EventSite {
  readonly file: string;
  readonly level: string;
  readonly message: string | undefined;
  readonly fields: readonly string[];
}

export interface ErrorCodeEntry {
  readonly key: string;
  readonly code: string;
  readonly doc: string | undefined;
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

/** The ErrorCodes table in src/errors.ts, with each key's doc comment and the files that raise it. */
export function collectErrorCodes(root = ROOT): ErrorCodeEntry[] {
  const text = readFileSync(join(root, 'src', 'errors.ts'), 'utf8');
  const start = text.indexOf('export const ErrorCodes');
  if (start < 0) throw new Error('src/errors.ts: no `export const ErrorCodes` table');
  const open = text.indexOf('{', start);
  const body = text.slice(open, skipBalanced(text, open));
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
  const entries: ErrorCodeEntry[] = [];
  for (const m of body.matchAll(/(?:\/\*\*([\s\S]*?)\*\/\s*)?\b([A-Z0-9_]+):\s*'([A-Z0-9_]+)'/g)) {
    const doc = m[1]
      ?.split('\n')
      .map((line) => line.replace(/^\s*\*\s?/, '').trim())
      .filter(Boolean)
      .join(' ');
    entries.push({ key: m[2]!, code: m[3]!, doc: doc || undefined, files: [...(users.get(m[2]!) ?? [])].sort() });
  }
  return entries;
}

/**
 * Meanings for the codes src/errors.ts has no doc comment for. A doc comment in
 * src/errors.ts wins; the unit test fails for a code that has neither, so a new
 * code cannot reach the reference without a meaning.
 */
export const CODE_NOTES: Readonly<Record<string, string>> = {
  CONFIG_INVALID: 'The configuration fails validation: one `path.to.key: problem` line per problem (`ucgate check` lists them). Exit 2.',
  CONFIG_READ: 'The configuration file cannot be read (missing, unreadable).',
  STORE_IO: 'Reading or writing the certificate store (files under certificates.dir, or Redis) failed.',
  CERT_INVALID: 'A certificate or key that cannot be parsed or used.',
  CERT_MISSING: 'No certificate where one is needed (nothing served or imported yet, nothing to export).',
  CERT_PKCS12_PASSPHRASE: 'A PKCS#12 file whose passphrase is missing or wrong.',
  CERT_KEY_MISMATCH: 'The private key does not belong to the certificate.',
  CERT_KEY_WEAK: 'The certificate\'s key is too weak to serve.',
  CERT_NAME_MISMATCH: 'The certificate does not cover the names the gateway must answer for (gateway.fqdn and the configured names).',
  CERT_EXPIRED: 'The certificate has expired.',
  CERT_NOT_YET_VALID: 'The certificate is not valid yet (notBefore in the future; check the clock).',
  CERT_CHAIN: 'The chain does not lead from the leaf to its issuer (an intermediate missing or out of order).',
  CERT_USAGE: 'Key usage or extended key usage does not allow a TLS server certificate.',
  CERT_NO_PREVIOUS: '`cert rollback` with no previous certificate to go back to.',
  ISSUER_UNSUPPORTED: 'An issuer type this build does not support.',
  ROUTE_NOT_FOUND: 'Reserved: no route matches the request path.',
  ROUTE_METHOD: 'Reserved: the route does not allow the request method.',
  ROUTE_DENIED: 'Reserved: the path is denied (administration paths never pass).',
  ROUTE_BAD_PATH: 'Reserved: a request path that cannot be routed safely.',
  UPSTREAM_NO_NODE: 'Reserved: no node of the cluster can take the request.',
  UPSTREAM_CONNECT: 'Reserved: the connection to a CUCM node failed.',
  UPSTREAM_TLS: 'Reserved: the TLS handshake with a CUCM node failed.',
  UPSTREAM_TIMEOUT: 'Reserved: a CUCM node did not answer in time.',
  UPSTREAM_RESET: 'Reserved: a CUCM node closed or reset the connection under a request.',
  USAGE: 'A command line that is wrong (unknown flag, missing or conflicting arguments). Exit 2.',
};

/** Meanings for codes outside the table that have no doc comment where they are defined (same rule as CODE_NOTES). */
export const OTHER_CODE_NOTES: Readonly<Record<string, string>> = {
  UCGATE_ERR_NO_LIVE_REQUEST: 'Internal: a connection to a node was about to open with no request waiting for it, so it is not opened.',
  UCGATE_ERR_UPSTREAM_CONNECT_TIMEOUT: 'The TCP/TLS connection to a node did not complete within clusters[].timeouts.connectMs.',
  UCGATE_ERR_UPSTREAM_FIRST_BYTE_TIMEOUT: 'A node accepted the request but sent no response head within clusters[].timeouts.firstByteMs (504).',
};

export interface OtherCode {
  readonly code: string;
  readonly doc: string | undefined;
  readonly file: string;
}

/** `'UCGATE_ERR_...'` string constants defined outside the ErrorCodes table (upstream failure codes in `upstream_error` lines, ...). */
export function collectOtherCodes(root = ROOT, known: ReadonlySet<string> = new Set()): OtherCode[] {
  const found = new Map<string, OtherCode>();
  for (const path of sourceFiles(join(root, 'src'))) {
    const file = posix(relative(root, path));
    if (file === 'src/errors.ts') continue;
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(/(?:\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*)?^[^\n'"]*?'(UCGATE_ERR_[A-Z0-9_]+)'/gm)) {
      const code = m[2]!;
      if (known.has(code) || found.has(code)) continue;
      const doc = m[1]
        ?.split('\n')
        .map((line) => line.replace(/^\s*\*\s?/, '').trim())
        .filter(Boolean)
        .join(' ');
      found.set(code, { code, doc: doc || undefined, file });
    }
  }
  return [...found.values()].sort((a, b) => a.code.localeCompare(b.code));
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
    'From the `ErrorCodes` table in `src/errors.ts`. Raised in: the files that use the code (besides `src/errors.ts`).',
    'A CLI command that fails exits 2 for bad input (`CONFIG_INVALID`, `USAGE` and other input errors) and 1 otherwise.',
    '',
    'Raised in "—": defined for callers to branch on, not raised by name anywhere in `src/` today.',
    '',
    '| Code | Meaning | Raised in |',
    '| --- | --- | --- |',
  );
  for (const entry of codes) {
    const meaning = entry.doc ?? CODE_NOTES[entry.key];
    lines.push(`| ${code(entry.code)} | ${meaning ? cell(meaning) : '—'} | ${entry.files.length ? entry.files.map(code).join(', ') : '—'} |`);
  }
  const others = collectOtherCodes(root, new Set(codes.map((c) => c.code)));
  lines.push(
    '',
    `### Other codes (${others.length})`,
    '',
    'Codes defined outside the table, in the module that uses them: the `code` field of `upstream_error` log lines and',
    'similar. Failures of the connection to a node otherwise carry Node\'s own code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, ...).',
    '',
    '| Code | Meaning | Defined in |',
    '| --- | --- | --- |',
  );
  for (const other of others) lines.push(`| ${code(other.code)} | ${(other.doc ?? OTHER_CODE_NOTES[other.code]) ? cell((other.doc ?? OTHER_CODE_NOTES[other.code])!) : '—'} | ${code(other.file)} |`);
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
