import { describe, expect, it } from 'vitest';
import { probeSummary, sortServices } from './sort';
import type { HealthCheckState, ServiceHealth } from './types';

function service(name: string, patch: Partial<ServiceHealth> = {}): ServiceHealth {
  return {
    name,
    status: 'healthy',
    reasons: [],
    measuredOn: 'entry_spans',
    requests: 10,
    rate: 1,
    errors: 0,
    errorRatio: 0,
    latencyMs: { p50: 10, p95: 20, p99: 30 },
    checks: [],
    alerts: [],
    ...patch,
  };
}

function check(up: boolean | null): HealthCheckState {
  return { name: 'c', probe: 'http', instance: 'x', up, availability: null, durationMs: null };
}

const services = [
  service('cart', { rate: 5, errorRatio: 0.01, latencyMs: { p50: 5, p95: 50, p99: 90 } }),
  service('payments', { status: 'unhealthy', rate: 2, errorRatio: 0.2, checks: [check(false), check(true)] }),
  service('batch', { requests: 0, rate: 0, errorRatio: null, latencyMs: { p50: null, p95: null, p99: null }, checks: [check(true)] }),
  service('frontend', { status: 'degraded', rate: 9, alerts: [{ name: 'Slow', severity: 'page' }] }),
];

const names = (list: ServiceHealth[]) => list.map((item) => item.name);

describe('sortServices', () => {
  it('sorts by name both ways', () => {
    expect(names(sortServices(services, 'name', 'asc'))).toEqual(['batch', 'cart', 'frontend', 'payments']);
    expect(names(sortServices(services, 'name', 'desc'))).toEqual(['payments', 'frontend', 'cart', 'batch']);
  });

  it('puts the worst health first when descending, ties by name', () => {
    expect(names(sortServices(services, 'status', 'desc'))).toEqual(['payments', 'frontend', 'batch', 'cart']);
  });

  it('keeps unknown figures last whichever the order', () => {
    expect(names(sortServices(services, 'errorRatio', 'desc'))).toEqual(['payments', 'cart', 'frontend', 'batch']);
    expect(names(sortServices(services, 'errorRatio', 'asc'))).toEqual(['frontend', 'cart', 'payments', 'batch']);
    expect(names(sortServices(services, 'p99', 'asc'))).toEqual(['frontend', 'payments', 'cart', 'batch']);
  });

  it('sorts by rate, probes and alerts', () => {
    expect(names(sortServices(services, 'rate', 'desc'))).toEqual(['frontend', 'cart', 'payments', 'batch']);
    expect(names(sortServices(services, 'checks', 'desc'))).toEqual(['payments', 'batch', 'cart', 'frontend']);
    expect(names(sortServices(services, 'alerts', 'desc'))[0]).toBe('frontend');
  });

  it('does not reorder its input', () => {
    const before = names(services);
    sortServices(services, 'rate', 'asc');
    expect(names(services)).toEqual(before);
  });
});

describe('probeSummary', () => {
  it('counts up, down and not yet probed', () => {
    expect(probeSummary([check(true), check(false), check(null), check(true)])).toEqual({ up: 2, down: 1, unknown: 1 });
  });
});
