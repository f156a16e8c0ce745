// Which syntax the logs explorer's query box holds, and the Loki API requests a LogQL query
// becomes: the query itself over the range (`/loki/api/v1/query_range`), and, for a log
// query, the histogram of its matches as `sum(count_over_time(…))` over the same range.

import { toQuery } from '../url';

/**
 * The syntax of a query: the native search syntax (words, "phrases", AND/OR/NOT, key:value),
 * a LogQL log query (a stream selector `{…}` and a pipeline), or a LogQL metric query (a
 * range or vector aggregation such as `sum by (level) (count_over_time({…}[1m]))`).
 */
export type QuerySyntax = 'native' | 'logql-log' | 'logql-metric';

/** LogQL's range aggregations, vector aggregations and functions that can start a metric query. */
const METRIC_FUNCTIONS = [
  'count_over_time',
  'rate',
  'rate_counter',
  'bytes_over_time',
  'bytes_rate',
  'absent_over_time',
  'sum_over_time',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'quantile_over_time',
  'first_over_time',
  'last_over_time',
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'approx_topk',
  'sort',
  'sort_desc',
  'vector',
  'label_replace',
];

/** A function name followed by its argument list, or by a `by (…)` / `without (…)` grouping. */
const METRIC_START = new RegExp(`^(?:${METRIC_FUNCTIONS.join('|')})\\s*(?:\\(|(?:by|without)\\s*\\()`);

/** Drops leading whitespace and LogQL `#` comments (which run to the end of their line). */
function withoutLeadingComments(query: string): string {
  let text = query.trimStart();
  while (text.startsWith('#')) {
    const newline = text.indexOf('\n');
    text = newline < 0 ? '' : text.slice(newline + 1).trimStart();
  }
  return text;
}

/**
 * Says which syntax `query` is written in: LogQL when it starts (after comments and opening
 * parentheses) with a stream selector `{` or a LogQL function applied to something, the
 * native syntax otherwise — an empty query included.
 */
export function querySyntax(query: string): QuerySyntax {
  const text = withoutLeadingComments(query);
  if (text.startsWith('{')) return 'logql-log';
  const inner = text.replace(/^[(\s]+/, '');
  return METRIC_START.test(inner) ? 'logql-metric' : 'native';
}

/** Says whether a syntax is LogQL (a log or metric query). */
export function isLogql(syntax: QuerySyntax): boolean {
  return syntax !== 'native';
}

/** A Loki range query's window: unix seconds, and the step between a metric query's points. */
export interface LokiWindow {
  startSeconds: number;
  endSeconds: number;
  stepSeconds: number;
}

/**
 * The `/loki/api/v1/query_range` query string: the window (seconds, millisecond precision),
 * newest entries first, at most `limit` of them (log queries), one point per `step` (metric
 * queries). `endNanos` overrides the end, exclusive, for the next page of a log query.
 */
export function lokiRangeQuery(query: string, window: LokiWindow, limit: number, endNanos?: string): string {
  return toQuery([
    ['query', query],
    ['start', window.startSeconds.toFixed(3)],
    ['end', endNanos ?? window.endSeconds.toFixed(3)],
    ['step', `${window.stepSeconds}s`],
    ['limit', limit],
    ['direction', 'backward'],
  ]);
}

/**
 * The histogram of a log query's matches: `buckets` counts ending at `endMs` that cover at
 * least `rangeMs`, as the window of a query whose points each count the step before them.
 * The step is a whole number of seconds, at least one.
 */
export function histogramWindow(endMs: number, rangeMs: number, buckets: number): LokiWindow {
  const stepSeconds = Math.max(1, Math.ceil(rangeMs / 1000 / buckets));
  const endSeconds = endMs / 1000;
  return { startSeconds: endSeconds - (buckets - 1) * stepSeconds, endSeconds, stepSeconds };
}

/**
 * The metric query that counts a log query's matches per step: every line the log query
 * shows, those a parser marked with `__error__` included (dropping the error labels keeps
 * Loki from refusing the sum). The range goes on its own line so a trailing `#` comment in
 * the query cannot swallow it.
 */
export function histogramQuery(logQuery: string, stepSeconds: number): string {
  return `sum(count_over_time(${logQuery.trim()}\n| drop __error__, __error_details__ [${stepSeconds}s]))`;
}
