import { describe, expect, it } from 'vitest';
import { MIN_VIEWPORT_PX, minimapBar, minimapLayout, minimapViewport, scrollTopForMinimapY } from './minimap';

const ROW = 26;

describe('minimapLayout', () => {
  it('squeezes many rows into the box and gives few rows a short box', () => {
    expect(minimapLayout(10_000, 64, 3)).toEqual({ height: 64, rowPx: 0.0064 });
    expect(minimapLayout(5, 64, 3)).toEqual({ height: 15, rowPx: 3 });
    expect(minimapLayout(100, 64, 3)).toEqual({ height: 64, rowPx: 0.64 });
    expect(minimapLayout(0, 64, 3)).toEqual({ height: 0, rowPx: 0 });
  });
});

describe('minimapBar', () => {
  it('places a bar across the trace time and down the rows', () => {
    expect(minimapBar(0, 250, 500, 1000, 400, 3)).toEqual({ x: 100, y: 0, width: 200, height: 2 });
    expect(minimapBar(2, 0, 1000, 1000, 400, 3)).toEqual({ x: 0, y: 6, width: 400, height: 2 });
    expect(minimapBar(1, 0, 10, 100, 100, 2)).toEqual({ x: 0, y: 2, width: 10, height: 2 });
  });

  it('draws 10,000 rows on the lines of a 64-pixel box, the last on the last line', () => {
    const { rowPx } = minimapLayout(10_000, 64, 3);
    expect(minimapBar(0, 0, 10, 100, 800, rowPx).y).toBe(0);
    expect(minimapBar(9_999, 0, 10, 100, 800, rowPx)).toMatchObject({ y: 63, height: 1 });
    const lines = new Set(Array.from({ length: 10_000 }, (_, i) => minimapBar(i, 0, 1, 1, 800, rowPx).y));
    expect(lines.size).toBe(64);
  });

  it('never draws a span smaller than a pixel, nor outside the box', () => {
    expect(minimapBar(0, 500, 0, 1000, 400, 3)).toMatchObject({ x: 200, width: 1 });
    expect(minimapBar(0, 1000, 0, 1000, 400, 3)).toMatchObject({ x: 399, width: 1 });
    expect(minimapBar(0, 900, 500, 1000, 400, 3)).toMatchObject({ x: 360, width: 40 });
    expect(minimapBar(0, 0, 0, 0, 400, 3)).toMatchObject({ x: 0, width: 400 });
  });
});

describe('minimapViewport', () => {
  it('covers the rows the waterfall shows', () => {
    // 100 rows, 0.64 px each; the viewport shows 20 rows from row 50.
    expect(minimapViewport(50 * ROW, 20 * ROW, ROW, 100, 0.64)).toEqual({ y: 32, height: 12.8 });
  });

  it('stays visible and inside the box at both ends of 10,000 rows', () => {
    const rowPx = 0.0064;
    expect(minimapViewport(0, 520, ROW, 10_000, rowPx)).toEqual({ y: 0, height: MIN_VIEWPORT_PX });
    const end = minimapViewport(10_000 * ROW - 520, 520, ROW, 10_000, rowPx);
    expect(end.height).toBe(MIN_VIEWPORT_PX);
    expect(end.y).toBeCloseTo(64 - MIN_VIEWPORT_PX, 9);
    const middle = minimapViewport(5_000 * ROW, 520, ROW, 10_000, rowPx);
    expect(middle.y + middle.height / 2).toBeCloseTo(32.064, 9);
  });

  it('is the whole box when everything fits', () => {
    expect(minimapViewport(0, 900, ROW, 5, 3)).toEqual({ y: 0, height: 15 });
  });
});

describe('scrollTopForMinimapY', () => {
  it('scrolls to the start, the middle and the very end', () => {
    const rowPx = 0.0064;
    expect(scrollTopForMinimapY(0, rowPx, ROW, 10_000, 520)).toBe(0);
    expect(scrollTopForMinimapY(32, rowPx, ROW, 10_000, 520)).toBe(5_000 * ROW - 260);
    // A click on the last lines (where the rectangle is drawn at the end) shows the last
    // rows: the largest scroll offset. Likewise the first lines show the first rows.
    expect(scrollTopForMinimapY(63.5, rowPx, ROW, 10_000, 520)).toBe(10_000 * ROW - 520);
    expect(scrollTopForMinimapY(61, rowPx, ROW, 10_000, 520)).toBe(10_000 * ROW - 520);
    expect(scrollTopForMinimapY(60, rowPx, ROW, 10_000, 520)).toBeLessThan(10_000 * ROW - 520);
    expect(scrollTopForMinimapY(2.5, rowPx, ROW, 10_000, 520)).toBe(0);
    expect(scrollTopForMinimapY(200, rowPx, ROW, 10_000, 520)).toBe(10_000 * ROW - 520);
    expect(scrollTopForMinimapY(-5, rowPx, ROW, 10_000, 520)).toBe(0);
  });

  it('does not scroll when everything fits', () => {
    expect(scrollTopForMinimapY(10, 3, ROW, 5, 900)).toBe(0);
    expect(scrollTopForMinimapY(10, 0, ROW, 0, 900)).toBe(0);
  });

  it('puts the viewport rectangle where the click was', () => {
    const rowPx = 0.64;
    // 100 rows in 64 px; the rectangle (20 rows) is 12.8 px, so centres from 6.4 to 57.6 are reachable.
    for (const y of [7, 10, 20, 32, 50, 57]) {
      const top = scrollTopForMinimapY(y, rowPx, ROW, 100, 20 * ROW);
      const rect = minimapViewport(top, 20 * ROW, ROW, 100, rowPx);
      expect(rect.y + rect.height / 2).toBeCloseTo(y, 0);
    }
  });
});
