// Sorting the health table. Unknown figures (`null`: no requests, no checks) always sort
// last, whichever the order; ties fall back to the service name so the order is stable.

import type { HealthCheckState, HealthStatus, ServiceHealth } from './types';
import type { ServiceSortKey, SortOrder } from './url';

const STATUS_RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** How a service's health checks stand: counts of up, down and not-yet-probed checks. */
export function probeSummary(checks: HealthCheckState[]): { up: number; down: number; unknown: number } {
  let up = 0;
  let down = 0;
  let unknown = 0;
  for (const check of checks) {
    if (check.up === true) up += 1;
    else if (check.up === false) down += 1;
    else unknown += 1;
  }
  return { up, down, unknown };
}

/** The value a column sorts by; `null` for unknown. */
export function sortValue(service: ServiceHealth, key: ServiceSortKey): number | string | null {
  switch (key) {
    case 'name':
      return service.name;
    case 'status':
      return STATUS_RANK[service.status] ?? null;
    case 'rate':
      return service.rate;
    case 'errorRatio':
      return service.errorRatio;
    case 'p50':
      return service.latencyMs.p50;
    case 'p95':
      return service.latencyMs.p95;
    case 'p99':
      return service.latencyMs.p99;
    case 'checks': {
      if (service.checks.length === 0) return null;
      const { down, unknown } = probeSummary(service.checks);
      // Failing checks weigh most, then checks not yet probed.
      return down * 1000 + unknown;
    }
    case 'alerts':
      return service.alerts.length;
  }
}

function compareValues(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/** Returns the services sorted by `key` in `order` (a new array). */
export function sortServices(services: ServiceHealth[], key: ServiceSortKey, order: SortOrder): ServiceHealth[] {
  const direction = order === 'asc' ? 1 : -1;
  return [...services].sort((left, right) => {
    const a = sortValue(left, key);
    const b = sortValue(right, key);
    if (a === null && b !== null) return 1;
    if (b === null && a !== null) return -1;
    const byValue = a === null || b === null ? 0 : compareValues(a, b) * direction;
    return byValue !== 0 ? byValue : left.name.localeCompare(right.name);
  });
}
