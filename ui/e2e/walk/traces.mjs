// The walk's steps for trace search and the trace view (waterfall, details, logs, search, the 10,000-span trace and its minimap).

import { base, expect, page, step, shot, check, url, rowCount, waitForSearch, waterfallScroll, ROW_HEIGHT } from './browser.mjs';

export async function walkTraces() {
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
}
