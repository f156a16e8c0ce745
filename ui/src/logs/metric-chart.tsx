// The chart of a LogQL metric query's matrix (`sum by (service_name) (count_over_time(…))`),
// drawn by the uPlot time chart the metrics explorer uses. The logs page loads this module
// only when a metric query answers, so searching logs never downloads uPlot.

import { useMemo } from 'preact/hooks';
import { TimeChart, type ChartSeries } from '../components/chart';
import { EmptyState } from '../components/messages';
import { matrixToColumns, seriesLabel, type PromSeries } from '../metrics/promql';
import type { LokiWindow } from './logql';

/** Series drawn at most; more are counted in a warning. */
const MAX_DRAWN = 40;
const PALETTE = ['#2f6fde', '#d63031', '#1f8a4c', '#b7791f', '#8e44ad', '#16a085', '#c0392b', '#2c3e50', '#e67e22', '#7f8c8d'];

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** Draws a metric query's series over its window, or says there were none. */
export function MetricChart({ query, series, window }: { query: string; series: PromSeries[]; window: LokiWindow }) {
  const drawn = series.slice(0, MAX_DRAWN);
  const columns = useMemo(() => matrixToColumns(drawn), [series]);
  const lines: ChartSeries[] = useMemo(
    () => drawn.map((entry, index) => ({ label: seriesLabel(entry.metric), color: PALETTE[index % PALETTE.length]! })),
    [series],
  );
  if (series.length === 0) {
    return (
      <EmptyState title="The metric query returned no series.">
        <p>No line in the range matched its selector and pipeline: check the labels, or widen the range.</p>
      </EmptyState>
    );
  }
  return (
    <div class="logs-chart" data-testid="logql-chart" data-series={series.length}>
      {series.length > MAX_DRAWN ? <p class="warning small">Drawing the first {MAX_DRAWN} of {series.length} series.</p> : null}
      <TimeChart title={query} data={columns} series={lines} format={formatValue} testId="logql-chart-plot" xRange={[window.startSeconds, window.endSeconds]} />
    </div>
  );
}
