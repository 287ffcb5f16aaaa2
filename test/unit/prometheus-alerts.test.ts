/**
 * The example alert rules (config/prometheus-alerts.yaml) are valid for
 * Prometheus (`promtool check rules`) and fire as meant on series shaped as
 * ucgate exports them (`promtool test rules`, test/unit/fixtures/
 * prometheus-alerts.rules-test.yaml). promtool ships in Debian's `prometheus`
 * package (`apt-get install prometheus`, CI installs it); without it the test
 * is skipped with that reason.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const RULES = join(REPO, 'config', 'prometheus-alerts.yaml');
const RULES_TEST = join(REPO, 'test', 'unit', 'fixtures', 'prometheus-alerts.rules-test.yaml');

const promtool = process.env.PROMTOOL ?? 'promtool';
const probe = spawnSync(promtool, ['--version'], { encoding: 'utf8' });
const missing = probe.error ? `promtool not found (${(probe.error as NodeJS.ErrnoException).code}): install Debian's prometheus package (apt-get install prometheus), or set PROMTOOL` : undefined;

t.test('promtool check rules config/prometheus-alerts.yaml', { skip: missing }, async (t) => {
  const result = spawnSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8', timeout: 60_000 });
  t.equal(result.status, 0, `promtool accepts the rules\n${result.stdout}${result.stderr}`);
  t.match(result.stdout, /SUCCESS: \d+ rules found/);
});

t.test('promtool test rules: the alerts fire on a fresh gateway\'s series', { skip: missing }, async (t) => {
  const result = spawnSync(promtool, ['test', 'rules', RULES_TEST], { encoding: 'utf8', timeout: 60_000, cwd: REPO });
  t.equal(result.status, 0, `every rule test passes\n${result.stdout}${result.stderr}`);
});
