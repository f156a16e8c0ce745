import { describe, expect, it } from 'vitest';
import { fixedHeightPosition, listHeight, rowLayout, rowTop, visibleRows } from './window';

describe('row layout', () => {
  const layout = rowLayout(20, [
    { index: 5, extra: 100 },
    { index: 2, extra: 50 },
  ]);

  it('places rows below the details of the open rows above them', () => {
    expect(layout.tall.map((row) => row.index)).toEqual([2, 5]);
    expect([0, 2, 3, 5, 6, 9].map((index) => rowTop(layout, index))).toEqual([0, 40, 110, 150, 270, 330]);
    expect(listHeight(layout, 10)).toBe(350);
    expect(listHeight(rowLayout(20, []), 10)).toBe(200);
  });

  it('maps positions to the fixed-height space, details to the middle of their row', () => {
    expect(fixedHeightPosition(layout, 30)).toBe(30);
    expect(fixedHeightPosition(layout, 60)).toBe(50);
    expect(fixedHeightPosition(layout, 109)).toBe(50);
    expect(fixedHeightPosition(layout, 110)).toBe(60);
    expect(fixedHeightPosition(layout, 200)).toBe(110);
    expect(fixedHeightPosition(layout, 280)).toBe(130);
    expect(fixedHeightPosition(layout, 330)).toBe(180);
  });
});

describe('visibleRows', () => {
  it('renders the rows in view and the overscan, like fixed-height rows when none is open', () => {
    expect(visibleRows(rowLayout(20, []), 10_000, 2000, 400, 5)).toEqual({ first: 95, last: 125 });
    expect(visibleRows(rowLayout(20, []), 3, 0, 400, 5)).toEqual({ first: 0, last: 3 });
  });

  it('renders fewer rows when open details fill the viewport, and keeps the open row', () => {
    // Row 10 is open with 1,000 px of details; the viewport sits inside them.
    const layout = rowLayout(20, [{ index: 10, extra: 1000 }]);
    const shown = visibleRows(layout, 10_000, 400, 400, 2);
    expect(shown.first).toBeLessThanOrEqual(10);
    expect(shown.last).toBeGreaterThan(10);
    expect(shown.last - shown.first).toBeLessThan(8);
    // Past the details, rows follow on from row 11.
    const after = visibleRows(layout, 10_000, rowTop(layout, 50), 200, 0);
    expect(after).toEqual({ first: 50, last: 60 });
  });
});
