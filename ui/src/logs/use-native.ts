// The native search's data for the logs explorer: `/api/v1/logs` page by page (by cursor),
// `/api/v1/logs/histogram`, and the live tail (`/api/v1/logs/tail`, server-sent events read
// with fetch so the bearer token goes along).

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, streamText } from '../api';
import type { LogHistogram, LogRecord } from '../types';
import { useFetch, type Fetched } from '../use-fetch';
import { logsApiQuery, logsTailQuery, type LogsState } from '../url';
import { lineFromRecord, type LogLine, type PagedLines } from './lines';
import { parseSse } from './records';

/** Records per page of the native search. */
export const NATIVE_PAGE_SIZE = 100;
/** Buckets of the histogram. */
export const HISTOGRAM_BUCKETS = 60;
/** Live-tailed records kept on the page (the list is virtualised, so this bounds memory only). */
const MAX_TAILED = 5000;

interface MorePages {
  /** The search (and refresh) these pages continue. */
  key: string;
  records: LogRecord[];
  cursor: string | null;
  error: unknown;
  loading: boolean;
}

const NO_RECORDS: LogRecord[] = [];

/**
 * Searches with the native syntax: the histogram and the first page for the window ending
 * at `nowMs`, more pages by cursor. `fetchKey` names the search and refresh; a new key starts over.
 */
export function useNativeLogs(state: LogsState, nowMs: number, fetchKey: string): { histogram: Fetched<LogHistogram>; pages: PagedLines } {
  const histogram = useFetch(fetchKey, (signal) =>
    api.logHistogram(logsApiQuery(state, nowMs, [['buckets', HISTOGRAM_BUCKETS]]), signal),
  );
  const first = useFetch(fetchKey, (signal) => api.logs(logsApiQuery(state, nowMs, [['limit', NATIVE_PAGE_SIZE]]), signal));
  const [more, setMore] = useState<MorePages>({ key: '', records: NO_RECORDS, cursor: null, error: null, loading: false });
  const extra: MorePages = more.key === fetchKey ? more : { key: fetchKey, records: NO_RECORDS, cursor: null, error: null, loading: false };
  const firstRecords = first.data?.records ?? NO_RECORDS;
  const lines = useMemo(() => [...firstRecords, ...extra.records].map(lineFromRecord), [firstRecords, extra.records]);
  const nextCursor = extra.records.length ? extra.cursor : (first.data?.next_cursor ?? null);
  const loadMore = async () => {
    if (!nextCursor || extra.loading) return;
    setMore({ ...extra, loading: true, error: null });
    try {
      const page = await api.logs(logsApiQuery(state, nowMs, [['limit', NATIVE_PAGE_SIZE], ['cursor', nextCursor]]));
      setMore({ key: fetchKey, records: [...extra.records, ...page.records], cursor: page.next_cursor, error: null, loading: false });
    } catch (error) {
      setMore({ ...extra, error, loading: false });
    }
  };
  return {
    histogram,
    pages: {
      lines,
      loaded: first.data !== null,
      loading: first.loading,
      error: first.error,
      hasMore: nextCursor !== null && lines.length > 0,
      moreLoading: extra.loading,
      moreError: extra.error,
      loadMore: () => void loadMore(),
    },
  };
}

/** Streams the tail while `enabled`, newest first; `skipped` counts batches the server dropped for a slow reader. */
export function useTail(state: LogsState, enabled: boolean): { lines: LogLine[]; error: unknown; skipped: number } {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [skipped, setSkipped] = useState(0);
  const query = logsTailQuery(state);
  useEffect(() => {
    setLines([]);
    setError(null);
    setSkipped(0);
    if (!enabled) return;
    const controller = new AbortController();
    let buffer = '';
    streamText(
      `/api/v1/logs/tail${query}`,
      (text) => {
        const { events, rest } = parseSse(buffer + text);
        buffer = rest;
        const fresh: LogLine[] = [];
        for (const event of events) {
          if (event.event === 'log') fresh.push(lineFromRecord(JSON.parse(event.data) as LogRecord));
          else if (event.event === 'lagged') setSkipped((count) => count + Number(event.data || 0));
        }
        if (fresh.length) setLines((kept) => [...fresh.reverse(), ...kept].slice(0, MAX_TAILED));
      },
      controller.signal,
    ).catch((failure: unknown) => setError(failure));
    return () => controller.abort();
  }, [query, enabled]);
  return { lines, error, skipped };
}
