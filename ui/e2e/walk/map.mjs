// The walk's steps for the dependency map: nodes, edges, panels and their trace links.

import { base, expect, page, step, shot, check, url } from './browser.mjs';

export async function walkMap() {
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
}
