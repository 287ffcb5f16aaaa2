/**
 * docs/reference.md is generated from the code (scripts/gen-reference.ts):
 * every log event and every error code. Regenerated in memory here; a stale
 * file fails with the command that refreshes it.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { collectErrorCodes, collectEvents, REFERENCE_FILE, renderReference } from '../../scripts/gen-reference.js';
import { ErrorCodes } from '../../src/errors.js';

t.test('docs/reference.md is what the generator writes from src/ today', async (t) => {
  const expected = renderReference();
  let actual = '';
  try {
    actual = readFileSync(REFERENCE_FILE, 'utf8');
  } catch {
    // missing: reported below
  }
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const first = e.findIndex((line, i) => line !== a[i]);
    t.fail(`docs/reference.md is stale (first difference at line ${first + 1}: ${JSON.stringify(e[first] ?? '')}): run \`npx tsx scripts/gen-reference.ts\``);
  } else t.pass('up to date');
});

t.test('the generator finds what the code defines', async (t) => {
  const codes = collectErrorCodes();
  t.same(
    codes.map((c) => c.code).sort(),
    Object.values(ErrorCodes).sort(),
    'every ErrorCodes entry is in the reference',
  );
  for (const entry of codes) t.ok(entry.meaning.trim() && entry.message.trim(), `${entry.code} has a meaning and a message`);
  const events = collectEvents();
  for (const name of ['gateway_ready', 'upstream_down', 'upstream_up', 'cert_renewed', 'cucm_trust_waiting_for_confirmation', 'access']) {
    t.ok(events.has(name), `event ${name} found`);
  }
  for (const [name, sites] of events) {
    for (const site of sites) t.not(site.level, '?', `${name} in ${site.file}: the log level is recognised`);
  }
});
