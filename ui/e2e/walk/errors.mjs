// The walk's steps for errors in words, empty states, and the token form when authentication is on.

import { base, expect, page, step, shot, check, requiredEnv } from './browser.mjs';

export async function walkErrors() {
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
}
