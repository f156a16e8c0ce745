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
    // A sparkline per service (its request rate); `rate` needs two flushes of a series, so
    // refresh a few times if the first answer came too early.
    const missing = async () => {
      const drawn = await page.locator('[data-testid=services] tbody tr').evaluateAll((rows) =>
        rows.filter((row) => /^M[0-9.]+ [0-9.]+L/.test(row.querySelector('[data-testid=sparkline] path.sparkline-rate')?.getAttribute('d') ?? '')).map((row) => row.dataset.service),
      );
      return expect.services.filter((name) => !drawn.includes(name));
    };
    for (let attempt = 0; attempt < 5 && (await missing()).length; attempt += 1) {
      await page.waitForTimeout(1000);
      await page.click('button:has-text("Refresh")');
      await page.waitForSelector('[data-testid=services] tbody tr');
    }
    const undrawn = await missing();
    check(undrawn.length === 0, `no sparkline for ${undrawn.join(', ')}`);
    // The unhealthy service failed requests (drawn in red), the healthy one none.
    for (const [name, status] of Object.entries(expect.health ?? {})) {
      const failing = await page.locator(`tr[data-service="${name}"] [data-testid=sparkline]`).getAttribute('data-failing');
      check(failing === String(status === 'unhealthy'), `${name}'s sparkline says failing=${failing}`);
      if (failing === 'true') check((await page.locator(`tr[data-service="${name}"] path.sparkline-errors`).count()) === 1, `${name} has no red area`);
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
    // The edge's own traces: the search filtered to calls from the client to the server.
    await page.click('[data-testid=edge-traces] .edge-call-link');
    await page.waitForURL(
      (address) => address.pathname === '/traces' && address.searchParams.get('service') === client && address.searchParams.get('peerService') === server,
    );
    await page.waitForSelector('[data-testid=search-results][data-loading=false] [data-testid=results] tbody tr');
    const rows = await page.locator('[data-testid=results] tbody tr').allTextContents();
    check(rows.length > 0 && rows.every((row) => row.includes(client) && row.includes(server)), `edge search rows: ${JSON.stringify(rows)}`);
    check((await page.inputValue('input[name=peerService]')) === server, 'the search form shows the edge filter');
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

  await step('the trace’s logs are listed below the waterfall and lead to their spans', async () => {
    const { id, logs, rootSpanId } = expect.trace;
    const errorLog = logs.find(([, severity]) => severity === 'error');
    await page.goto(`${base}/traces/${id}`);
    await page.waitForSelector('[data-testid=trace-logs][data-loading=false] [data-testid=trace-log-list]');
    const listed = await page
      .locator('[data-testid=trace-log-list] .trace-log')
      .evaluateAll((rows) =>
        rows.map((row) => [row.dataset.spanId, row.dataset.severity, row.querySelector('.log-service').textContent, row.querySelector('.log-body').textContent]),
      );
    check(listed.length === logs.length, `${listed.length} records listed, expected ${logs.length}: ${JSON.stringify(listed)}`);
    logs.forEach(([spanId, severity, service, body], index) => {
      const [shownSpan, shownSeverity, shownService, shownBody] = listed[index];
      check(
        shownSpan === spanId && shownSeverity === severity && shownService === service && shownBody.includes(body),
        `record ${index} reads ${JSON.stringify(listed[index])}, expected ${JSON.stringify(logs[index])}`,
      );
    });
    check((await page.locator('[data-testid=trace-log-list] .trace-log .severity.sev-error').count()) === 1, 'the error record is not coloured');
    check((await page.locator('[data-testid=logs-toggle]').textContent()) === `Logs (${logs.length})`, 'the toggle does not count the records');
    const mark = await page.locator(`.row[data-span-id="${errorLog[0]}"] .log-mark`).textContent();
    check(mark === '1 log', `the span with a record is marked "${mark}"`);
    // A record with a span selects it in the waterfall, and is highlighted as the selected span's.
    await page.click(`[data-testid=trace-log-list] .trace-log[data-span-id="${errorLog[0]}"]`);
    await page.waitForURL((address) => address.searchParams.get('span') === errorLog[0]);
    await page.waitForSelector(`[data-testid=waterfall] .row.selected[data-span-id="${errorLog[0]}"]`);
    await page.waitForSelector('[data-testid=span-details]');
    const highlighted = await page.locator('[data-testid=trace-log-list] .trace-log.of-selected').evaluateAll((rows) => rows.map((row) => row.dataset.spanId));
    check(JSON.stringify(highlighted) === JSON.stringify([errorLog[0]]), `highlighted records: ${highlighted}`);
    // Only the selected span's records; selecting another span in the waterfall follows it.
    await page.click('[data-testid=trace-logs] button[data-logs-mode=span]');
    await page.waitForURL((address) => address.searchParams.get('logs') === 'span');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=trace-log-list] .trace-log').length === 1);
    await shot('trace-logs');
    await page.click(`[data-testid=waterfall] .row[data-span-id="${rootSpanId}"] .span-name`);
    await page.waitForURL((address) => address.searchParams.get('span') === rootSpanId);
    await page.waitForFunction(
      (root) => [...document.querySelectorAll('[data-testid=trace-log-list] .trace-log')].map((row) => row.dataset.spanId).join() === root,
      rootSpanId,
    );
    await page.reload();
    await page.waitForSelector('[data-testid=trace-logs][data-loading=false] [data-testid=trace-log-list]');
    check((await page.locator('[data-testid=trace-log-list] .trace-log').count()) === 1, 'the narrowed list did not survive a reload');
    await page.click('[data-testid=logs-toggle]');
    await page.waitForURL((address) => address.searchParams.get('logs') === 'off');
    check((await page.locator('[data-testid=trace-logs]').count()) === 0, 'the hidden panel still shows');
    // A trace without correlated records says so, and how records get correlated.
    await page.goto(`${base}/traces/${expect.richTrace.id}`);
    const empty = await page.locator('[data-testid=trace-logs] [data-testid=empty]').textContent();
    check(empty.includes('No logs for this trace') && empty.includes('traceId') && empty.includes('spanId'), `the empty state reads "${empty}"`);
    return `${listed.length} records`;
  });

  await step('search within the trace counts matches, steps through them and expands collapsed spans', async () => {
    const { id, find, findAttribute, rootSpanId, spanCount } = expect.trace;
    const [first, second] = find.spanIds;
    const box = '[data-testid=trace-search] input';
    await page.goto(`${base}/traces/${id}?logs=off`);
    await page.waitForSelector('[data-testid=waterfall] .row');
    await page.fill(box, find.text);
    await page.waitForURL((address) => address.searchParams.get('find') === find.text);
    await waitForSearch(`1 of ${find.spanIds.length} matches`, first);
    const matched = await page.locator('[data-testid=waterfall] .row.match').evaluateAll((rows) => rows.map((row) => row.dataset.spanId));
    check(JSON.stringify(matched) === JSON.stringify(find.spanIds), `rows marked as matches: ${matched}`);
    await page.press(box, 'Enter');
    await waitForSearch(`2 of ${find.spanIds.length} matches`, second);
    await page.press(box, 'Enter');
    await waitForSearch(`1 of ${find.spanIds.length} matches`, first);
    await page.press(box, 'Shift+Enter');
    await waitForSearch(`2 of ${find.spanIds.length} matches`, second);
    await shot('trace-search');
    // Collapsing the root hides the matches; going to one expands its ancestors.
    await page.click(`.row[data-span-id="${rootSpanId}"] button.toggle`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=waterfall] .row').length === 1);
    await page.click('[data-testid=previous-match]');
    await waitForSearch(`1 of ${find.spanIds.length} matches`, first);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=waterfall] .row').length === count, spanCount);
    check(!url().searchParams.has('collapsed'), `the root is still collapsed: ${page.url()}`);
    // Attribute values match too, whatever their case; a miss says so.
    await page.fill(box, findAttribute.text);
    await waitForSearch('1 of 1 match', findAttribute.spanId);
    await page.fill(box, 'no such span anywhere');
    await waitForSearch('no matches');
    check((await page.locator('[data-testid=waterfall] .row.match').count()) === 0, 'rows marked without a match');
    check((await page.locator('[data-testid=next-match]').isDisabled()) === true, 'next is offered without matches');
    // The search is part of the address.
    await page.goto(`${base}/traces/${id}?find=${encodeURIComponent(find.text)}`);
    await waitForSearch(`1 of ${find.spanIds.length} matches`, first);
    check((await page.inputValue(box)) === find.text, 'the box lost the search text');
    return `"${find.text}": ${find.spanIds.length} matches`;
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

  await step('the minimap draws the 10,000-span trace and scrolls the waterfall', async () => {
    const big = expect.bigTrace;
    await page.goto(`${base}/traces/${big.id}`);
    const canvas = page.locator('[data-testid=minimap] canvas');
    await page.waitForSelector('[data-testid=minimap] canvas[data-bars]');
    const bars = await canvas.getAttribute('data-bars');
    check(bars === String(big.spanCount), `the minimap drew ${bars} bars, expected ${big.spanCount}`);
    // The root spans the whole trace (the first line, across); the last spans end it (the
    // last line, at the right): bars are placed by time and row.
    const drawn = await canvas.evaluate((element) => {
      const pixels = element.getContext('2d').getImageData(0, 0, element.width, element.height).data;
      const painted = (x, y) => pixels[(y * element.width + x) * 4 + 3] > 0;
      const line = (y) => Array.from({ length: element.width }, (_, x) => painted(x, y));
      const first = line(0);
      const last = line(element.height - 1);
      return { width: element.width, firstLine: first.filter(Boolean).length, lastLineFrom: last.indexOf(true) };
    });
    check(drawn.firstLine > drawn.width * 0.9, `the root's line is ${drawn.firstLine} of ${drawn.width} pixels`);
    check(drawn.lastLineFrom > drawn.width * 0.9, `the last line starts at ${drawn.lastLineFrom} of ${drawn.width} pixels`);
    const area = await canvas.boundingBox();
    check(area && area.width > 300 && area.height >= 40, `the minimap is ${JSON.stringify(area)}`);
    const rectangle = () => page.locator('[data-testid=minimap-viewport]').boundingBox();
    const start = await rectangle();
    check(start && Math.abs(start.y - area.y) < 2, `the viewport rectangle starts at ${start?.y}, the minimap at ${area.y}`);
    // A click at the minimap's end shows the trace's last rows.
    await page.mouse.click(area.x + area.width / 2, area.y + area.height - 1);
    await page.waitForFunction(() => {
      const element = document.querySelector('.rows-viewport');
      return element.scrollTop > 0 && element.scrollTop >= element.scrollHeight - element.clientHeight - 1;
    });
    await page.waitForSelector(`.row[data-span-id="${big.lastSpanId}"]`);
    const end = await rectangle();
    check(Math.abs(end.y + end.height - (area.y + area.height)) < 2, `the viewport rectangle ends at ${end.y + end.height}, the minimap at ${area.y + area.height}`);
    check((await rowCount()) < 200, 'scrolling by the minimap rendered too many rows');
    await shot('trace-minimap');
    // Dragging the rectangle to the middle scrolls the waterfall to the middle.
    await page.mouse.move(area.x + area.width / 2, end.y + end.height / 2);
    await page.mouse.down();
    await page.mouse.move(area.x + area.width / 2, area.y + area.height / 2, { steps: 8 });
    await page.mouse.up();
    const middle = await waterfallScroll();
    check(middle.top / middle.max > 0.4 && middle.top / middle.max < 0.6, `dragging to the middle scrolled to ${middle.top} of ${middle.max}`);
    return `${bars} bars on a ${drawn.width}-pixel-wide canvas`;
  });

  await step('search within the 10,000-span trace counts its matches and reveals a collapsed span at the end', async () => {
    const big = expect.bigTrace;
    const box = '[data-testid=trace-search] input';
    await page.goto(`${base}/traces/${big.id}?collapsed=${big.rootSpanId}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=waterfall] .row').length === 1);
    await page.fill(box, big.lastSpanId);
    await waitForSearch('1 of 1 match', big.lastSpanId);
    check(!url().searchParams.has('collapsed'), `the root is still collapsed: ${page.url()}`);
    const scroll = await waterfallScroll();
    check(scroll.top > 0 && scroll.top === scroll.max, `the waterfall is at ${scroll.top} of ${scroll.max}, not at the end where the match is`);
    const started = Date.now();
    await page.fill(box, big.leafName);
    await waitForSearch(`1 of ${big.leafCount.toLocaleString('en-US')} matches`);
    const countMs = Date.now() - started;
    return `${big.leafCount} matches counted and shown in ${countMs} ms`;
  });

  await step('logs: a search for a token finds its record, with a histogram and severity colours', async () => {
    const logs = expect.logs;
    await page.click('nav a[href="/logs"]');
    await page.waitForURL((address) => address.pathname === '/logs');
    await page.fill('[data-testid=logs-form] input[name=q]', logs.token);
    await page.click('[data-testid=logs-form] button[type=submit]');
    await page.waitForURL((address) => address.searchParams.get('q') === logs.token);
    await page.waitForFunction(() => document.querySelector('[data-testid=logs-page][data-loading=false] [data-testid=log-results]'));
    check((await page.locator('[data-testid=query-mode]').getAttribute('data-mode')) === 'native', 'a word is not read as the native syntax');
    const rows = page.locator('[data-testid=log-results] .log-row');
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
    const levels = await page.locator('[data-testid=log-results] .log-row').evaluateAll((rows) => rows.map((row) => row.dataset.severity));
    check(levels.length === logs.warnOrAbove && levels.every((level) => level === 'warn' || level === 'error'), `severity ≥ warn shows ${levels}`);
    check((await page.locator('[data-testid=logs-form] select[name=severity]').inputValue()) === 'warn', 'the form lost the severity');
    await page.goto(`${base}/logs?q=nosuchtokenanywhere`);
    const empty = await page.locator('[data-testid=empty]').textContent();
    check(empty.includes(':4318/v1/logs'), `the empty state reads "${empty}"`);
    await page.goto(`${base}/logs?q=${encodeURIComponent('AND (')}`);
    const error = await page.locator('[data-testid=logs-form] [data-testid=query-error]').textContent();
    check(error.includes('refused') && error.includes('parameter q'), `a bad query reads "${error}"`);
  });

  await step('logs: a LogQL query with a stream selector and a line filter finds the token\'s record', async () => {
    const logs = expect.logs;
    await page.goto(`${base}/logs`);
    const query = `{service_name="checkout"} |= "${logs.token}" | level="error"`;
    await page.fill('[data-testid=logs-form] input[name=q]', query);
    check((await page.locator('[data-testid=query-mode]').getAttribute('data-mode')) === 'logql', 'the badge does not say LogQL');
    check(await page.locator('[data-testid=logs-form] input[name=service]').isDisabled(), 'the service filter is offered for LogQL');
    await page.click('[data-testid=logs-form] button[type=submit]');
    await page.waitForURL((address) => address.searchParams.get('q') === query);
    await page.waitForFunction(() => document.querySelector('[data-testid=logs-page][data-loading=false] [data-testid=log-results]'));
    const live = page.locator('[data-testid=live-toggle]');
    check((await live.isDisabled()) && (await live.getAttribute('title')).includes('WebSocket'), 'live tail is offered for LogQL');
    const rows = page.locator('[data-testid=log-results] .log-row');
    check((await rows.count()) === 1, `${await rows.count()} lines match ${query}`);
    check((await rows.getAttribute('data-severity')) === 'error', 'the line is not marked as an error');
    check((await rows.locator('.severity').getAttribute('class')).includes('sev-error'), 'the level is not coloured');
    check((await page.locator('[data-testid=histogram]').getAttribute('data-total')) === '1', 'the count_over_time histogram does not count 1');
    const href = await rows.locator('a.trace-link').getAttribute('href');
    check(href === `/traces/${logs.traceId}?span=${logs.spanId}`, `the trace link is ${href}`);
    await rows.click();
    const details = await page.locator('[data-testid=log-details]').textContent();
    for (const part of ['Stream labels', 'service_name', 'Structured metadata', 'payment_provider', 'stripe', logs.spanId]) {
      check(details.includes(part), `details lack ${part}: "${details}"`);
    }
    await shot('logs-logql');
  });

  await step('logs: a LogQL metric query draws its series in place of the histogram', async () => {
    const query = 'sum by (service_name) (count_over_time({service_name=~"checkout|importer"}[1m]))';
    await page.goto(`${base}/logs?q=${encodeURIComponent(query)}`);
    await page.waitForSelector('[data-testid=logql-chart] canvas');
    check((await page.locator('[data-testid=query-mode]').getAttribute('data-mode')) === 'logql', 'the badge does not say LogQL');
    const series = await page.locator('[data-testid=logql-chart]').getAttribute('data-series');
    check(series === '2', `${series} series drawn, expected checkout and importer`);
    const legend = await page.locator('[data-testid=logql-chart] .u-legend').textContent();
    check(legend.includes('service_name="checkout"') && legend.includes('service_name="importer"'), `the legend reads "${legend}"`);
    check((await page.locator('[data-testid=histogram], [data-testid=log-results]').count()) === 0, 'a metric query shows a histogram or lines');
    await shot('logs-logql-metric');
  });

  await step('logs: a LogQL parse error is shown in words next to the box', async () => {
    await page.goto(`${base}/logs?q=${encodeURIComponent('{service_name="checkout" |= "declined"')}`);
    const error = await page.locator('[data-testid=logs-form] [data-testid=query-error]').textContent();
    check(error.includes('parse error at line 1, col') && error.includes('expecting'), `a LogQL parse error reads "${error}"`);
    check((await page.locator('[data-testid=query-mode]').getAttribute('data-mode')) === 'logql', 'the badge does not say LogQL');
    await shot('logs-logql-error');
  });

  await step('logs: thousands of lines stay a virtualised list, paged in both syntaxes', async () => {
    const bulk = expect.logs.bulk;
    /** Must match LOG_ROW_HEIGHT in src/logs/list.tsx. */
    const LOG_ROW_HEIGHT = 28;
    const domRows = () => page.locator('[data-testid=log-results] .log-row').count();
    const rowCount = () => page.locator('[data-testid=log-results]').getAttribute('data-row-count');
    await page.goto(`${base}/logs?q=${encodeURIComponent(`{service_name="${bulk.service}"}`)}`);
    await page.waitForSelector('[data-testid=logs-page][data-loading=false] [data-testid=log-results]');
    check((await page.locator('[data-testid=histogram]').getAttribute('data-total')) === String(bulk.count), 'the histogram misses lines');
    check((await rowCount()) === '1000', `the first LogQL page has ${await rowCount()} lines`);
    const firstPage = await domRows();
    check(firstPage > 0 && firstPage < 100, `${firstPage} rows in the DOM for 1000 lines: not virtualised`);
    // Older pages until there are no more: every line once (pages overlap by a nanosecond).
    for (let pages = 1; await page.locator('[data-testid=load-more]').count(); pages += 1) {
      check(pages < 10, 'paging does not end');
      const before = await rowCount();
      await page.click('[data-testid=load-more]');
      await page.waitForFunction((count) => document.querySelector('[data-testid=log-results]')?.dataset.rowCount !== count, before);
    }
    check((await rowCount()) === String(bulk.count), `${await rowCount()} lines after paging, expected ${bulk.count}`);
    await page.locator('[data-testid=log-results] .log-list-viewport').evaluate((element) => {
      element.scrollTop = element.scrollHeight;
    });
    const last = page.locator(`[data-testid=log-results] .log-row[data-index="${bulk.count - 1}"]`);
    await last.waitFor();
    check((await last.textContent()).includes(`imported row ${bulk.count - 1} of`), `the oldest line reads "${await last.textContent()}"`);
    const top = await last.evaluate((row) => row.style.top);
    check(top === `${(bulk.count - 1) * LOG_ROW_HEIGHT}px`, `the last line sits at ${top}`);
    const scrolled = await domRows();
    check(scrolled < 100, `${scrolled} rows in the DOM at the end: not virtualised`);
    await last.click();
    const details = await page.locator('[data-testid=log-results] [data-testid=log-details]').textContent();
    check(details.includes('import_row') && details.includes(String(bulk.count - 1)), `the last line's details read "${details}"`);
    await shot('logs-virtualised');
    // The native syntax pages by cursor into the same list.
    await page.goto(`${base}/logs?service=${bulk.service}`);
    await page.waitForSelector('[data-testid=logs-page][data-loading=false] [data-testid=log-results]');
    check((await rowCount()) === '100', `the first native page has ${await rowCount()} lines`);
    await page.click('[data-testid=load-more]');
    await page.waitForFunction(() => document.querySelector('[data-testid=log-results]')?.dataset.rowCount === '200');
    const native = await domRows();
    check(native < 100, `${native} rows in the DOM for 200 lines: not virtualised`);
    return `${bulk.count} lines, ${firstPage} rows in the DOM on the first page, ${scrolled} at the end`;
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
        .waitForSelector(`[data-testid=tail-results] .log-row:has-text("${sent}")`, { timeout: 1_500 })
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

  await step('metrics: the PromQL box completes a label value of the selector’s metric', async () => {
    const service = expect.metrics.services[expect.metrics.services.length - 1];
    await page.goto(`${base}/metrics-explorer`);
    const box = page.locator('[data-testid=metrics-form] textarea[name=query]');
    await box.click();
    await page.keyboard.type('sum by (service) (rate(traces_span_metrics_calls_total{service="');
    // Every service's value is offered as soon as the string opens, then narrowed by what is typed.
    await page.waitForSelector(`[data-testid=completions][data-kind=value] li:has-text("${service}")`);
    await page.keyboard.type(service.slice(0, 3));
    await page.waitForFunction(
      (name) => document.querySelector('[data-testid=completions][data-kind=value] li')?.textContent?.endsWith(name),
      service,
    );
    const offered = await page.locator('[data-testid=completions][data-kind=value] li').allTextContents();
    check(offered.every((option) => option.includes(service.slice(0, 3))), `values offered: ${offered}`);
    await shot('metrics-values');
    await page.keyboard.press('Tab');
    await page.keyboard.type('}[5m]))');
    const query = `sum by (service) (rate(traces_span_metrics_calls_total{service="${service}"}[5m]))`;
    const typed = await box.inputValue();
    check(typed === query, `the box reads "${typed}"`);
    await page.keyboard.press('Enter');
    await page.waitForURL((address) => address.searchParams.get('query') === query);
    await page.waitForSelector('[data-testid=graph-view][data-loading=false] [data-testid=metrics-chart] canvas');
    const drawn = await page.locator('[data-testid=graph-view]').getAttribute('data-series');
    check(drawn === '1', `${drawn} series drawn for one service`);
    const legend = await page.locator('[data-testid=metrics-chart]').textContent();
    check(legend.includes(`service="${service}"`), `the legend reads "${legend}"`);
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

  await step('alerts: editing an API rule loads it into the form, saves it, and the change survives a reload', async () => {
    const { quick } = expect.alerts;
    const row = page.locator(`[data-testid=rules] tr[data-rule="${quick.name}"]`);
    check((await page.locator('[data-testid=rules] tr[data-source=file] a.edit-rule').count()) === 0, 'a file rule offers to edit');
    await row.locator('a.edit-rule').click();
    await page.waitForURL((address) => address.searchParams.get('edit') === quick.name && address.searchParams.get('mode') === 'quick');
    const form = page.locator(`[data-testid=rule-form][data-editing="${quick.name}"]`);
    await form.waitFor();
    const field = (name) => form.locator(`[name=${name}]`);
    check((await field('name').inputValue()) === quick.name, 'the name is not loaded');
    check(await field('name').evaluate((input) => input.readOnly), 'the name can be changed');
    check((await field('kind').inputValue()) === 'error_ratio_above', `the kind reads ${await field('kind').inputValue()}`);
    check((await field('service').inputValue()) === quick.service, 'the service is not loaded');
    check((await field('threshold').inputValue()) === quick.threshold, `the threshold reads ${await field('threshold').inputValue()}`);
    const threshold = String(Number(quick.threshold) * 10);
    await field('threshold').fill(threshold);
    await shot('alerts-edit');
    await page.click('[data-testid=save-rule]');
    await page.waitForSelector('[data-testid=saved]');
    check(!url().searchParams.has('edit'), `still editing at ${page.url()}`);
    // The list shows the new threshold (a ratio in the query), and so does the server after a reload.
    const ratio = String(Number(threshold) / 100);
    await page.waitForFunction(
      ([name, ending]) => document.querySelector(`[data-testid=rules] tr[data-rule="${name}"] code.query`)?.textContent?.endsWith(ending),
      [quick.name, `> ${ratio}`],
    );
    await page.reload();
    await page.waitForSelector(`[data-testid=rules] tr[data-rule="${quick.name}"]`);
    const query = await row.locator('code.query').textContent();
    check(query.endsWith(`> ${ratio}`) && query.includes(`service="${quick.service}"`), `after a reload the query is "${query}"`);
    check((await row.getAttribute('data-enabled')) === 'true', 'editing changed whether the rule is enabled');
    await row.locator('a.edit-rule').click();
    await form.waitFor();
    check((await field('threshold').inputValue()) === threshold, `reopened, the threshold reads ${await field('threshold').inputValue()}`);
    await page.click('[data-testid=cancel-edit]');
    await page.waitForURL((address) => !address.searchParams.has('edit'));
    await page.waitForSelector('[data-testid=rule-form][data-editing=""]');
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
