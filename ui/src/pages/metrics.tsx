// Metrics explorer: a PromQL box with completion of metric names
// (`/prometheus/api/v1/label/__name__/values`), label names (`/prometheus/api/v1/labels`) and
// label values (`/prometheus/api/v1/label/{name}/values`, `match[]` the selector's metric), a
// graph of the range query (`query_range`, uPlot) and a table of the instant query at the
// range's end. Query, range, step and view live in the query string.

import { useMemo, useRef, useState } from 'preact/hooks';
import { api, type PromAnswer } from '../api';
import { TimeChart, type ChartSeries } from '../components/chart';
import { EmptyState, ErrorPanel, Loading } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import {
  applyCompletion,
  autoStepSeconds,
  completionContext,
  completions,
  matrixToColumns,
  seriesLabel,
  type CompletionContext,
  type PromSeries,
} from '../metrics/promql';
import { navigate } from '../router';
import { useFetch } from '../use-fetch';
import { useDraft } from '../use-draft';
import { metricsStateToQuery, parseMetricsState, rangeMillis, toQuery, type MetricsState } from '../url';

/** Series drawn at most; the table lists them all. */
const MAX_DRAWN = 40;
const PALETTE = ['#2f6fde', '#d63031', '#1f8a4c', '#b7791f', '#8e44ad', '#16a085', '#c0392b', '#2c3e50', '#e67e22', '#7f8c8d'];
const EXAMPLE = 'sum by (service) (rate(traces_span_metrics_calls_total[5m]))';

function go(state: MetricsState, replace = false) {
  navigate(`/metrics-explorer${metricsStateToQuery(state)}`, { replace });
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

function QueryBox({ state }: { state: MetricsState }) {
  const [draft, setDraft] = useDraft(state, metricsStateToQuery(state));
  const metricNames = useFetch('metric-names', (signal) => api.metricNames(signal));
  const labelNames = useFetch('label-names', (signal) => api.labelNames(signal));
  const [context, setContext] = useState<CompletionContext | null>(null);
  const [active, setActive] = useState(0);
  const box = useRef<HTMLTextAreaElement>(null);
  // Values are fetched per label and metric as the cursor enters a matcher's string.
  const valueOf = context?.kind === 'value' ? { label: context.label, metric: context.metric } : null;
  const labelValues = useFetch(valueOf ? JSON.stringify(valueOf) : null, (signal) =>
    valueOf ? api.labelValues(valueOf.label, valueOf.metric, signal) : Promise.resolve([]),
  );
  const names =
    context?.kind === 'label'
      ? (labelNames.data ?? []).filter((name) => name !== '__name__')
      : context?.kind === 'value'
        ? // The previous label's values are kept while the next load: show none until they come.
          labelValues.loading
          ? []
          : (labelValues.data ?? [])
        : (metricNames.data ?? []);
  const options = context ? completions(context, names) : [];
  const refresh = (text: string, cursor: number) => {
    setContext(completionContext(text, cursor));
    setActive(0);
  };
  const choose = (choice: string) => {
    const element = box.current;
    if (!element || !context) return;
    const next = applyCompletion(element.value, element.selectionStart, context, choice);
    // Set the text and the cursor at once, so keys typed right after land after the completion.
    element.value = next.text;
    element.focus();
    element.setSelectionRange(next.cursor, next.cursor);
    setDraft({ ...draft, query: next.text });
    setContext(null);
  };
  const run = () => {
    setContext(null);
    go({ ...draft, query: draft.query.trim() });
  };
  return (
    <form
      class="metrics-form"
      data-testid="metrics-form"
      onSubmit={(event) => {
        event.preventDefault();
        run();
      }}
    >
      <div class="query-box">
        <textarea
          ref={box}
          name="query"
          rows={3}
          spellcheck={false}
          autocomplete="off"
          placeholder={`PromQL, e.g. ${EXAMPLE}`}
          value={draft.query}
          aria-autocomplete="list"
          onInput={(event) => {
            const element = event.target as HTMLTextAreaElement;
            setDraft({ ...draft, query: element.value });
            refresh(element.value, element.selectionStart);
          }}
          onClick={(event) => {
            const element = event.target as HTMLTextAreaElement;
            refresh(element.value, element.selectionStart);
          }}
          onBlur={() => setTimeout(() => setContext(null), 150)}
          onKeyDown={(event) => {
            if (options.length && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
              event.preventDefault();
              setActive((active + (event.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length);
            } else if (options.length && (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey))) {
              event.preventDefault();
              choose(options[active] ?? options[0]!);
            } else if (event.key === 'Escape') {
              setContext(null);
            } else if (event.key === 'Enter' && !event.shiftKey) {
              event.preventDefault();
              run();
            }
          }}
        />
        {options.length ? (
          <ul class="completions" role="listbox" data-testid="completions" data-kind={context?.kind}>
            {options.map((option, index) => (
              <li
                role="option"
                aria-selected={index === active}
                class={index === active ? 'active' : ''}
                onMouseDown={(event) => {
                  event.preventDefault();
                  choose(option);
                }}
              >
                <span class="muted small">{context?.kind ?? 'metric'}</span> {option}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <div class="metrics-controls">
        <RangeSelect value={draft.range} onChange={(range) => setDraft({ ...draft, range })} />
        <label>
          Step{' '}
          <input
            name="step"
            size={6}
            value={draft.step}
            placeholder={`${autoStepSeconds(rangeMillis(draft.range))}s`}
            onInput={(event) => setDraft({ ...draft, step: (event.target as HTMLInputElement).value.trim() })}
          />
        </label>
        <button type="submit" class="primary">
          Run
        </button>
        <span class="muted small">Completes metrics, labels and, inside a matcher's quotes, label values; Tab or Enter picks, Shift+Enter for a new line.</span>
      </div>
    </form>
  );
}

function Graph({ state, now }: { state: MetricsState; now: number }) {
  const startSeconds = (now - rangeMillis(state.range)) / 1000;
  const endSeconds = now / 1000;
  const query = toQuery([
    ['query', state.query],
    ['start', startSeconds.toFixed(3)],
    ['end', endSeconds.toFixed(3)],
    ['step', state.step || autoStepSeconds(rangeMillis(state.range))],
  ]);
  const { data, error, loading } = useFetch(query, (signal) => api.queryRange(query, signal));
  const result = data?.data?.result ?? [];
  const drawn = result.slice(0, MAX_DRAWN);
  const columns = useMemo(() => matrixToColumns(drawn), [data]);
  const series: ChartSeries[] = useMemo(
    () => drawn.map((entry, index) => ({ label: seriesLabel(entry.metric), color: PALETTE[index % PALETTE.length]! })),
    [data],
  );
  if (error) return <ErrorPanel error={error} what="the query" />;
  if (!data && loading) return <Loading what="the graph" />;
  if (!data) return null;
  return (
    <div data-testid="graph-view" data-series={result.length} data-loading={loading ? 'true' : 'false'}>
      <Warnings answer={data} />
      {result.length === 0 ? (
        <NoData />
      ) : (
        <>
          {result.length > MAX_DRAWN ? <p class="warning small">Drawing the first {MAX_DRAWN} of {result.length} series.</p> : null}
          <TimeChart title={state.query} data={columns} series={series} format={formatNumber} testId="metrics-chart" xRange={[startSeconds, endSeconds]} />
        </>
      )}
    </div>
  );
}

function Warnings({ answer }: { answer: PromAnswer<unknown> }) {
  return answer.warnings?.length ? <p class="warning small">{answer.warnings.join('; ')}</p> : null;
}

function NoData() {
  return (
    <EmptyState title="The query returned no series.">
      <p>
        Check the metric and label names (the box completes them), or widen the range. Span metrics and the service graph are
        derived from traces; metrics also arrive over OTLP and Prometheus remote write.
      </p>
    </EmptyState>
  );
}

function Table({ state, now }: { state: MetricsState; now: number }) {
  const query = toQuery([
    ['query', state.query],
    ['time', (now / 1000).toFixed(3)],
  ]);
  const { data, error, loading } = useFetch(query, (signal) => api.queryInstant(query, signal));
  if (error) return <ErrorPanel error={error} what="the query" />;
  if (!data && loading) return <Loading what="the table" />;
  const result = data?.data?.result;
  if (!data || result === undefined) return null;
  const rows: PromSeries[] =
    data.data?.resultType === 'scalar' || data.data?.resultType === 'string'
      ? [{ metric: {}, value: result as [number, string] }]
      : (result as PromSeries[]);
  return (
    <div data-testid="table-view" data-series={rows.length}>
      <Warnings answer={data} />
      {rows.length === 0 ? (
        <NoData />
      ) : (
        <table class="grid" data-testid="metrics-table">
          <thead>
            <tr>
              <th>Series</th>
              <th class="num">Value</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr>
                <td class="mono">{seriesLabel(row.metric)}</td>
                <td class="num">{row.value ? formatNumber(Number(row.value[1])) : row.values?.length ? `${row.values.length} points` : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function MetricsPage({ search }: { search: string }) {
  const state = parseMetricsState(search);
  const [refreshes, setRefreshes] = useState(0);
  const now = useMemo(() => Date.now(), [metricsStateToQuery(state), refreshes]);
  return (
    <section data-testid="metrics-page">
      <header class="page-header">
        <h1>Metrics explorer</h1>
        <div class="controls">
          <button type="button" onClick={() => setRefreshes(refreshes + 1)}>
            Refresh
          </button>
        </div>
      </header>
      <QueryBox state={state} />
      <div class="mode-tabs view-tabs" role="tablist">
        {(['graph', 'table'] as const).map((view) => (
          <button
            type="button"
            role="tab"
            data-view={view}
            aria-selected={state.view === view}
            class={state.view === view ? 'active' : ''}
            onClick={() => go({ ...state, view }, true)}
          >
            {view === 'graph' ? 'Graph' : 'Table'}
          </button>
        ))}
      </div>
      {state.query === '' ? (
        <EmptyState title="Write a PromQL query to graph it.">
          <p>
            For example <a href={`/metrics-explorer${metricsStateToQuery({ ...state, query: EXAMPLE })}`}>{EXAMPLE}</a>: requests
            per second of every service, from the span metrics derived from traces.
          </p>
        </EmptyState>
      ) : state.view === 'graph' ? (
        <Graph key={`${metricsStateToQuery(state)}#${refreshes}`} state={state} now={now} />
      ) : (
        <Table key={`${metricsStateToQuery(state)}#${refreshes}`} state={state} now={now} />
      )}
    </section>
  );
}
