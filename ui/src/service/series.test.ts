import { describe, expect, it } from 'vitest';
import type { DependencyEdge } from '../types';
import { alignSeries, hasPoints, otherEnd } from './series';

const figures = { requests: 1, rate: 1, errors: 0, errorRatio: 0, latencyMs: { p50: 1, p95: 1, p99: 1 } };
const edge = (client: string, server: string, connectionType = ''): DependencyEdge => ({ client, server, connectionType, ...figures });

describe('alignSeries', () => {
  it('aligns series on the union of their timestamps, in seconds, with gaps as null', () => {
    expect(
      alignSeries([
        [
          [2000, 1],
          [1000, 2],
        ],
        [
          [3000, 5],
          [1000, 4],
        ],
      ]),
    ).toEqual([
      [1, 2, 3],
      [2, 1, null],
      [4, null, 5],
    ]);
  });

  it('scales values and drops non-finite ones', () => {
    expect(
      alignSeries(
        [
          [
            [1000, 0.25],
            [2000, Number.NaN],
          ],
        ],
        100,
      ),
    ).toEqual([
      [1, 2],
      [25, null],
    ]);
  });

  it('knows when there is nothing to draw', () => {
    expect(hasPoints(alignSeries([[]]))).toBe(false);
    expect(hasPoints(alignSeries([[[1000, Number.NaN]]]))).toBe(false);
    expect(hasPoints(alignSeries([[[1000, 0]]]))).toBe(true);
  });
});

describe('otherEnd', () => {
  it('links callees only when their server half was seen', () => {
    expect(otherEnd(edge('checkout', 'payments'), 'checkout')).toEqual({ name: 'payments', isService: true, direction: 'downstream' });
    expect(otherEnd(edge('checkout', 'orders', 'database'), 'checkout').isService).toBe(false);
    expect(otherEnd(edge('checkout', 'tax-api', 'virtual_node'), 'checkout').isService).toBe(false);
    expect(otherEnd(edge('checkout', 'billing', 'messaging_system'), 'checkout').isService).toBe(true);
  });

  it('links callers, except the outside world', () => {
    expect(otherEnd(edge('frontend', 'checkout'), 'checkout')).toEqual({ name: 'frontend', isService: true, direction: 'upstream' });
    expect(otherEnd(edge('user', 'frontend', 'virtual_node'), 'frontend')).toEqual({ name: 'user', isService: false, direction: 'upstream' });
  });
});
