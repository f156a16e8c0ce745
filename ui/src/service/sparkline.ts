// The health table's sparklines as plain SVG geometry: a service's request rate as a line over
// a light area, its failed requests per second (rate × error ratio, on the same scale) as a red
// area under it, and the baseline as the time axis. Points more than a step and a half apart
// are not joined, so a pause in traffic shows as a gap rather than a slope; a lone point (a
// service that started sending in the last step) is a two-pixel-wide bar.

import type { Points } from './series';

/** Where a sparkline is drawn and what time it spans. */
export interface SparklineBox {
  width: number;
  height: number;
  /** The time at the left edge and at the right edge (unix ms). */
  startMs: number;
  endMs: number;
  /** The step between points (ms); 0 joins every point. */
  stepMs: number;
  /** Room kept free at every edge (px), so the stroke is not clipped. */
  pad: number;
}

/** A sparkline's SVG paths and the figures its tooltip tells. */
export interface SparklineShape {
  /** The rate line's `d` (empty without points). */
  rate: string;
  /** The area under the rate line (empty without points). */
  rateArea: string;
  /** The failed requests' area `d` (empty when nothing failed). */
  errors: string;
  /** The highest rate drawn (requests/s): the top of the scale. */
  peakRate: number;
  /** The highest error ratio (0 to 1). */
  peakErrorRatio: number;
  /** The y of zero requests: the time axis, from `pad` to `width - pad`. */
  baseline: number;
}

/** Rounds a coordinate to a tenth of a pixel, for short paths. */
function coordinate(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** Sorted finite points split where neighbours are more than 1.5 steps apart. */
export function splitRuns(points: Points, stepMs: number): Points[] {
  const sorted = points.filter(([ms, value]) => Number.isFinite(ms) && Number.isFinite(value)).sort(([a], [b]) => a - b);
  const runs: Points[] = [];
  let run: Points = [];
  for (const point of sorted) {
    const last = run[run.length - 1];
    if (last && stepMs > 0 && point[0] - last[0] > stepMs * 1.5) {
      runs.push(run);
      run = [];
    }
    run.push(point);
  }
  if (run.length) runs.push(run);
  return runs;
}

/** Failed requests per second: each error ratio times the rate at the same time. */
export function errorRates(rate: Points, errorRatio: Points): Points {
  const rates = new Map(rate.map(([ms, value]) => [ms, value]));
  return errorRatio.flatMap(([ms, ratio]): Points => {
    const requests = rates.get(ms);
    return requests === undefined ? [] : [[ms, requests * ratio]];
  });
}

/** The paths of a sparkline of `rate` (and the failures `errorRatio` implies) in `box`. */
export function sparklineShape(rate: Points, errorRatio: Points, box: SparklineBox): SparklineShape {
  const span = Math.max(1, box.endMs - box.startMs);
  const inner = { width: Math.max(1, box.width - 2 * box.pad), height: Math.max(1, box.height - 2 * box.pad) };
  const peakRate = rate.reduce((peak, [, value]) => (Number.isFinite(value) ? Math.max(peak, value) : peak), 0);
  const peakErrorRatio = errorRatio.reduce((peak, [, value]) => (Number.isFinite(value) ? Math.max(peak, value) : peak), 0);
  const baseline = box.pad + inner.height;
  const x = (ms: number) => box.pad + (Math.min(Math.max(ms, box.startMs), box.endMs) - box.startMs) / span * inner.width;
  // Without requests the line lies on the baseline.
  const y = (value: number) => (peakRate > 0 ? baseline - (Math.max(0, value) / peakRate) * inner.height : baseline);
  // A lone point becomes two pixels wide (kept inside the box), so it still shows.
  const pixels = (run: Points): [number, number][] => {
    const drawn = run.map(([ms, value]): [number, number] => [x(ms), y(value)]);
    if (drawn.length !== 1) return drawn;
    const [at, top] = drawn[0]!;
    const left = Math.max(box.pad, Math.min(at - 1, box.width - box.pad - 2));
    return [
      [left, top],
      [left + 2, top],
    ];
  };
  const path = (points: [number, number][]) => points.map(([px, py], index) => `${index ? 'L' : 'M'}${coordinate(px)} ${coordinate(py)}`).join('');
  const area = (runs: Points[]) =>
    runs
      .map((run) => {
        const top = pixels(run);
        const left = top[0]![0];
        const right = top[top.length - 1]![0];
        return `${path([[left, baseline], ...top, [right, baseline]])}Z`;
      })
      .join('');
  const rateRuns = splitRuns(rate, box.stepMs);
  const errorRuns = splitRuns(errorRates(rate, errorRatio), box.stepMs).filter((run) => run.some(([, value]) => value > 0));
  return {
    rate: rateRuns.map((run) => path(pixels(run))).join(''),
    rateArea: area(rateRuns),
    errors: area(errorRuns),
    peakRate,
    peakErrorRatio,
    baseline,
  };
}
