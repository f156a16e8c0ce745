// Logs explorer: `GET /api/v1/logs` (the native query syntax: words, "phrases", AND/OR/NOT,
// key:value) with service, minimum severity and range filters, a histogram of matches over
// time (`/api/v1/logs/histogram`), results with severity colours, expandable attributes and a
// link to the trace, more pages by cursor, and a live tail (`/api/v1/logs/tail`, server-sent
// events). Filters and the tail switch live in the query string.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, streamText } from '../api';
import { EmptyState, ErrorPanel, Loading, otlpEndpoint } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { formatTimestamp, nanosTextToMillis } from '../format';
import { histogramBars, parseSse, severityLabel, severityLevel, valueText } from '../logs/records';
import { navigate } from '../router';
import type { LogHistogram, LogRecord } from '../types';
import { useFetch } from '../use-fetch';
import {
  LOG_SEVERITIES,
  logsApiQuery,
  logsStateToQuery,
  logsTailQuery,
  parseLogsState,
  tracePath,
  type LogsState,
} from '../url';

const PAGE_SIZE = 100;
const HISTOGRAM_BUCKETS = 60;
/** Live-tailed records kept on the page. */
const MAX_TAILED = 500;

function go(state: LogsState, replace = false) {
  navigate(`/logs${logsStateToQuery(state)}`, { replace });
}

function logsCurlExample(endpoint: string): string {
  return `now=$(date +%s%N)
curl -s ${endpoint}/v1/logs -H 'content-type: application/json' -d '{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scopeLogs": [{"logRecords": [{
      "timeUnixNano": "'$now'", "severityNumber": 17, "severityText": "ERROR",
      "body": {"stringValue": "card declined"}
    }]}]
  }]
}'`;
}

function Histogram({ histogram }: { histogram: LogHistogram }) {
  const width = 1000;
  const height = 70;
  const bars = histogramBars(histogram.buckets, width, height);
  const first = histogram.buckets[0];
  const last = histogram.buckets[histogram.buckets.length - 1];
  return (
    <figure class="log-histogram" data-testid="histogram" data-total={histogram.total}>
      <figcaption>
        <strong>{histogram.total}</strong> matching record{histogram.total === 1 ? '' : 's'} in the range
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label="Matches over time">
        {bars.map((bar) => (
          <rect x={bar.x} y={height - bar.height} width={bar.width} height={bar.height} class={bar.count ? 'bar' : 'bar empty'}>
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

function ValueTable({ values }: { values: Record<string, unknown> }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p class="muted small">none</p>;
  return (
    <table class="attributes">
      <tbody>
        {entries.map(([key, value]) => (
          <tr>
            <th>{key}</th>
            <td>{valueText(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RecordRow({ record }: { record: LogRecord }) {
  const [open, setOpen] = useState(false);
  const level = severityLevel(record.severity_number);
  const body = valueText(record.body);
  return (
    <>
      <tr class={`log-row sev-${level}${open ? ' open' : ''}`} data-cursor={record.cursor} data-severity={level} onClick={() => setOpen(!open)}>
        <td class="log-time mono">{formatTimestamp(nanosTextToMillis(record.time_unix_nano))}</td>
        <td>
          <span class={`severity sev-${level}`}>{severityLabel(record.severity_number, record.severity_text)}</span>
        </td>
        <td class="log-service">{record.resource.service_name}</td>
        <td class="log-body">
          <button type="button" class="toggle" aria-expanded={open} aria-label={open ? 'Hide details' : 'Show details'}>
            {open ? '▾' : '▸'}
          </button>{' '}
          <span class="mono">{body}</span>
        </td>
        <td>
          {record.trace_id ? (
            <a
              href={tracePath(record.trace_id, record.span_id ?? undefined)}
              class="trace-link mono"
              onClick={(event) => event.stopPropagation()}
              title="Open the trace"
            >
              trace
            </a>
          ) : null}
        </td>
      </tr>
      {open ? (
        <tr class="log-details" data-testid="log-details">
          <td colSpan={5}>
            <div class="log-details-grid">
              <div>
                <h4>Attributes</h4>
                <ValueTable values={record.attributes} />
              </div>
              <div>
                <h4>Resource</h4>
                <ValueTable values={record.resource.attributes} />
              </div>
              <div>
                <h4>Record</h4>
                <dl class="facts">
                  <dt>Time</dt>
                  <dd>{record.time}</dd>
                  <dt>Severity</dt>
                  <dd>
                    {record.severity_text || '–'} ({record.severity_number})
                  </dd>
                  <dt>Body type</dt>
                  <dd>{record.body_type}</dd>
                  <dt>Scope</dt>
                  <dd>
                    {record.scope.name || '–'} {record.scope.version}
                  </dd>
                  {record.event_name ? (
                    <>
                      <dt>Event</dt>
                      <dd>{record.event_name}</dd>
                    </>
                  ) : null}
                  <dt>Trace</dt>
                  <dd class="mono">{record.trace_id ?? '–'}</dd>
                  <dt>Span</dt>
                  <dd class="mono">{record.span_id ?? '–'}</dd>
                </dl>
              </div>
            </div>
          </td>
        </tr>
      ) : null}
    </>
  );
}

function RecordsTable({ records, testId }: { records: LogRecord[]; testId: string }) {
  return (
    <table class="grid logs-table" data-testid={testId}>
      <thead>
        <tr>
          <th>Time</th>
          <th>Level</th>
          <th>Service</th>
          <th>Body</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {records.map((record) => (
          <RecordRow key={record.cursor} record={record} />
        ))}
      </tbody>
    </table>
  );
}

function LogsForm({ state }: { state: LogsState }) {
  const [draft, setDraft] = useState(state);
  useEffect(() => setDraft(state), [logsStateToQuery(state)]);
  const services = useFetch('services', (signal) => api.serviceNames(signal));
  return (
    <form
      class="search-form logs-form"
      data-testid="logs-form"
      onSubmit={(event) => {
        event.preventDefault();
        go({ ...draft, live: state.live });
      }}
    >
      <label class="wide">
        Query
        <input
          name="q"
          value={draft.q}
          placeholder='words, "a phrase", AND / OR / NOT, key:value'
          onInput={(event) => setDraft({ ...draft, q: (event.target as HTMLInputElement).value })}
        />
      </label>
      <label>
        Service
        <input
          name="service"
          list="log-services"
          value={draft.service}
          placeholder="any"
          onInput={(event) => setDraft({ ...draft, service: (event.target as HTMLInputElement).value })}
        />
        <datalist id="log-services">
          {(services.data ?? []).map((name) => (
            <option value={name} />
          ))}
        </datalist>
      </label>
      <label>
        Severity at least
        <select
          name="severity"
          value={draft.severity}
          onChange={(event) => setDraft({ ...draft, severity: (event.target as HTMLSelectElement).value as LogsState['severity'] })}
        >
          <option value="">any</option>
          {LOG_SEVERITIES.map((level) => (
            <option value={level}>{level}</option>
          ))}
        </select>
      </label>
      <label>
        Range
        <RangeSelect value={draft.range} onChange={(range) => setDraft({ ...draft, range })} />
      </label>
      <button type="submit" class="primary">
        Search
      </button>
      <button
        type="button"
        data-testid="live-toggle"
        class={state.live ? 'active' : ''}
        aria-pressed={state.live}
        onClick={() => go({ ...state, live: !state.live }, true)}
      >
        {state.live ? 'Stop live tail' : 'Live tail'}
      </button>
    </form>
  );
}

/** Streams the tail while `state.live` is on; newest first. */
function useTail(state: LogsState): { records: LogRecord[]; error: unknown; skipped: number } {
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [skipped, setSkipped] = useState(0);
  const query = logsTailQuery(state);
  useEffect(() => {
    setRecords([]);
    setError(null);
    setSkipped(0);
    if (!state.live) return;
    const controller = new AbortController();
    let buffer = '';
    streamText(
      `/api/v1/logs/tail${query}`,
      (text) => {
        const { events, rest } = parseSse(buffer + text);
        buffer = rest;
        const fresh: LogRecord[] = [];
        for (const event of events) {
          if (event.event === 'log') fresh.push(JSON.parse(event.data) as LogRecord);
          else if (event.event === 'lagged') setSkipped((count) => count + Number(event.data || 0));
        }
        if (fresh.length) setRecords((kept) => [...fresh.reverse(), ...kept].slice(0, MAX_TAILED));
      },
      controller.signal,
    ).catch((failure: unknown) => setError(failure));
    return () => controller.abort();
  }, [query, state.live]);
  return { records, error, skipped };
}

export function LogsPage({ search }: { search: string }) {
  const state = parseLogsState(search);
  const key = logsStateToQuery({ ...state, live: false });
  const [refreshes, setRefreshes] = useState(0);
  const now = useMemo(() => Date.now(), [key, refreshes]);
  const histogram = useFetch(`${key}#${refreshes}`, (signal) =>
    api.logHistogram(logsApiQuery(state, now, [['buckets', HISTOGRAM_BUCKETS]]), signal),
  );
  const first = useFetch(`${key}#${refreshes}`, (signal) => api.logs(logsApiQuery(state, now, [['limit', PAGE_SIZE]]), signal));
  const [more, setMore] = useState<{ key: string; records: LogRecord[]; cursor: string | null; error: unknown; loading: boolean }>({
    key: '',
    records: [],
    cursor: null,
    error: null,
    loading: false,
  });
  const pageKey = `${key}#${refreshes}`;
  const extra = more.key === pageKey ? more : { key: pageKey, records: [], cursor: null, error: null, loading: false };
  const records = [...(first.data?.records ?? []), ...extra.records];
  const nextCursor = extra.records.length ? extra.cursor : (first.data?.next_cursor ?? null);
  const loadMore = async () => {
    if (!nextCursor) return;
    setMore({ ...extra, loading: true, error: null });
    try {
      const page = await api.logs(logsApiQuery(state, now, [['limit', PAGE_SIZE], ['cursor', nextCursor]]));
      setMore({ key: pageKey, records: [...extra.records, ...page.records], cursor: page.next_cursor, error: null, loading: false });
    } catch (error) {
      setMore({ ...extra, error, loading: false });
    }
  };
  const tail = useTail(state);
  return (
    <section data-testid="logs-page" data-loading={first.loading || histogram.loading ? 'true' : 'false'}>
      <header class="page-header">
        <h1>Logs</h1>
        <div class="controls">
          <button type="button" onClick={() => setRefreshes(refreshes + 1)}>
            Refresh
          </button>
        </div>
      </header>
      <LogsForm state={state} />
      {state.live ? (
        <div class="live-tail" data-testid="live-tail">
          <h2>
            Live tail <span class="muted small">newest first; records matching the filters as they arrive</span>
          </h2>
          {tail.error ? <ErrorPanel error={tail.error} what="the live tail" /> : null}
          {tail.skipped ? <p class="warning small">The tail fell behind: {tail.skipped} batches were skipped.</p> : null}
          {tail.records.length === 0 && !tail.error ? <p class="muted">Waiting for new records…</p> : null}
          {tail.records.length ? <RecordsTable records={tail.records} testId="tail-results" /> : null}
        </div>
      ) : null}
      {histogram.error ? <ErrorPanel error={histogram.error} what="the histogram" /> : null}
      {histogram.data && histogram.data.total > 0 ? <Histogram histogram={histogram.data} /> : null}
      {first.error ? <ErrorPanel error={first.error} what="the logs" /> : null}
      {!first.data && first.loading ? <Loading what="logs" /> : null}
      {first.data && records.length === 0 ? (
        <EmptyState title="No log record matches in this range.">
          <p>
            Try a longer range or fewer filters. Logs arrive over OTLP: point your SDK's log exporter at{' '}
            <code>{otlpEndpoint()}</code>, or send a record by hand:
          </p>
          <pre class="code">{logsCurlExample(otlpEndpoint())}</pre>
        </EmptyState>
      ) : null}
      {records.length ? <RecordsTable records={records} testId="log-results" /> : null}
      {extra.error ? <ErrorPanel error={extra.error} what="more logs" /> : null}
      {nextCursor && records.length ? (
        <p>
          <button type="button" data-testid="load-more" disabled={extra.loading} onClick={() => void loadMore()}>
            {extra.loading ? 'Loading…' : `Load ${PAGE_SIZE} more`}
          </button>
        </p>
      ) : null}
    </section>
  );
}
