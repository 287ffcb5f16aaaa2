/**
 * The import rules (.dependency-cruiser.cjs, run by `npm run lint:deps`
 * before the tests): the real src/ keeps them, and each rule fails on a
 * tree that breaks it — so the CI step can fail, and fails for the reason
 * its name gives.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPCRUISE = `${ROOT}node_modules/.bin/depcruise`;
const CONFIG = `${ROOT}.dependency-cruiser.cjs`;

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
}

function run(cwd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(DEPCRUISE, ['src', '--config', CONFIG, ...args], { cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      if (typeof code !== 'number') reject(err);
      else resolve({ code, stdout, stderr });
    });
  });
}

/** As `npm run lint:deps` runs it (its exit code is what fails CI), and the violations as JSON. */
async function cruise(cwd: string): Promise<{ code: number; report: string; violations: readonly Violation[] }> {
  const [plain, json] = await Promise.all([run(cwd, []), run(cwd, ['--output-type', 'json'])]);
  return { code: plain.code, report: plain.stdout + plain.stderr, violations: JSON.parse(json.stdout).summary.violations };
}

t.test('src keeps the rules', async (t) => {
  const { code, report, violations } = await cruise(ROOT);
  t.same(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), []);
  t.equal(code, 0, report);
});

t.test('every rule fails on a tree that breaks it', async (t) => {
  const dir = t.testdir({
    src: {
      control: { 'primary.ts': 'export const primary = 1;\n' },
      acme: { 'issuer.ts': 'export const issuer = 1;\n' },
      // The data plane reaching up for what it needs (the imports issue 19 removed).
      worker: { 'plane.ts': "import { issuer } from '../acme/issuer.js';\nexport const plane = issuer;\n" },
      upstream: { 'probe.ts': "import { primary } from '../control/primary.js';\nexport const probe = primary;\n" },
      admin: { 'status.ts': "import { primary } from '../control/primary.js';\nexport const status = primary;\n" },
      pki: { 'keys.ts': "import { readFileSync } from 'node:fs';\nexport const keys = readFileSync;\n" },
      config: { 'load.ts': "import { createServer } from 'node:http';\nexport const load = createServer;\n" },
      proxy: { 'handler.ts': 'export const handler = 1;\n' },
      store: { 'file.ts': "import { handler } from '../proxy/handler.js';\nexport const file = handler;\n" },
      tls: { 'profile.ts': "import { handler } from '../proxy/handler.js';\nexport const profile = handler;\n" },
      rewrite: {
        'a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
        'b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
        // Closed only by `import type`: erased at compile time, allowed.
        'c.ts': "import type { D } from './d.js';\nexport interface C { d?: D }\n",
        'd.ts': "import type { C } from './c.js';\nexport interface D { c?: C }\n",
      },
    },
  });
  const { code, report, violations } = await cruise(dir);
  t.not(code, 0, 'depcruise exits non-zero: npm test stops');
  t.match(report, /data-plane-not-acme-or-control/, 'and names the rule');
  const found = new Set(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`));
  for (const want of [
    'data-plane-not-acme-or-control: src/worker/plane.ts → src/acme/issuer.ts',
    'data-plane-not-acme-or-control: src/upstream/probe.ts → src/control/primary.ts',
    'admin-not-control: src/admin/status.ts → src/control/primary.ts',
    'nothing-below-control-imports-control: src/admin/status.ts → src/control/primary.ts',
    'pki-does-no-io: src/pki/keys.ts → fs',
    'config-runs-nothing: src/config/load.ts → http',
    'store-knows-no-requests: src/store/file.ts → src/proxy/handler.ts',
    'layer-tls-pki: src/tls/profile.ts → src/proxy/handler.ts',
    'layer-upstream: src/upstream/probe.ts → src/control/primary.ts',
  ]) {
    t.ok(found.has(want), want);
  }
  const cycles = violations.filter((v) => v.rule.name === 'no-circular').map((v) => v.from);
  t.ok(cycles.includes('src/rewrite/a.ts') || cycles.includes('src/rewrite/b.ts'), 'a runtime cycle fails');
  t.notOk(cycles.some((from) => from.endsWith('c.ts') || from.endsWith('d.ts')), 'a cycle of `import type` only does not');
});
