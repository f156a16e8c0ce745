// Logs explorer. The query box takes the native syntax (words, "phrases", AND/OR/NOT,
// key:value; `GET /api/v1/logs`, `/api/v1/logs/histogram`, with service, minimum severity
// and range filters, and a live tail over `/api/v1/logs/tail`) or LogQL (a stream selector
// `{…}` and pipeline, or a metric query, run through `/loki/api/v1/query_range`); a badge
// next to it says which. Log queries show a histogram of matches over time and a virtualised
// list with severity colours, details on a click and a link to the trace, more pages on
// demand; a LogQL metric query draws its series instead. Everything lives in the query string.

import { useMemo, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { api, ApiError } from '../api';
import { EmptyState, ErrorPanel, Loading, otlpEndpoint } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { lazyPage } from '../lazy';
import { Histogram } from '../logs/histogram';
import type { PagedLines } from '../logs/lines';
import { LogList } from '../logs/list';
import { isLogql, querySyntax, type QuerySyntax } from '../logs/logql';
import { LOGQL_PAGE_SIZE, useLogqlLogs } from '../logs/use-logql';
import { NATIVE_PAGE_SIZE, useNativeLogs, useTail } from '../logs/use-native';
import { navigate } from '../router';
import { useFetch } from '../use-fetch';
import { useDraft } from '../use-draft';
import { LOG_SEVERITIES, logsStateToQuery, parseLogsState, type LogsState } from '../url';

/** The chart of a metric query, loaded (with uPlot) only when one answers. */
const MetricChart = lazyPage(() => import('../logs/metric-chart').then((module) => module.MetricChart), 'chart');

const LOGQL_EXAMPLE = '{service_name="checkout"} |= "declined" | json | level="error"';
const TAIL_NOT_FOR_LOGQL =
  "Live tail works with the native query syntax only: Loki's tail is a WebSocket (/loki/api/v1/tail), which this server does not serve.";

function go(state: LogsState, replace = false) {
  navigate(`/logs${logsStateToQuery(state)}`, { replace });
}

/** The server's reason when it refused the query itself (400: a parse error, a bad parameter), else null. */
function refusal(error: unknown): string | null {
  return error instanceof ApiError && error.status === 400 ? error.detail : null;
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

/** The query's syntax as a badge next to the box, explained in its tooltip. */
function SyntaxBadge({ syntax }: { syntax: QuerySyntax }) {
  const logql = isLogql(syntax);
  const title = logql
    ? 'LogQL, run through the Loki API (/loki/api/v1/query_range). Service and severity do not apply: filter in the stream selector and pipeline.'
    : `The native search syntax: words, "phrases", AND / OR / NOT, key:value. Start with a stream selector for LogQL, e.g. ${LOGQL_EXAMPLE}`;
  return (
    <span class={`query-mode${logql ? ' logql' : ''}`} data-testid="query-mode" data-mode={logql ? 'logql' : 'native'} title={title}>
      {logql ? 'LogQL' : 'native'}
    </span>
  );
}

function LogsForm({ state, refused }: { state: LogsState; refused: string | null }) {
  const [draft, setDraft] = useDraft(state, logsStateToQuery(state));
  const services = useFetch('services', (signal) => api.serviceNames(signal));
  const draftIsLogql = isLogql(querySyntax(draft.q));
  const runningLogql = isLogql(querySyntax(state.q));
  const filterNote = draftIsLogql ? 'LogQL filters in the query itself' : undefined;
  return (
    <form
      class="search-form logs-form"
      data-testid="logs-form"
      onSubmit={(event) => {
        event.preventDefault();
        // LogQL filters in its selector and pipeline, and has no live tail here.
        go(draftIsLogql ? { ...draft, q: draft.q.trim(), service: '', severity: '', live: false } : { ...draft, live: state.live });
      }}
    >
      <label class="query">
        Query
        <span class="query-line">
          <input
            name="q"
            value={draft.q}
            spellcheck={false}
            autocomplete="off"
            placeholder={`words, "a phrase", AND / OR / NOT, key:value — or LogQL: ${LOGQL_EXAMPLE}`}
            onInput={(event) => setDraft({ ...draft, q: (event.target as HTMLInputElement).value })}
          />
          <SyntaxBadge syntax={querySyntax(draft.q)} />
        </span>
      </label>
      <label title={filterNote}>
        Service
        <input
          name="service"
          list="log-services"
          value={draftIsLogql ? '' : draft.service}
          placeholder={draftIsLogql ? 'in the query' : 'any'}
          disabled={draftIsLogql}
          onInput={(event) => setDraft({ ...draft, service: (event.target as HTMLInputElement).value })}
        />
        <datalist id="log-services">
          {(services.data ?? []).map((name) => (
            <option value={name} />
          ))}
        </datalist>
      </label>
      <label title={filterNote}>
        Severity at least
        <select
          name="severity"
          value={draftIsLogql ? '' : draft.severity}
          disabled={draftIsLogql}
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
        class={state.live && !runningLogql ? 'active' : ''}
        aria-pressed={state.live && !runningLogql}
        disabled={runningLogql}
        title={runningLogql ? TAIL_NOT_FOR_LOGQL : 'Show matching records as they arrive'}
        onClick={() => go({ ...state, live: !state.live }, true)}
      >
        {state.live && !runningLogql ? 'Stop live tail' : 'Live tail'}
      </button>
      {refused ? (
        <p class="query-error" role="alert" data-testid="query-error">
          The query was refused: {refused}
        </p>
      ) : null}
    </form>
  );
}

/** The page around a view: its title, the refresh button, and whether anything is loading. */
function Shell({ loading, onRefresh, children }: { loading: boolean; onRefresh: () => void; children: ComponentChildren }) {
  return (
    <section data-testid="logs-page" data-loading={loading ? 'true' : 'false'}>
      <header class="page-header">
        <h1>Logs</h1>
        <div class="controls">
          <button type="button" onClick={onRefresh}>
            Refresh
          </button>
        </div>
      </header>
      {children}
    </section>
  );
}

/** The result list with its count, the empty state and the "more" button. */
function Results({ pages, pageSize, listKey, empty }: { pages: PagedLines; pageSize: number; listKey: string; empty: ComponentChildren }) {
  if (!pages.loaded && pages.loading) return <Loading what="logs" />;
  return (
    <>
      {pages.loaded && pages.lines.length === 0 && !pages.error ? empty : null}
      {pages.lines.length ? (
        <>
          <p class="muted small logs-note" data-testid="log-count">
            {pages.lines.length} line{pages.lines.length === 1 ? '' : 's'} shown, newest first{pages.hasMore ? '; older ones on demand' : ''}
          </p>
          <LogList key={listKey} lines={pages.lines} testId="log-results" />
        </>
      ) : null}
      {pages.moreError ? <ErrorPanel error={pages.moreError} what="more logs" /> : null}
      {pages.hasMore ? (
        <p>
          <button type="button" data-testid="load-more" disabled={pages.moreLoading} onClick={pages.loadMore}>
            {pages.moreLoading ? 'Loading…' : `Load ${pageSize} more`}
          </button>
        </p>
      ) : null}
    </>
  );
}

function NativeEmpty() {
  return (
    <EmptyState title="No log record matches in this range.">
      <p>
        Try a longer range or fewer filters. Logs arrive over OTLP: point your SDK's log exporter at <code>{otlpEndpoint()}</code>, or
        send a record by hand:
      </p>
      <pre class="code">{logsCurlExample(otlpEndpoint())}</pre>
    </EmptyState>
  );
}

interface ViewProps {
  state: LogsState;
  nowMs: number;
  fetchKey: string;
  onRefresh: () => void;
}

function NativeView({ state, nowMs, fetchKey, onRefresh }: ViewProps) {
  const { histogram, pages } = useNativeLogs(state, nowMs, fetchKey);
  const tail = useTail(state, state.live);
  const refused = refusal(pages.error);
  return (
    <Shell loading={pages.loading || histogram.loading} onRefresh={onRefresh}>
      <LogsForm state={state} refused={refused} />
      {state.live ? (
        <div class="live-tail" data-testid="live-tail">
          <h2>
            Live tail <span class="muted small">newest first; records matching the filters as they arrive</span>
          </h2>
          {tail.error ? <ErrorPanel error={tail.error} what="the live tail" /> : null}
          {tail.skipped ? <p class="warning small">The tail fell behind: {tail.skipped} batches were skipped.</p> : null}
          {tail.lines.length === 0 && !tail.error ? <p class="muted">Waiting for new records…</p> : null}
          {tail.lines.length ? <LogList lines={tail.lines} testId="tail-results" compact /> : null}
        </div>
      ) : null}
      {histogram.error && !refusal(histogram.error) ? <ErrorPanel error={histogram.error} what="the histogram" /> : null}
      {histogram.data && histogram.data.total > 0 ? <Histogram histogram={histogram.data} /> : null}
      {pages.error && !refused ? <ErrorPanel error={pages.error} what="the logs" /> : null}
      <Results pages={pages} pageSize={NATIVE_PAGE_SIZE} listKey={fetchKey} empty={<NativeEmpty />} />
    </Shell>
  );
}

function LogqlView({ state, syntax, nowMs, fetchKey, onRefresh }: ViewProps & { syntax: QuerySyntax }) {
  const result = useLogqlLogs(state, syntax, nowMs, fetchKey);
  const { pages, histogram } = result;
  const refused = refusal(pages.error);
  const settled = !pages.loading && !pages.error;
  return (
    <Shell loading={pages.loading || histogram.loading} onRefresh={onRefresh}>
      <LogsForm state={state} refused={refused} />
      {state.live ? (
        <p class="muted small logs-note" data-testid="tail-unavailable">
          {TAIL_NOT_FOR_LOGQL}
        </p>
      ) : null}
      {pages.error && !refused ? <ErrorPanel error={pages.error} what="the LogQL query" /> : null}
      {result.resultType === null ? (
        pages.loading ? (
          <Loading what={syntax === 'logql-metric' ? 'the series' : 'logs'} />
        ) : null
      ) : result.resultType === 'matrix' ? (
        <MetricChart query={state.q} series={result.matrix} window={result.window} />
      ) : result.resultType === 'streams' ? (
        <>
          {histogram.error && settled ? <ErrorPanel error={histogram.error} what="the histogram" /> : null}
          {histogram.data && histogram.data.total > 0 ? <Histogram histogram={histogram.data} what="matching line" /> : null}
          <Results
            pages={pages}
            pageSize={LOGQL_PAGE_SIZE}
            listKey={fetchKey}
            empty={
              <EmptyState title="No log line matches in this range.">
                <p>
                  Check the stream selector's labels (<code>service_name</code>, <code>level</code>, and the resource's promoted
                  attributes) and the pipeline, or try a longer range.
                </p>
              </EmptyState>
            }
          />
        </>
      ) : (
        <p class="warning">The Loki API answered a {result.resultType}, which this page does not show.</p>
      )}
    </Shell>
  );
}

export function LogsPage({ search }: { search: string }) {
  const state = parseLogsState(search);
  const syntax = querySyntax(state.q);
  const key = logsStateToQuery({ ...state, live: false });
  const [refreshes, setRefreshes] = useState(0);
  const nowMs = useMemo(() => Date.now(), [key, refreshes]);
  const props: ViewProps = { state, nowMs, fetchKey: `${key}#${refreshes}`, onRefresh: () => setRefreshes(refreshes + 1) };
  return isLogql(syntax) ? <LogqlView {...props} syntax={syntax} /> : <NativeView {...props} />;
}
