// Walks the UI in a real headless Chromium (Debian's, driven by playwright-core) against a
// running sightline that has received a known workload, and checks what a person would see.
// Run by tests/e2e/ui.rs, which starts the server, sends the workload and passes:
//
//   SIGHTLINE_URL        the query port, e.g. http://127.0.0.1:41234
//   SIGHTLINE_EXPECT     JSON: what the workload holds (see `expect` below)
//   SCREENSHOT_DIR       where the screenshots go (created)
//   CHROMIUM             the browser (default /usr/bin/chromium)
//   SIGHTLINE_AUTH_URL   optional: a second server with authentication on, and
//   SIGHTLINE_AUTH_TOKEN a read token for it
//
// Prints one line per step ("ok - ..." / "not ok - ..."), saves a screenshot per page and one
// of the failing page, and exits 0 only when every step passed.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = requiredEnv('SIGHTLINE_URL').replace(/\/$/, '');
const expect = JSON.parse(requiredEnv('SIGHTLINE_EXPECT'));
const screenshots = process.env.SCREENSHOT_DIR || 'ui-screenshots';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
/** Must match ROW_HEIGHT in src/pages/trace.tsx. */
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

let failed = false;
let current = 'start';

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

try {
  await step('services table lists every service', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('[data-testid=services] tbody tr');
    const names = await page.locator('[data-testid=services] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.service));
    for (const name of expect.services) check(names.includes(name), `service ${name} missing from ${JSON.stringify(names)}`);
    for (const [name, status] of Object.entries(expect.health ?? {})) {
      const badge = page.locator(`tr[data-service="${name}"] [data-testid=health]`);
      check((await badge.textContent()) === status, `${name} shows ${await badge.textContent()}, expected ${status}`);
      check((await badge.getAttribute('class')).includes(`health-${status}`), `${name}'s health is not coloured as ${status}`);
    }
    await shot('services');
    return names.join(', ');
  });

  await step('sorting by a column is kept in the address', async () => {
    await page.click('button[data-sort=name]');
    await page.waitForURL((address) => address.searchParams.get('sort') === 'name');
    const sorted = await page.locator('[data-testid=services] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.service));
    check(JSON.stringify(sorted) === JSON.stringify([...sorted].sort()), `not sorted by name: ${sorted}`);
    await page.click('button[data-sort=name]');
    await page.waitForURL((address) => address.searchParams.get('order') === 'desc');
    const reversed = await page.locator('[data-testid=services] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.service));
    check(JSON.stringify(reversed) === JSON.stringify([...sorted].reverse()), `not reversed: ${reversed}`);
    await page.reload();
    await page.waitForSelector('[data-testid=services] tbody tr');
    const reloaded = await page.locator('[data-testid=services] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.service));
    check(JSON.stringify(reloaded) === JSON.stringify(reversed), `the sort did not survive a reload: ${reloaded}`);
    await page.selectOption('select[name=range]', '6h');
    await page.waitForURL((address) => address.searchParams.get('range') === '6h');
    await page.waitForSelector('[data-testid=services] tbody tr');
  });

  await step('a service links to its trace search', async () => {
    await page.click(`tr[data-service="${expect.search.service}"] a.service-link`);
    await page.waitForURL((address) => address.pathname === '/traces' && address.searchParams.get('service') === expect.search.service);
    check(url().searchParams.get('range') === '6h', `the range did not follow: ${page.url()}`);
    await page.waitForSelector('[data-testid=search-results][data-loading=false] [data-testid=results] tbody tr');
  });

  await step('trace search by service', async () => {
    await page.click('nav a[href="/traces"]');
    await page.waitForURL((address) => address.pathname === '/traces' && address.search === '');
    await page.waitForFunction(
      (name) => [...document.querySelectorAll('select[name=service] option')].some((option) => option.value === name),
      expect.search.service,
    );
    await page.selectOption('select[name=service]', expect.search.service);
    await page.click('[data-testid=search-form] button[type=submit]');
    await page.waitForURL((address) => address.searchParams.get('service') === expect.search.service);
    // Settled on this search: not loading, and every row is a trace through the service.
    await page.waitForFunction(
      ({ service, count }) => {
        if (!document.querySelector('[data-testid=search-results][data-loading=false]')) return false;
        const rows = [...document.querySelectorAll('[data-testid=results] tbody tr')];
        return rows.length === count && rows.every((row) => [...row.querySelectorAll('.chip')].some((chip) => chip.textContent.startsWith(`${service} `)));
      },
      { service: expect.search.service, count: expect.search.traceCount },
    );
    const ids = await page.locator('[data-testid=results] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.traceId));
    check(ids.includes(expect.trace.id), `trace ${expect.trace.id} not among ${ids}`);
    const box = await page.locator('[data-testid=scatter]').boundingBox();
    check(box && box.width > 100 && box.height > 50, 'the scatter plot is not drawn');
    const errorRows = await page.locator('[data-testid=results] tbody tr.has-errors').count();
    check(errorRows === expect.search.errorTraceCount, `${errorRows} results marked with errors, expected ${expect.search.errorTraceCount}`);
    await shot('search');
    return `${ids.length} traces`;
  });

  await step('a result opens the trace view', async () => {
    await page.click(`tr[data-trace-id="${expect.trace.id}"] a.trace-link`);
    await page.waitForURL((address) => address.pathname === `/traces/${expect.trace.id}`);
    await page.waitForSelector('[data-testid=waterfall] .row');
  });

  await step('the waterfall shows every span, the critical path and the errors', async () => {
    const countText = await page.locator('[data-testid=span-count]').textContent();
    check(countText.replace(/\D/g, '') === String(expect.trace.spanCount), `header says "${countText}"`);
    const rows = await rowCount();
    check(rows === expect.trace.spanCount, `${rows} rows, expected ${expect.trace.spanCount}`);
    const critical = await page.locator('.row.critical').evaluateAll((found) => found.map((row) => row.dataset.spanId));
    check(critical.includes(expect.trace.rootSpanId), `the root ${expect.trace.rootSpanId} is not on the critical path: ${critical}`);
    for (const id of expect.trace.criticalSpanIds) check(critical.includes(id), `span ${id} is not marked critical (marked: ${critical})`);
    check((await page.locator('.row.critical .critical-segment').count()) >= critical.length, 'critical rows without segments');
    const errors = await page.locator('.row.error').evaluateAll((found) => found.map((row) => row.dataset.spanId));
    check(JSON.stringify(errors.sort()) === JSON.stringify([...expect.trace.errorSpanIds].sort()), `error rows ${errors}`);
    return `${critical.length} spans on the critical path`;
  });

  await step('clicking a span opens its details', async () => {
    await page.click(`.row[data-span-id="${expect.trace.errorSpanIds[0]}"]`);
    await page.waitForSelector('[data-testid=span-details]');
    await page.waitForURL((address) => address.searchParams.get('span') === expect.trace.errorSpanIds[0]);
    const status = await page.locator('[data-testid=span-status]').textContent();
    check(status.startsWith('error'), `status shows "${status}"`);
    const details = await page.locator('[data-testid=span-details]').textContent();
    for (const text of expect.trace.detailsContain) check(details.includes(text), `details lack "${text}"`);
    await shot('trace');
  });

  await step('collapsing a span hides its subtree', async () => {
    await page.click(`.row[data-span-id="${expect.trace.rootSpanId}"] button.toggle`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=waterfall] .row').length === 1);
    check(url().searchParams.get('collapsed') === expect.trace.rootSpanId, `collapsed not in the address: ${page.url()}`);
    await page.click(`.row[data-span-id="${expect.trace.rootSpanId}"] button.toggle`);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=waterfall] .row').length === count, expect.trace.spanCount);
  });

  await step('reloading the deep link renders the same view', async () => {
    await page.reload();
    await page.waitForSelector('[data-testid=span-details]');
    check((await rowCount()) === expect.trace.spanCount, 'rows missing after reload');
    const selected = await page.locator('.row.selected').getAttribute('data-span-id');
    check(selected === expect.trace.errorSpanIds[0], `selected ${selected} after reload`);
    await page.goto(`${base}/traces/${expect.trace.id}`);
    await page.waitForSelector('[data-testid=waterfall] .row');
    check((await rowCount()) === expect.trace.spanCount, 'rows missing on a fresh load of the deep link');
  });

  await step('span details show attributes, events, links and resource', async () => {
    const rich = expect.richTrace;
    await page.goto(`${base}/traces/${rich.id}?span=${rich.spanId}`);
    await page.waitForSelector('[data-testid=span-details]');
    const details = await page.locator('[data-testid=span-details]').textContent();
    for (const text of rich.detailsContain) check(details.includes(text), `details lack "${text}"`);
    await shot('span-details');
  });

  await step('a 10,000-span trace renders virtualised and scrolls to its end', async () => {
    const big = expect.bigTrace;
    const started = Date.now();
    await page.goto(`${base}/traces/${big.id}`);
    await page.waitForSelector('[data-testid=waterfall] .row');
    const loadedMs = Date.now() - started;
    const total = await page.locator('[data-testid=waterfall]').getAttribute('data-row-count');
    check(total === String(big.spanCount), `waterfall has ${total} rows, expected ${big.spanCount}`);
    const rendered = await rowCount();
    check(rendered > 0 && rendered < 200, `${rendered} rows in the DOM: not virtualised`);
    const scrollStarted = Date.now();
    await page.locator('.rows-viewport').evaluate((element) => {
      element.scrollTop = element.scrollHeight;
    });
    await page.waitForSelector(`.row[data-span-id="${big.lastSpanId}"]`);
    const scrollMs = Date.now() - scrollStarted;
    const lastTop = await page.locator(`.row[data-span-id="${big.lastSpanId}"]`).evaluate((row) => row.style.top);
    check(lastTop === `${(big.spanCount - 1) * ROW_HEIGHT}px`, `the last span sits at ${lastTop}`);
    check((await rowCount()) < 200, 'scrolling rendered too many rows');
    await shot('big-trace-end');
    await page.locator('.rows-viewport').evaluate((element) => {
      element.scrollTop = 0;
    });
    await page.click(`.row[data-span-id="${big.rootSpanId}"] button.toggle`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=waterfall] .row').length === 1);
    return `${big.spanCount} spans: first paint ${loadedMs} ms (load, assemble, render), scroll to the end ${scrollMs} ms, ${rendered} rows in the DOM`;
  });

  await step('API errors are shown in words', async () => {
    await page.goto(`${base}/traces/not-a-trace`);
    const error = await page.locator('[data-testid=error]').textContent();
    check(error.includes('HTTP 400') && error.includes('not-a-trace'), `error reads "${error}"`);
    await page.goto(`${base}/traces?minDuration=soon`);
    const search = await page.locator('[data-testid=error]').textContent();
    check(search.includes('HTTP 400') && search.includes('minDuration'), `search error reads "${search}"`);
    await shot('error');
    await page.goto(`${base}/traces/${'0'.repeat(31)}1`);
    const missing = await page.locator('[data-testid=error]').textContent();
    check(missing.includes('HTTP 404'), `unknown trace reads "${missing}"`);
    await page.goto(`${base}/no/such/page`);
    await page.waitForSelector('[data-testid=not-found]');
  });

  await step('an empty result says how to send data', async () => {
    await page.goto(`${base}/traces?service=${encodeURIComponent(expect.search.service)}&minDuration=1h`);
    const empty = await page.locator('[data-testid=empty]').textContent();
    check(empty.includes(':4318/v1/traces'), `empty state reads "${empty}"`);
  });

  if (process.env.SIGHTLINE_AUTH_URL) {
    await step('with authentication on, the UI asks for a token and then works', async () => {
      const authBase = process.env.SIGHTLINE_AUTH_URL.replace(/\/$/, '');
      await page.goto(`${authBase}/`);
      const error = await page.locator('[data-testid=error]').textContent();
      check(error.includes('HTTP 401'), `without a token the page reads "${error}"`);
      await page.fill('.token-form input[type=password]', requiredEnv('SIGHTLINE_AUTH_TOKEN'));
      await Promise.all([page.waitForEvent('load'), page.click('.token-form button[type=submit]')]);
      await page.waitForSelector('[data-testid=services], [data-testid=empty]');
      check((await page.locator('[data-testid=error]').count()) === 0, 'still an error after entering the token');
      await shot('auth');
    });
  }

  await step('no script errors', async () => {
    check(pageErrors.length === 0, pageErrors.join('\n'));
  });
} catch {
  // Reported by step().
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(failed ? `walk failed at: ${current}` : 'walk passed');
process.exit(failed ? 1 : 0);
