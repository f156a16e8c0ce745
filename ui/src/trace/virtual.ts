// Row virtualisation for long lists of fixed-height rows: only the rows in (or near) the
// scrolled viewport are rendered, so a 10,000-span trace costs the DOM a few dozen rows.

export interface RowWindow {
  /** First row to render (inclusive). */
  first: number;
  /** Row after the last to render (exclusive). */
  last: number;
}

/** The rows to render for a viewport, with `overscan` extra rows either side. */
export function visibleWindow(
  rowCount: number,
  rowHeight: number,
  scrollTop: number,
  viewportHeight: number,
  overscan = 10,
): RowWindow {
  if (rowCount <= 0 || rowHeight <= 0) return { first: 0, last: 0 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount, Math.ceil((scrollTop + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { first: Math.min(first, last), last };
}

/** The scroll position that brings row `index` into view, or null when it is already visible. */
export function scrollToReveal(index: number, rowHeight: number, scrollTop: number, viewportHeight: number): number | null {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return null;
}

/**
 * The scroll position that centres row `index` in the viewport (within the scrollable range
 * of `rowCount` rows), or null when the row is already wholly visible.
 */
export function scrollToCentre(index: number, rowHeight: number, rowCount: number, scrollTop: number, viewportHeight: number): number | null {
  const top = index * rowHeight;
  if (top >= scrollTop && top + rowHeight <= scrollTop + viewportHeight) return null;
  const maxScroll = Math.max(0, rowCount * rowHeight - viewportHeight);
  return Math.min(maxScroll, Math.max(0, Math.round(top + rowHeight / 2 - viewportHeight / 2)));
}
