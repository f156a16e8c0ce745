// Walks the UI in a real headless Chromium (Debian's, driven by playwright-core) against a
// running sightline that has received a known workload, and checks what a person would see.
// Run by tests/e2e/ui.rs, which starts the server, sends the workload and passes:
//
//   SIGHTLINE_URL        the query port, e.g. http://127.0.0.1:41234
//   SIGHTLINE_EXPECT     JSON: what the workload holds (see `expect` below)
//   SIGHTLINE_OTLP_URL   the server's OTLP/HTTP base, for records sent while the live tail runs
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
    await page.click(`tr[data-service="${expect.search.service}"] a.traces-link`);
    await page.waitForURL((address) => address.pathname === '/traces' && address.searchParams.get('service') === expect.search.service);
    check(url().searchParams.get('range') === '6h', `the range did not follow: ${page.url()}`);
    await page.waitForSelector('[data-testid=search-results][data-loading=false] [data-testid=results] tbody tr');
  });

  await step('a service name opens its page: health, RED charts, operations, error traces, dependencies', async () => {
    const svc = expect.servicePage;
    // 15 minutes: points every 15 s, so the workload of the last minute is charted (at 6 h a
    // point every 5 min could fall before it).
    await page.goto(`${base}/?range=15m`);
    await page.click(`tr[data-service="${svc.name}"] a.service-link`);
    await page.waitForURL((address) => address.pathname === `/services/${svc.name}` && address.searchParams.get('range') === '15m');
    await page.waitForSelector('[data-testid=service-page][data-loading=false] [data-testid=service-summary]');
    check((await page.locator('[data-testid=service-page] [data-testid=health]').textContent()) === svc.health, 'wrong health badge');
    // Span metrics are stamped when written and the series have a point every 15 s, so the
    // workload's requests show once the next point is due: the page says so until then.
    const chartsBy = Date.now() + 30_000;
    while ((await page.locator('[data-testid=charts]').count()) === 0) {
      check(await page.locator('[data-testid=no-series]').count(), 'neither charts nor a word on why not');
      check(Date.now() < chartsBy, 'no charted points within 30 s');
      await page.waitForTimeout(2_000);
      await page.click('[data-testid=service-page] .controls button');
      await page.waitForSelector('[data-testid=service-page][data-loading=false]');
    }
    for (const chart of ['chart-rate', 'chart-errors', 'chart-latency']) {
      const figure = page.locator(`[data-testid=${chart}]`);
      check(Number(await figure.getAttribute('data-points')) > 0, `${chart} has no points`);
      const box = await figure.locator('canvas').boundingBox();
      check(box && box.width > 200 && box.height > 100, `${chart} is not drawn`);
    }
    const operations = await page.locator('[data-testid=operations] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.operation));
    for (const name of svc.operations) check(operations.includes(name), `operation ${name} missing from ${operations}`);
    const errorTraces = await page.locator('[data-testid=error-traces] tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.traceId));
    check(JSON.stringify([...errorTraces].sort()) === JSON.stringify([...svc.errorTraceIds].sort()), `error traces ${errorTraces}`);
    const upstream = await page.locator('[data-testid=upstream] li').evaluateAll((items) => items.map((item) => item.dataset.peer));
    check(JSON.stringify(upstream) === JSON.stringify(svc.upstream), `upstream ${upstream}`);
    await shot('service');
    await page.click(`[data-testid=error-traces] tr[data-trace-id="${svc.errorTraceIds[0]}"] a.trace-link`);
    await page.waitForURL((address) => address.pathname === `/traces/${svc.errorTraceIds[0]}`);
    await page.waitForSelector('[data-testid=waterfall] .row');
    await page.goBack();
    await page.waitForSelector('[data-testid=upstream] a.peer-link');
    await page.click(`[data-testid=upstream] li[data-peer="${svc.upstream[0]}"] a.peer-link`);
    await page.waitForURL((address) => address.pathname === `/services/${svc.upstream[0]}`);
    await page.waitForSelector('[data-testid=service-page][data-loading=false] [data-testid=downstream] li');
    const downstream = await page
      .locator('[data-testid=downstream] li')
      .evaluateAll((items) => items.map((item) => [item.dataset.peer, Boolean(item.querySelector('a.peer-link'))]));
    for (const [peer, linked] of svc.upstreamDownstream) {
      check(downstream.some(([name, link]) => name === peer && link === linked), `${svc.upstream[0]} calls ${JSON.stringify(downstream)}, expected ${peer} (linked: ${linked})`);
    }
    await page.goto(`${base}/services/no-such-service`);
    const error = await page.locator('[data-testid=error]').textContent();
    check(error.includes('HTTP 404') && error.includes('no-such-service'), `unknown service reads "${error}"`);
    return `${operations.length} operations, ${errorTraces.length} error traces`;
  });

  await step('the dependency map draws nodes by kind and health, and labelled edges', async () => {
    const map = expect.map;
    await page.click('nav a[href="/map"]');
    await page.waitForURL((address) => address.pathname === '/map');
    await page.waitForSelector('[data-testid=map] .map-node');
    const nodes = await page
      .locator('[data-testid=map] .map-node')
      .evaluateAll((found) => Object.fromEntries(found.map((node) => [node.dataset.node, [node.dataset.kind, node.dataset.status, node.getAttribute('class')]])));
    for (const [name, [kind, status]] of Object.entries(map.nodes)) {
      check(nodes[name], `node ${name} missing from ${JSON.stringify(Object.keys(nodes))}`);
      check(nodes[name][0] === kind && (status === null || nodes[name][1] === status), `node ${name} is ${nodes[name]}, expected ${kind} ${status}`);
      check(nodes[name][2].includes(`status-${nodes[name][1]}`), `node ${name} is not coloured as ${nodes[name][1]}`);
      check(nodes[name][2].includes('virtual') === (kind !== 'service'), `node ${name} is not drawn as a ${kind}`);
    }
    const edges = await page.locator('[data-testid=map] .map-edge').evaluateAll((found) => found.map((edge) => edge.dataset.edge));
    for (const [client, server, type] of map.edges) {
      check(edges.includes(`${client}\u2192${server}\u2192${type}`), `edge ${client} → ${server} (${type}) missing from ${edges}`);
    }
    const failing = page.locator(`.map-edge[data-client="${map.failingEdge.client}"][data-server="${map.failingEdge.server}"]`);
    const label = await failing.locator('.edge-label').textContent();
    check(label.includes(map.failingEdge.errorText), `the failing edge reads "${label}"`);
    check((await failing.getAttribute('class')).includes('failing'), 'the failing edge is not marked');
    // Laid out left to right: each client's box left of its server's.
    const x = await page
      .locator('[data-testid=map] .map-node')
      .evaluateAll((found) => Object.fromEntries(found.map((node) => [node.dataset.node, node.getBoundingClientRect().x])));
    for (const [client, server] of map.edges) check(x[client] < x[server], `${client} is not left of ${server}`);
    await shot('map');
    return `${Object.keys(nodes).length} nodes, ${edges.length} edges`;
  });

  await step('clicking an edge opens its figures and links to its traces', async () => {
    const { client, server, errorText } = expect.map.failingEdge;
    await page.click(`.map-edge[data-client="${client}"][data-server="${server}"] .edge-label`);
    await page.waitForURL((address) => address.searchParams.get('from') === client && address.searchParams.get('to') === server);
    const panel = await page.locator('[data-testid=map-panel]').textContent();
    check(panel.includes(`${client} → ${server}`) && panel.includes('Requests') && panel.includes(errorText.replace(' err', '')), `edge panel reads "${panel}"`);
    await shot('map-edge');
    await page.reload();
    await page.waitForSelector('[data-testid=map-panel]');
    await page.click(`[data-testid=edge-traces] a:has-text("${server}")`);
    await page.waitForURL((address) => address.pathname === '/traces' && address.searchParams.get('service') === server);
    await page.waitForSelector('[data-testid=search-results][data-loading=false] [data-testid=results] tbody tr');
    await page.goBack();
    await page.waitForSelector('[data-testid=map-panel]');
  });

  await step('clicking a database node shows what it received; a service node opens its page', async () => {
    await page.click('.map-node[data-node="orders"]');
    await page.waitForURL((address) => address.searchParams.get('node') === 'orders');
    const panel = await page.locator('[data-testid=map-panel]').textContent();
    check(panel.includes('database') && panel.includes('checkout → orders'), `node panel reads "${panel}"`);
    await page.click('.map-node[data-node="checkout"]');
    await page.waitForURL((address) => address.pathname !== '/map');
    check(url().pathname === '/services/checkout', `checkout led to ${page.url()}`);
    await page.waitForSelector('[data-testid=service-page] [data-testid=service-summary]');
    await page.goto(`${base}/map?node=no-such-node`);
    await page.waitForSelector('[data-testid=missing-selection]');
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

  await step('logs: a search for a token finds its record, with a histogram and severity colours', async () => {
    const logs = expect.logs;
    await page.click('nav a[href="/logs"]');
    await page.waitForURL((address) => address.pathname === '/logs');
    await page.fill('[data-testid=logs-form] input[name=q]', logs.token);
    await page.click('[data-testid=logs-form] button[type=submit]');
    await page.waitForURL((address) => address.searchParams.get('q') === logs.token);
    await page.waitForFunction(() => document.querySelector('[data-testid=logs-page][data-loading=false] [data-testid=log-results]'));
    const rows = page.locator('[data-testid=log-results] tr.log-row');
    check((await rows.count()) === 1, `${await rows.count()} records match ${logs.token}`);
    check((await rows.getAttribute('data-severity')) === 'error', 'the record is not marked as an error');
    check((await rows.locator('.severity').getAttribute('class')).includes('sev-error'), 'the severity is not coloured');
    check((await page.locator('[data-testid=histogram]').getAttribute('data-total')) === '1', 'the histogram does not count 1');
    await rows.click();
    const details = await page.locator('[data-testid=log-details]').textContent();
    check(details.includes('payment.provider') && details.includes('stripe') && details.includes(logs.spanId), `details read "${details}"`);
    await shot('logs');
    await rows.locator('a.trace-link').click();
    await page.waitForURL((address) => address.pathname === `/traces/${logs.traceId}` && address.searchParams.get('span') === logs.spanId);
    await page.waitForSelector('[data-testid=span-details]');
  });

  await step('logs: the severity filter, an empty result and a bad query', async () => {
    const logs = expect.logs;
    await page.goto(`${base}/logs?service=checkout&severity=warn`);
    await page.waitForSelector('[data-testid=logs-page][data-loading=false] [data-testid=log-results]');
    const levels = await page.locator('[data-testid=log-results] tr.log-row').evaluateAll((rows) => rows.map((row) => row.dataset.severity));
    check(levels.length === logs.warnOrAbove && levels.every((level) => level === 'warn' || level === 'error'), `severity ≥ warn shows ${levels}`);
    check((await page.locator('[data-testid=logs-form] select[name=severity]').inputValue()) === 'warn', 'the form lost the severity');
    await page.goto(`${base}/logs?q=nosuchtokenanywhere`);
    const empty = await page.locator('[data-testid=empty]').textContent();
    check(empty.includes(':4318/v1/logs'), `the empty state reads "${empty}"`);
    await page.goto(`${base}/logs?q=${encodeURIComponent('AND (')}`);
    const error = await page.locator('[data-testid=error]').first().textContent();
    check(error.includes('HTTP 400') && error.includes('q'), `a bad query reads "${error}"`);
  });

  await step('logs: the live tail shows a record sent after it started', async () => {
    const otlp = requiredEnv('SIGHTLINE_OTLP_URL').replace(/\/$/, '');
    await page.goto(`${base}/logs?q=tailtoken&live=1`);
    await page.waitForSelector('[data-testid=live-tail]');
    const sent = `tailtoken ${Date.now()}`;
    // The stream opens after the page renders; send until the record shows (the tail only sees new records).
    const by = Date.now() + 15_000;
    for (;;) {
      const now = BigInt(Date.now()) * 1_000_000n;
      const response = await fetch(`${otlp}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          resourceLogs: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tailer' } }] },
              scopeLogs: [{ logRecords: [{ timeUnixNano: String(now), severityNumber: 13, body: { stringValue: sent } }] }],
            },
          ],
        }),
      });
      check(response.ok, `sending a log record answered ${response.status}`);
      const found = await page
        .waitForSelector(`[data-testid=tail-results] tr.log-row:has-text("${sent}")`, { timeout: 1_500 })
        .then(() => true, () => false);
      if (found) break;
      check(Date.now() < by, 'the live tail showed nothing within 15 s');
    }
    await shot('logs-tail');
    await page.click('[data-testid=live-toggle]');
    await page.waitForURL((address) => !address.searchParams.has('live'));
  });

  await step('metrics: the PromQL box completes label and metric names, then graphs the query', async () => {
    const metrics = expect.metrics;
    await page.click('nav a[href="/metrics-explorer"]');
    await page.waitForURL((address) => address.pathname === '/metrics-explorer');
    const box = page.locator('[data-testid=metrics-form] textarea[name=query]');
    await box.click();
    await page.keyboard.type('sum by (servic');
    await page.waitForSelector('[data-testid=completions][data-kind=label] li:has-text("service")');
    await page.keyboard.press('Tab');
    await page.keyboard.type(') (rate(traces_span_metrics_ca');
    await page.waitForSelector('[data-testid=completions][data-kind=metric] li:has-text("traces_span_metrics_calls_total")');
    await page.keyboard.press('Tab');
    await page.keyboard.type('[5m]))');
    const typed = await box.inputValue();
    check(typed === metrics.query, `the box reads "${typed}"`);
    await page.keyboard.press('Enter');
    await page.waitForURL((address) => address.searchParams.get('query') === metrics.query);
    await page.waitForSelector('[data-testid=graph-view][data-loading=false] [data-testid=metrics-chart] canvas');
    const drawn = Number(await page.locator('[data-testid=graph-view]').getAttribute('data-series'));
    check(drawn >= metrics.services.length, `${drawn} series drawn`);
    const legend = await page.locator('[data-testid=metrics-chart]').textContent();
    for (const service of metrics.services) check(legend.includes(`service="${service}"`), `the legend lacks ${service}: "${legend}"`);
    await shot('metrics');
  });

  await step('metrics: the table view, the step in the address, and errors in words', async () => {
    const metrics = expect.metrics;
    await page.click('button[data-view=table]');
    await page.waitForURL((address) => address.searchParams.get('view') === 'table');
    await page.waitForSelector('[data-testid=metrics-table] tbody tr');
    const rows = await page.locator('[data-testid=metrics-table] tbody tr').allTextContents();
    for (const service of metrics.services) check(rows.some((row) => row.includes(`service="${service}"`)), `no table row for ${service}: ${rows}`);
    await page.fill('[data-testid=metrics-form] input[name=step]', '30s');
    await page.click('[data-testid=metrics-form] button[type=submit]');
    await page.waitForURL((address) => address.searchParams.get('step') === '30s' && address.searchParams.get('view') === 'table');
    await page.goto(`${base}/metrics-explorer?query=${encodeURIComponent('sum((')}`);
    const error = await page.locator('[data-testid=error]').textContent();
    check(error.includes('HTTP 400') && error.includes('parse error'), `a bad query reads "${error}"`);
    await page.goto(`${base}/metrics-explorer?query=no_such_metric_anywhere`);
    await page.waitForSelector('[data-testid=empty]');
  });

  await step('alerts: a file rule is listed read-only with its pending alert', async () => {
    const alerts = expect.alerts;
    await page.click('nav a[href="/alerts"]');
    await page.waitForURL((address) => address.pathname === '/alerts');
    await page.waitForSelector(`[data-testid=active-alerts] tr[data-alertname="${alerts.fileRule}"][data-state=pending]`);
    const fileRow = page.locator('[data-testid=rules] tr[data-source=file]');
    check((await fileRow.count()) === 1, 'the file rule is not listed');
    const text = await fileRow.textContent();
    check(text.includes(alerts.fileRule) && text.includes('read-only'), `the file rule reads "${text}"`);
    check((await fileRow.locator('button').count()) === 0, 'a file rule offers buttons');
  });

  await step('alerts: the quick form shows the API’s problems next to the fields', async () => {
    const { quick } = expect.alerts;
    await page.click('.mode-tabs button[data-mode=quick]');
    await page.waitForURL((address) => address.searchParams.get('mode') === 'quick');
    await page.fill('[data-testid=rule-form] input[name=name]', 'bad name');
    await page.fill('[data-testid=rule-form] input[name=service]', quick.service);
    await page.click('[data-testid=create-rule]');
    const problems = await page.locator('[data-testid=problems]').textContent();
    check(problems.includes('quick.threshold: is required') && problems.includes('name:'), `problems read "${problems}"`);
    const threshold = await page.locator('label[data-field=threshold] [data-testid=field-problem]').textContent();
    check(threshold.includes('is required'), `the threshold field says "${threshold}"`);
    check((await page.locator('label[data-field=name] [data-testid=field-problem]').count()) === 1, 'no problem next to the name');
    await shot('alerts-problems');
  });

  await step('alerts: test-evaluating the rule shows the alert it would make', async () => {
    const { quick } = expect.alerts;
    await page.fill('[data-testid=rule-form] input[name=name]', quick.name);
    await page.fill('[data-testid=rule-form] input[name=threshold]', quick.threshold);
    await page.click('[data-testid=test-rule]');
    await page.waitForSelector('[data-testid=test-result]');
    check((await page.locator('[data-testid=problems]').count()) === 0, 'problems still shown');
    const count = await page.locator('[data-testid=test-result]').getAttribute('data-alert-count');
    check(count === '1', `the test made ${count} alerts`);
    const row = await page.locator('[data-testid=test-alerts] tbody tr').textContent();
    check(row.includes(`service=${quick.service}`) && row.includes('firing'), `the tested alert reads "${row}"`);
    check((await page.locator(`[data-testid=rules] tr[data-rule="${quick.name}"]`).count()) === 0, 'testing saved the rule');
  });

  await step('alerts: creating, disabling and enabling a rule', async () => {
    const { quick } = expect.alerts;
    await page.click('[data-testid=create-rule]');
    await page.waitForSelector('[data-testid=created]');
    const row = page.locator(`[data-testid=rules] tr[data-rule="${quick.name}"]`);
    await row.waitFor();
    check((await row.getAttribute('data-source')) === 'api', 'the new rule is not an API rule');
    const query = await row.locator('code.query').textContent();
    check(query.includes(`service="${quick.service}"`), `the rule's query is "${query}"`);
    await page.reload();
    await page.waitForSelector(`[data-testid=rules] tr[data-rule="${quick.name}"]`);
    check(url().searchParams.get('mode') === 'quick', 'the form mode did not survive a reload');
    await page.waitForSelector(`[data-testid=active-alerts] tr[data-alertname="${quick.name}"]`, { timeout: 10_000 });
    await row.locator('button.toggle-enabled').click();
    await page.waitForSelector(`[data-testid=rules] tr[data-rule="${quick.name}"][data-enabled=false]`);
    await row.locator('button.toggle-enabled').click();
    await page.waitForSelector(`[data-testid=rules] tr[data-rule="${quick.name}"][data-enabled=true]`);
    await page.waitForSelector(`[data-testid=history] tr[data-rule="${quick.name}"]`, { timeout: 10_000 });
    await shot('alerts');
  });

  await step('alerts: a PromQL rule with a bad expression is refused in words, and a rule is deleted', async () => {
    const { quick } = expect.alerts;
    await page.click('.mode-tabs button[data-mode=promql]');
    await page.waitForURL((address) => !address.searchParams.has('mode'));
    await page.fill('[data-testid=rule-form] input[name=name]', 'Broken');
    await page.fill('[data-testid=rule-form] textarea[name=expr]', 'sum((');
    await page.click('[data-testid=test-rule]');
    const problem = await page.locator('label[data-field=expr] [data-testid=field-problem]').textContent();
    check(problem.startsWith('expr:'), `the expression field says "${problem}"`);
    const row = page.locator(`[data-testid=rules] tr[data-rule="${quick.name}"]`);
    await row.locator('button.delete').click();
    await row.locator('button.confirm-delete').click();
    await page.waitForFunction((name) => !document.querySelector(`[data-testid=rules] tr[data-rule="${name}"]`), quick.name);
    check((await page.locator('[data-testid=rules] tr[data-source=file]').count()) === 1, 'the file rule went too');
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
