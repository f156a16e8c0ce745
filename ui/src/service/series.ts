// A service page's data, shaped for what it draws: the API's `[ms, value]` series aligned on
// one time axis (uPlot's columns, seconds on x), and which end of a dependency edge is an
// instrumented service (so it can be linked to its page).

import type { DependencyEdge } from '../types';

/** One series from the API: `[unix ms, value]` pairs. */
export type Points = [number, number][];

/** uPlot's data: x values (unix seconds), then one column per series (`null` where a series has no point). */
export type Columns = [number[], ...(number | null)[][]];

/** Aligns several series on the union of their timestamps, sorted; non-finite values become gaps. */
export function alignSeries(series: Points[], scale = 1): Columns {
  const times = [...new Set(series.flatMap((points) => points.map(([ms]) => ms)))].sort((a, b) => a - b);
  const index = new Map(times.map((ms, position) => [ms, position]));
  const columns = series.map((points) => {
    const column: (number | null)[] = new Array<number | null>(times.length).fill(null);
    for (const [ms, value] of points) {
      const position = index.get(ms);
      if (position !== undefined && Number.isFinite(value)) column[position] = value * scale;
    }
    return column;
  });
  return [times.map((ms) => ms / 1000), ...columns];
}

/** Says whether any series has a point. */
export function hasPoints(columns: Columns): boolean {
  return columns.slice(1).some((column) => column.some((value) => value !== null));
}

/** The other end of an edge seen from `service`, and whether it is an instrumented service. */
export function otherEnd(edge: DependencyEdge, service: string): { name: string; isService: boolean; direction: 'upstream' | 'downstream' } {
  if (edge.client === service && edge.server !== service) {
    // A callee is instrumented only when its SERVER (or CONSUMER) half was paired.
    return { name: edge.server, isService: edge.connectionType === '' || edge.connectionType === 'messaging_system', direction: 'downstream' };
  }
  // A caller is a service unless it is the outside world: virtual edges into a service come from `user`.
  return { name: edge.client, isService: edge.client !== 'user' || edge.connectionType === '', direction: 'upstream' };
}
