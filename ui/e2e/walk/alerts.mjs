// The walk's steps for the alerts page: rules, the form (create, test, edit), history.

import { expect, page, step, shot, check, url } from './browser.mjs';

export async function walkAlerts() {
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
}
