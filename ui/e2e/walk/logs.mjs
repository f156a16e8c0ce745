// The walk's steps for the logs explorer: native and LogQL search, histogram, metric chart, virtualised list, live tail.

import { base, expect, page, step, shot, check, rowCount, requiredEnv } from './browser.mjs';

export async function walkLogs() {
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
}
