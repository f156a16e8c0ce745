// A time-series chart drawn by uPlot (canvas): one per RED figure on the service page. It
// sizes itself to its container and is rebuilt when the data changes.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Columns } from '../service/series';

export interface ChartSeries {
  label: string;
  color: string;
}

const HEIGHT = 180;

export function TimeChart({
  title,
  data,
  series,
  format,
  testId,
  xRange,
}: {
  title: string;
  /** The window shown, in unix seconds, so charts of one page share their x axis. */
  xRange: [number, number];
  data: Columns;
  series: ChartSeries[];
  /** Formats a y value for the axis and the legend. */
  format: (value: number) => string;
  testId: string;
}) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const width = Math.max(240, element.clientWidth);
    const options: uPlot.Options = {
      width,
      height: HEIGHT,
      series: [
        {},
        ...series.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: 1.5,
          spanGaps: false,
          value: (_: uPlot, value: number | null) => (value === null ? '–' : format(value)),
        })),
      ],
      axes: [
        {},
        {
          size: 64,
          values: (_: uPlot, ticks: number[]) => ticks.map((tick) => format(tick)),
        },
      ],
      scales: {
        x: { time: true, range: () => xRange },
        y: { range: (_: uPlot, min: number, max: number) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(options, data as uPlot.AlignedData, element);
    const observer = new ResizeObserver(() => {
      const next = Math.max(240, element.clientWidth);
      if (next !== plot.width) plot.setSize({ width: next, height: HEIGHT });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [data, series, format, xRange[0], xRange[1]]);
  return (
    <figure class="chart" data-testid={testId} data-points={data[0].length}>
      <figcaption>{title}</figcaption>
      <div ref={container} class="chart-body" />
    </figure>
  );
}
