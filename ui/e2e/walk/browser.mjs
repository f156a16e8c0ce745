// The browser the walk drives and what every step uses: the environment, the page, step()
// (one reported check, a screenshot on failure), shot(), check(), and the trace view's helpers.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = requiredEnv('SIGHTLINE_URL').replace(/\/$/, '');
const expect = JSON.parse(requiredEnv('SIGHTLINE_EXPECT'));
const screenshots = process.env.SCREENSHOT_DIR || 'ui-screenshots';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
/** Must match ROW_HEIGHT in src/trace/waterfall.tsx. */
const ROW_HEIGHT = 26;
const TIMEOUT_MS = 15_000;

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`walk.mjs: ${name} is not set (run it through tests/e2e/ui.rs)`);
    process.exit(2);
  }
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

mkdirSync(screenshots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'sightline-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1400, height: 900 },
});
context.setDefaultTimeout(TIMEOUT_MS);
const page = context.pages()[0] ?? (await context.newPage());
const pageErrors = [];
page.on('pageerror', (error) => pageErrors.push(String(error)));
page.on('console', (message) => {
  if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) pageErrors.push(`console: ${message.text()}`);
});

/** Whether a step failed, and the last step started. */
export let failed = false;
export let current = 'start';

async function step(name, body) {
  current = name;
  const started = Date.now();
  try {
    const note = await body();
    console.log(`ok - ${name} (${Date.now() - started} ms)${note ? `: ${note}` : ''}`);
  } catch (error) {
    failed = true;
    console.log(`not ok - ${name}: ${error?.message ?? error}`);
    console.log(`  at ${page.url()}`);
    const file = join(screenshots, `failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.log(`  screenshot: ${file}`);
    throw error;
  }
}

async function shot(name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
}

async function rowCount() {
  return page.locator('[data-testid=waterfall] .row').count();
}

function url() {
  return new URL(page.url());
}

/** The trace view's search box: "k of n matches" and the current match's span id. */
async function searchState() {
  return page.evaluate(() => ({
    count: document.querySelector('[data-testid=match-count]')?.textContent ?? '',
    current: document.querySelector('[data-testid=waterfall] .row.current-match')?.dataset.spanId ?? null,
  }));
}

/** Waits until the search box says `count` with `current` the current match. */
async function waitForSearch(count, current) {
  await page
    .waitForFunction(
      ({ count, current }) =>
        document.querySelector('[data-testid=match-count]')?.textContent === count &&
        (current === undefined || document.querySelector('[data-testid=waterfall] .row.current-match')?.dataset.spanId === current),
      { count, current },
      { timeout: 5_000 },
    )
    .catch(async () => {
      throw new Error(`the search shows ${JSON.stringify(await searchState())}, expected "${count}" at ${current}`);
    });
}

/** The waterfall's scroll: offset, and the largest it can be. */
async function waterfallScroll() {
  return page.locator('.rows-viewport').evaluate((element) => ({ top: element.scrollTop, max: element.scrollHeight - element.clientHeight }));
}

/** Closes the browser and removes its profile. */
async function finish() {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

export { base, expect, page, pageErrors, screenshots, step, shot, check, url, rowCount, searchState, waitForSearch, waterfallScroll, ROW_HEIGHT, TIMEOUT_MS, requiredEnv, finish };
