// The histogram of matches over time above the log list: bars in an SVG scaled to the page's
// width, each titled with its bucket's start and count. The native search answers it from
// `/api/v1/logs/histogram`; a LogQL log query from a `count_over_time` matrix (loki.ts).
// The bars are `log-bar`, not `bar`: the trace waterfall's `.bar` sets a CSS height, which
// would override an SVG rect's own.

import { formatTimestamp, nanosTextToMillis } from '../format';
import type { LogHistogram } from '../types';
import { histogramBars } from './records';

const WIDTH = 1000;
const HEIGHT = 70;

/** Draws a histogram of matching records; `what` names what was counted in the caption. */
export function Histogram({ histogram, what = 'matching record' }: { histogram: LogHistogram; what?: string }) {
  const bars = histogramBars(histogram.buckets, WIDTH, HEIGHT);
  const first = histogram.buckets[0];
  const last = histogram.buckets[histogram.buckets.length - 1];
  return (
    <figure class="log-histogram" data-testid="histogram" data-total={histogram.total}>
      <figcaption>
        <strong>{histogram.total}</strong> {what}
        {histogram.total === 1 ? '' : 's'} in the range
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label="Matches over time">
        {bars.map((bar) => (
          <rect x={bar.x} y={HEIGHT - bar.height} width={bar.width} height={bar.height} class={bar.count ? 'log-bar' : 'log-bar empty'}>
            <title>{`${formatTimestamp(bar.startMs)}: ${bar.count}`}</title>
          </rect>
        ))}
      </svg>
      {first && last ? (
        <div class="histogram-axis muted small">
          <span>{formatTimestamp(nanosTextToMillis(first.start_unix_nano))}</span>
          <span>{formatTimestamp(nanosTextToMillis(last.start_unix_nano))}</span>
        </div>
      ) : null}
    </figure>
  );
}
