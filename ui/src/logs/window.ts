// Virtualisation of the log list, whose rows are all one height except the few opened to
// show their details below them. Pixel positions are mapped into the space where every row
// has the fixed height, and the trace view's `visibleWindow` picks the rows from there.

import { visibleWindow, type RowWindow } from '../trace/virtual';

/** A row taller than the others: its index and how many pixels its details add below it. */
export interface TallRow {
  index: number;
  extra: number;
}

/** Rows of `rowHeight` pixels, except `tall` ones (sorted by index, each index once). */
export interface RowLayout {
  rowHeight: number;
  tall: TallRow[];
}

/** Builds a layout; `tall` may come in any order and holds at most one entry per index. */
export function rowLayout(rowHeight: number, tall: TallRow[]): RowLayout {
  return { rowHeight, tall: [...tall].sort((a, b) => a.index - b.index) };
}

/** Where row `index` starts, in pixels from the top of the list. */
export function rowTop(layout: RowLayout, index: number): number {
  let extra = 0;
  for (const row of layout.tall) {
    if (row.index >= index) break;
    extra += row.extra;
  }
  return index * layout.rowHeight + extra;
}

/** The height of a list of `rowCount` rows. */
export function listHeight(layout: RowLayout, rowCount: number): number {
  return rowTop(layout, rowCount);
}

/**
 * Maps a pixel position in the list to the position it would have if no row were tall: a
 * point inside a tall row's details maps to the middle of that row.
 */
export function fixedHeightPosition(layout: RowLayout, y: number): number {
  let extra = 0;
  for (const row of layout.tall) {
    const detailsTop = (row.index + 1) * layout.rowHeight + extra;
    if (y < detailsTop) break;
    if (y < detailsTop + row.extra) return (row.index + 0.5) * layout.rowHeight;
    extra += row.extra;
  }
  return y - extra;
}

/** The rows to render for a viewport over the list, with `overscan` extra rows either side. */
export function visibleRows(layout: RowLayout, rowCount: number, scrollTop: number, viewportHeight: number, overscan = 10): RowWindow {
  const top = fixedHeightPosition(layout, Math.max(0, scrollTop));
  const bottom = fixedHeightPosition(layout, Math.max(0, scrollTop) + Math.max(0, viewportHeight));
  return visibleWindow(rowCount, layout.rowHeight, top, bottom - top, overscan);
}
