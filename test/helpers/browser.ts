/**
 * Real headless Chromium for end-to-end tests: Debian's /usr/bin/chromium
 * driven by playwright-core (`npx playwright install` cannot download
 * browsers here), launched with the flags from TOOLS.md and a fresh
 * profile folder that is removed in the teardown. Collects console errors
 * and page errors (a CSP violation shows up as one) for the test to assert.
 */
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO } from './gateway.js';

/** Override with UCGATE_CHROMIUM to use another build. */
export const CHROMIUM = process.env.UCGATE_CHROMIUM ?? '/usr/bin/chromium';

/** Exactly the launch flags TOOLS.md gives for these machines. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const;

/** Where screenshots are kept (gitignored; CI uploads it). */
export const ARTIFACTS = join(REPO, 'test', 'artifacts');

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors, in order. */
  readonly errors: string[];
  /** Saves a PNG under test/artifacts/ and returns its path. */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<string>;
}

interface TeardownTarget {
  teardown(fn: () => unknown): void;
}

/** Launches Chromium with a fresh profile; closed and deleted in `t.teardown`. */
export async function launchBrowser(t: TeardownTarget, viewport = { width: 1280, height: 800 }): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (see .ci/run)`);
  const profile = mkdtempSync(join(tmpdir(), 'ucgate-chromium-'));
  // A persistent context is how playwright takes an explicit --user-data-dir; the folder is new, so the profile is fresh.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS],
    headless: true,
    viewport,
    timeout: 30_000,
  });
  t.teardown(async () => {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return {
    context,
    page,
    errors,
    screenshot: async (name, options = {}) => {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, name);
      await page.screenshot({ path, fullPage: options.fullPage ?? false });
      return path;
    },
  };
}
