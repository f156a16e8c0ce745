import { describe, expect, it } from 'vitest';
import { errorRates, sparklineShape, splitRuns, type SparklineBox } from './sparkline';

// 100 × 20 px with 0 padding, time 0 to 100 s, points every 25 s: one pixel a second.
const BOX: SparklineBox = { width: 100, height: 20, startMs: 0, endMs: 100_000, stepMs: 25_000, pad: 0 };

describe('sparkline runs', () => {
  it('splits where a point is missing and drops non-finite values', () => {
    expect(
      splitRuns(
        [
          [50_000, 2],
          [0, 1],
          [25_000, Number.NaN],
          [100_000, 4],
          [75_000, 3],
        ],
        25_000,
      ),
    ).toEqual([
      [[0, 1]],
      [
        [50_000, 2],
        [75_000, 3],
        [100_000, 4],
      ],
    ]);
    expect(splitRuns([], 1000)).toEqual([]);
    // Without a step every point is joined.
    expect(splitRuns([[0, 1], [1e9, 2]], 0)).toHaveLength(1);
  });

  it('turns error ratios into failed requests per second at the same times', () => {
    expect(errorRates([[0, 4], [10, 2], [20, 0]], [[0, 0.25], [10, 0], [30, 1]])).toEqual([
      [0, 1],
      [10, 0],
    ]);
  });
});

describe('sparklineShape', () => {
  it('scales the rate to its peak and time to the box', () => {
    const shape = sparklineShape([[0, 0], [25_000, 5], [50_000, 10], [75_000, 5], [100_000, 0]], [], BOX);
    expect(shape.rate).toBe('M0 20L25 10L50 0L75 10L100 20');
    expect(shape.rateArea).toBe('M0 20L0 20L25 10L50 0L75 10L100 20L100 20Z');
    expect(shape.errors).toBe('');
    expect(shape.peakRate).toBe(10);
    expect(shape.peakErrorRatio).toBe(0);
    expect(shape.baseline).toBe(20);
  });

  it('keeps padding free and breaks the line at gaps', () => {
    const padded = { ...BOX, width: 104, height: 24, pad: 2 };
    const shape = sparklineShape([[0, 1], [25_000, 1], [75_000, 2], [100_000, 2]], [], padded);
    expect(shape.rate).toBe('M2 12L27 12M77 2L102 2');
    expect(shape.rateArea).toBe('M2 22L2 12L27 12L27 22ZM77 22L77 2L102 2L102 22Z');
    expect(shape.baseline).toBe(22);
  });

  it('draws failures as a red area on the rate scale, only when something failed', () => {
    const rate: [number, number][] = [[0, 4], [25_000, 4], [50_000, 4]];
    const failing = sparklineShape(rate, [[0, 0], [25_000, 0.5], [50_000, 0.25]], BOX);
    expect(failing.errors).toBe('M0 20L0 20L25 10L50 15L50 20Z');
    expect(failing.peakErrorRatio).toBe(0.5);
    expect(sparklineShape(rate, [[0, 0], [25_000, 0], [50_000, 0]], BOX).errors).toBe('');
  });

  it('shows a lone point as a short tick and no requests on the baseline', () => {
    expect(sparklineShape([[50_000, 3]], [[50_000, 1]], BOX)).toEqual({
      rate: 'M49 0L51 0',
      rateArea: 'M49 20L49 0L51 0L51 20Z',
      errors: 'M49 20L49 0L51 0L51 20Z',
      peakRate: 3,
      peakErrorRatio: 1,
      baseline: 20,
    });
    // At the right edge the bar stays inside the box.
    expect(sparklineShape([[100_000, 3]], [], BOX).rate).toBe('M98 0L100 0');
    expect(sparklineShape([[0, 3]], [], BOX).rate).toBe('M0 0L2 0');
    expect(sparklineShape([[0, 0], [25_000, 0]], [], BOX).rate).toBe('M0 20L25 20');
    expect(sparklineShape([], [], BOX)).toEqual({ rate: '', rateArea: '', errors: '', peakRate: 0, peakErrorRatio: 0, baseline: 20 });
  });

  it('keeps points outside the box at its edges', () => {
    expect(sparklineShape([[-50_000, 1], [200_000, 1]], [], { ...BOX, stepMs: 0 }).rate).toBe('M0 0L100 0');
  });
});
