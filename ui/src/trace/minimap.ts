// The minimap's geometry: the whole waterfall shrunk into a small box (rows top to bottom,
// the trace's time left to right), the rectangle of the rows the waterfall shows, and where
// a click on the box scrolls the waterfall. Units are whatever the caller draws in (CSS or
// device pixels); row indices are positions in the waterfall's visible rows.

/** A rectangle on the minimap. */
export interface MinimapRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How tall the minimap is and how tall each row is on it. */
export interface MinimapLayout {
  height: number;
  /** Height of one row; below 1 many rows share a pixel line. */
  rowPx: number;
}

/** Rows get up to `maxRowPx` each, the whole box at most `maxHeight`: a short trace makes a short box. */
export function minimapLayout(rowCount: number, maxHeight: number, maxRowPx: number): MinimapLayout {
  if (rowCount <= 0 || maxHeight <= 0 || maxRowPx <= 0) return { height: 0, rowPx: 0 };
  const rowPx = Math.min(maxRowPx, maxHeight / rowCount);
  return { height: Math.min(maxHeight, Math.ceil(rowCount * rowPx)), rowPx };
}

/**
 * Where row `index`'s span bar goes on a `width`-wide minimap: across the trace's time, down
 * the rows on whole pixels (rows sharing a line draw on it), never smaller than 1 × 1 so
 * every span shows. Rows 3 or more pixels tall keep a 1-pixel gap below.
 */
export function minimapBar(
  index: number,
  startNanos: number,
  durationNanos: number,
  traceNanos: number,
  width: number,
  rowPx: number,
): MinimapRect {
  const y = Math.floor(index * rowPx);
  const bottom = Math.floor((index + 1) * rowPx);
  const height = Math.max(1, bottom - y - (rowPx >= 3 ? 1 : 0));
  if (!(traceNanos > 0)) return { x: 0, y, width, height };
  const x = Math.min(Math.max(0, width - 1), Math.max(0, (startNanos / traceNanos) * width));
  const barWidth = Math.max(1, Math.min(width - x, (durationNanos / traceNanos) * width));
  return { x, y, width: barWidth, height };
}

/** The viewport rectangle's least height, so it can be seen and grabbed over 10,000 rows. */
export const MIN_VIEWPORT_PX = 6;

/**
 * The rectangle of the rows in the waterfall's viewport, as a top and a height on the
 * minimap: at least `minHeight` tall (centred on the rows it stands for) and inside the box.
 */
export function minimapViewport(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  rowPx: number,
  minHeight = MIN_VIEWPORT_PX,
): { y: number; height: number } {
  const total = rowCount * rowPx;
  if (!(rowHeight > 0) || total <= 0) return { y: 0, height: 0 };
  const scale = rowPx / rowHeight;
  const exact = Math.min(total, Math.max(0, viewportHeight) * scale);
  const height = Math.min(total, Math.max(minHeight, exact));
  const centre = Math.max(0, scrollTop) * scale + exact / 2;
  const y = Math.min(Math.max(0, centre - height / 2), total - height);
  return { y, height };
}

/**
 * The waterfall's scroll offset that puts the viewport rectangle's centre at minimap height
 * `y` (the inverse of {@link minimapViewport}), kept inside what the waterfall can scroll
 * to: a click within half a rectangle of the box's end shows the last rows, of its start the
 * first.
 */
export function scrollTopForMinimapY(
  y: number,
  rowPx: number,
  rowHeight: number,
  rowCount: number,
  viewportHeight: number,
  minHeight = MIN_VIEWPORT_PX,
): number {
  const total = rowCount * rowPx;
  if (!(rowPx > 0) || !(rowHeight > 0) || total <= 0) return 0;
  const maxScroll = Math.max(0, rowCount * rowHeight - viewportHeight);
  const scale = rowPx / rowHeight;
  const exact = Math.min(total, Math.max(0, viewportHeight) * scale);
  const half = Math.min(total, Math.max(minHeight, exact)) / 2;
  if (y >= total - half) return maxScroll;
  if (y <= half) return 0;
  const target = (y - exact / 2) / scale;
  return Math.round(Math.min(maxScroll, Math.max(0, target)));
}
