// Walks the UI in a real headless Chromium (Debian's, driven by playwright-core) against a
// running sightline that has received a known workload, and checks what a person would see.
// Run by tests/e2e/ui.rs, which starts the server, sends the workload and passes:
//
//   SIGHTLINE_URL        the query port, e.g. http://127.0.0.1:41234
//   SIGHTLINE_EXPECT     JSON: what the workload holds (see `expect` in walk/browser.mjs)
//   SIGHTLINE_OTLP_URL   the server's OTLP/HTTP base, for records sent while the live tail runs
//   SCREENSHOT_DIR       where the screenshots go (created)
//   CHROMIUM             the browser (default /usr/bin/chromium)
//   SIGHTLINE_AUTH_URL   optional: a second server with authentication on, and
//   SIGHTLINE_AUTH_TOKEN a read token for it
//
// Prints one line per step ("ok - ..." / "not ok - ..."), saves a screenshot per page and one
// of the failing page, and exits 0 only when every step passed.

import { current, failed, finish, pageErrors, check, step } from './walk/browser.mjs';
import { walkServices } from './walk/services.mjs';
import { walkMap } from './walk/map.mjs';
import { walkTraces } from './walk/traces.mjs';
import { walkLogs } from './walk/logs.mjs';
import { walkMetrics } from './walk/metrics.mjs';
import { walkAlerts } from './walk/alerts.mjs';
import { walkErrors } from './walk/errors.mjs';

try {
  await walkServices();
  await walkMap();
  await walkTraces();
  await walkLogs();
  await walkMetrics();
  await walkAlerts();
  await walkErrors();

  await step('no script errors', async () => {
    check(pageErrors.length === 0, pageErrors.join('\n'));
  });
} catch {
  // Reported by step().
} finally {
  await finish();
}

console.log(failed ? `walk failed at: ${current}` : 'walk passed');
process.exit(failed ? 1 : 0);
