// A LogQL query's data for the logs explorer, from the Loki API: a log query's lines page by
// page (each older page ends where the last one's oldest line was) and the histogram of its
// matches (`sum(count_over_time(…))`), or a metric query's matrix for the chart.

import { useMemo, useState } from 'preact/hooks';
import type { PromSeries } from '../metrics/promql';
import { autoStepSeconds } from '../metrics/promql';
import type { LogHistogram } from '../types';
import { useFetch, type Fetched } from '../use-fetch';
import { rangeMillis, type LogsState } from '../url';
import type { LogLine, PagedLines } from './lines';
import { addLokiPage, matrixToHistogram, streamsToLines, type LokiAnswer } from './loki';
import { lokiQueryRange } from './loki-api';
import { histogramQuery, histogramWindow, lokiRangeQuery, type LokiWindow, type QuerySyntax } from './logql';
import { HISTOGRAM_BUCKETS } from './use-native';

/** Lines per page of a LogQL log query (Grafana's default line limit; Loki allows 5,000). */
export const LOGQL_PAGE_SIZE = 1000;

/** What a LogQL query answered. */
export interface LogqlResult {
  /** The window of the query (the chart's x range). */
  window: LokiWindow;
  /** `streams` (a log query), `matrix` (a metric query), another type, or null before the first answer. */
  resultType: string | null;
  /** A metric query's series. */
  matrix: PromSeries[];
  /** A log query's lines and paging. */
  pages: PagedLines;
  /** The histogram of a log query's matches; idle (never loaded) for a metric query. */
  histogram: Fetched<LogHistogram>;
}

interface MorePages {
  key: string;
  lines: LogLine[];
  nextEnd: string | null;
  error: unknown;
  loading: boolean;
}

/**
 * Runs `state.q` as LogQL over the range ending at `nowMs`. `syntax` says whether to ask for
 * the histogram too (log queries only); what is shown follows the answer's `resultType`.
 */
export function useLogqlLogs(state: LogsState, syntax: QuerySyntax, nowMs: number, fetchKey: string): LogqlResult {
  const rangeMs = rangeMillis(state.range);
  const window: LokiWindow = { startSeconds: (nowMs - rangeMs) / 1000, endSeconds: nowMs / 1000, stepSeconds: autoStepSeconds(rangeMs) };
  const first = useFetch(fetchKey, (signal) => lokiQueryRange(lokiRangeQuery(state.q, window, LOGQL_PAGE_SIZE), signal));
  const histogramKey = syntax === 'logql-log' ? `histogram ${fetchKey}` : null;
  const histogram = useFetch(histogramKey, async (signal) => {
    const counts = histogramWindow(nowMs, rangeMs, HISTOGRAM_BUCKETS);
    const answer = await lokiQueryRange(lokiRangeQuery(histogramQuery(state.q, counts.stepSeconds), counts, 1), signal);
    const series = answer.data.resultType === 'matrix' ? answer.data.result : [];
    return matrixToHistogram(series, counts.startSeconds, counts.endSeconds, counts.stepSeconds);
  });
  const data = first.data?.data;
  const firstPages = useMemo(
    () => addLokiPage([], data?.resultType === 'streams' ? streamsToLines(data.result) : [], LOGQL_PAGE_SIZE),
    [first.data],
  );
  const [more, setMore] = useState<MorePages>({ key: '', lines: [], nextEnd: null, error: null, loading: false });
  const current: MorePages =
    more.key === fetchKey ? more : { key: fetchKey, lines: firstPages.lines, nextEnd: firstPages.nextEnd, error: null, loading: false };
  const loadMore = async () => {
    if (!current.nextEnd || current.loading) return;
    setMore({ ...current, loading: true, error: null });
    try {
      const answer: LokiAnswer = await lokiQueryRange(lokiRangeQuery(state.q, window, LOGQL_PAGE_SIZE, current.nextEnd));
      const page = answer.data.resultType === 'streams' ? streamsToLines(answer.data.result) : [];
      const next = addLokiPage(current.lines, page, LOGQL_PAGE_SIZE);
      setMore({ key: fetchKey, lines: next.lines, nextEnd: next.nextEnd, error: null, loading: false });
    } catch (error) {
      setMore({ ...current, error, loading: false });
    }
  };
  return {
    window,
    resultType: data?.resultType ?? null,
    matrix: data?.resultType === 'matrix' ? data.result : [],
    histogram,
    pages: {
      lines: current.lines,
      loaded: first.data !== null,
      loading: first.loading,
      error: first.error,
      hasMore: current.nextEnd !== null && current.lines.length > 0,
      moreLoading: current.loading,
      moreError: current.error,
      loadMore: () => void loadMore(),
    },
  };
}
