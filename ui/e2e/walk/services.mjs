// The walk's steps for the services table (sorting, links, sparklines) and a service's page.

import { base, expect, page, step, shot, check, url } from './browser.mjs';

export async function walkServices() {
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
}
