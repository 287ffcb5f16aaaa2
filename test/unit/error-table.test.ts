/**
 * The error table (src/errors.ts) is the one place codes are defined: every
 * code in it is used in src/, no `UCGATE_ERR_` code is written anywhere else,
 * and the modules a user reaches (CLI, config, certificate import, the store,
 * the admin API) throw coded errors, not bare `Error`s. Grep-style, over the
 * source as it is.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { collectErrorCodes, collectOtherCodes, ROOT } from '../../scripts/gen-reference.js';
import { ErrorCodes, ErrorTable, UcgateError, createError, errorDefinition } from '../../src/errors.js';

t.test('every code in the table is raised somewhere in src/', async (t) => {
  for (const entry of collectErrorCodes()) {
    t.equal(entry.code, `UCGATE_ERR_${entry.key}`, `${entry.key}: the code is the key with its prefix`);
    t.ok(entry.files.length > 0, `${entry.code} is used outside src/errors.ts (ErrorCodes.${entry.key})`);
  }
});

t.test('no code is defined outside the table', async (t) => {
  t.same(collectOtherCodes(), [], "no 'UCGATE_ERR_...' literal in src/ besides src/errors.ts");
});

t.test('each entry: a template, a meaning, and an HTTP status only where a client can get one', async (t) => {
  for (const [key, entry] of Object.entries(ErrorTable) as [string, { message: string; meaning: string; status?: number }][]) {
    t.ok(entry.message.length > 0 && entry.meaning.length > 0, `${key} has a message template and a meaning`);
    if (entry.status !== undefined) t.ok(entry.status >= 400 && entry.status <= 599, `${key}: status ${entry.status} is an error status`);
  }
  const err = createError(ErrorCodes.UPSTREAM_FIRST_BYTE_TIMEOUT, [5000]);
  t.ok(err instanceof UcgateError);
  t.equal(err.message, 'no response head within 5000 ms', 'createError fills the template');
  t.equal(err.httpStatus, 504);
  t.equal(err.exitCode, 1);
  t.equal(createError(ErrorCodes.STORE_IO, ['redis', 'boom']).httpStatus, undefined);
  t.equal(errorDefinition(ErrorCodes.USAGE).code, 'UCGATE_ERR_USAGE');
  t.equal(Object.isFrozen(ErrorCodes), true);
});

/**
 * Bare `new Error(...)` left in the modules a user reaches (the start of each, as matched), each for a reason:
 * the error never leaves the module as such, or is given a code on its way out.
 */
const ALLOWED_BARE: Readonly<Record<string, string>> = {
  // A socket destroy reason; the request's error handler answers `undefined` ("gateway unreachable").
  'src/cli/admin-client.ts': "new Error('timeout')",
  // fs's ENOENT, on purpose: the caching and encrypted layers treat Redis and files alike by err.code.
  'src/store/redis-storage.ts': 'new Error(`not in the store: ${key}`)',
  // Thrown inside the connect promise; toStoreError turns it into STORE_UNAVAILABLE on the way out.
  'src/store/redis-client.ts': 'new Error(`not connected (${status})`)',
  // Runs in the browser (the dashboard's script).
  'src/admin/dashboard-script.ts': "new Error('HTTP ' + res.status)",
  // Wraps a non-Error thrown by a history reader, shown in the dashboard as its message.
  'src/admin/dashboard-routes.ts': 'new Error(String(err)',
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

t.test('no bare Error on a path a user reaches (CLI, config, certificates, store, admin API)', async (t) => {
  const found: string[] = [];
  for (const area of ['cli', 'config', 'certificates', 'store', 'admin', 'issuers', 'pki']) {
    for (const path of files(join(ROOT, 'src', area))) {
      const file = relative(ROOT, path).split('\\').join('/');
      for (const m of readFileSync(path, 'utf8').matchAll(/new (?:Type|Range)?Error\([^\n]*?\)(?=[),;\s])/g)) {
        if (ALLOWED_BARE[file] !== undefined && m[0].startsWith(ALLOWED_BARE[file]!)) continue;
        found.push(`${file}: ${m[0]}`);
      }
    }
  }
  t.same(found, [], 'every error thrown there carries a code from src/errors.ts');
});
