// The walk's steps for the metrics explorer: completion, graph, table, errors.

import { base, expect, page, step, shot, check } from './browser.mjs';

export async function walkMetrics() {
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
}
