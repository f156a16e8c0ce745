// Trace search: a form whose fields are the query string, the results of
// `GET /api/v1/traces?...` as a list and as a duration-over-time scatter plot.

import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { EmptyState, ErrorPanel, Loading, SendDataHint } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { ScatterPlot, type ScatterPoint } from '../components/scatter';
import { formatAgo, formatDurationNanos, formatTimestamp, nanosTextToMillis, shortId } from '../format';
import { navigate } from '../router';
import type { TraceSummary } from '../types';
import { useFetch } from '../use-fetch';
import { useDraft } from '../use-draft';
import {
  MAX_LIMIT,
  parseSearchState,
  searchApiQuery,
  searchStateToQuery,
  STATUSES,
  tracePath,
  type SearchState,
} from '../url';

function inputValue(event: Event): string {
  return (event.target as HTMLInputElement | HTMLSelectElement).value;
}

function SearchForm({ initial, onSearch }: { initial: SearchState; onSearch: () => void }) {
  const [form, setForm] = useDraft(initial, searchStateToQuery(initial));
  const services = useFetch('services', (signal) => api.serviceNames(signal));
  const operations = useFetch(form.service ? `ops:${form.service}` : null, (signal) =>
    api.operationNames(form.service, signal),
  );
  const set = (patch: Partial<SearchState>) => setForm({ ...form, ...patch });
  const serviceNames = services.data ?? [];
  const operationNames = operations.data ?? [];
  const absolute = form.start !== '' && form.end !== '';
  return (
    <form
      class="search-form"
      data-testid="search-form"
      onSubmit={(event) => {
        event.preventDefault();
        navigate(`/traces${searchStateToQuery(form)}`);
        // The same search again runs again (a relative range has moved on).
        onSearch();
      }}
    >
      {services.error ? <ErrorPanel error={services.error} what="the service names" /> : null}
      <label>
        Service
        <select name="service" value={form.service} onChange={(event) => set({ service: inputValue(event), operation: '', peerService: '' })}>
          <option value="">All services</option>
          {form.service && !serviceNames.includes(form.service) ? <option value={form.service}>{form.service}</option> : null}
          {serviceNames.map((name) => (
            <option value={name}>{name}</option>
          ))}
        </select>
      </label>
      <label title="Only traces in which the service calls this service, database or peer (an edge of the dependency map)">
        Calling
        <input
          name="peerService"
          list="search-peer-names"
          placeholder={form.service ? 'any' : 'pick a service first'}
          size={12}
          disabled={!form.service}
          value={form.peerService}
          onInput={(event) => set({ peerService: inputValue(event) })}
        />
        <datalist id="search-peer-names">
          {serviceNames
            .filter((name) => name !== form.service)
            .map((name) => (
              <option value={name} />
            ))}
        </datalist>
      </label>
      <label>
        Operation
        <select name="operation" value={form.operation} disabled={!form.service} onChange={(event) => set({ operation: inputValue(event) })}>
          <option value="">All operations</option>
          {form.operation && !operationNames.includes(form.operation) ? <option value={form.operation}>{form.operation}</option> : null}
          {operationNames.map((name) => (
            <option value={name}>{name}</option>
          ))}
        </select>
      </label>
      <label class="wide">
        Attributes
        <input
          name="tags"
          placeholder='http.route=/cart db.system="redis"'
          value={form.tags}
          onInput={(event) => set({ tags: inputValue(event) })}
        />
      </label>
      <label>
        Min duration
        <input name="minDuration" placeholder="e.g. 100ms" size={8} value={form.minDuration} onInput={(event) => set({ minDuration: inputValue(event) })} />
      </label>
      <label>
        Max duration
        <input name="maxDuration" placeholder="e.g. 2s" size={8} value={form.maxDuration} onInput={(event) => set({ maxDuration: inputValue(event) })} />
      </label>
      <label>
        Status
        <select name="status" value={form.status} onChange={(event) => set({ status: inputValue(event) as SearchState['status'] })}>
          <option value="">Any</option>
          {STATUSES.map((status) => (
            <option value={status}>{status}</option>
          ))}
        </select>
      </label>
      <label>
        Time range
        {absolute ? (
          <span class="absolute-range">
            {form.start} – {form.end}{' '}
            <button type="button" class="link" onClick={() => set({ start: '', end: '' })}>
              use a relative range
            </button>
          </span>
        ) : (
          <RangeSelect value={form.range} onChange={(range) => set({ range })} />
        )}
      </label>
      <label>
        Limit
        <input
          name="limit"
          type="number"
          min={1}
          max={MAX_LIMIT}
          size={5}
          value={form.limit}
          onInput={(event) => set({ limit: Math.max(1, Math.min(MAX_LIMIT, Number(inputValue(event)) || 1)) })}
        />
      </label>
      <button type="submit" class="primary">
        Search
      </button>
    </form>
  );
}

function ResultRow({ trace, maxDuration, nowMs }: { trace: TraceSummary; maxDuration: number; nowMs: number }) {
  const startMs = nanosTextToMillis(trace.startTimeUnixNano);
  const width = maxDuration > 0 ? Math.max(1, (trace.durationNanos / maxDuration) * 100) : 0;
  return (
    <tr data-trace-id={trace.traceId} class={trace.errorCount > 0 ? 'has-errors' : ''}>
      <td>
        <a href={tracePath(trace.traceId)} class="trace-link mono" title={trace.traceId}>
          {shortId(trace.traceId)}
        </a>
      </td>
      <td>
        <a href={tracePath(trace.traceId)} class="plain">
          <strong>{trace.rootServiceName ?? <em>no root span</em>}</strong>
          {trace.rootSpanName ? `: ${trace.rootSpanName}` : ''}
        </a>
        <div class="chips">
          {trace.services.map((service) => (
            <span class="chip" title={`${service.spanCount} spans, ${service.errorCount} errors`}>
              {service.name} {service.spanCount}
            </span>
          ))}
        </div>
      </td>
      <td class="num">{trace.spanCount}</td>
      <td class={`num ${trace.errorCount > 0 ? 'bad' : ''}`}>{trace.errorCount}</td>
      <td class="duration-cell">
        <span class="duration-bar" style={{ width: `${width}%` }} />
        <span class="num">{formatDurationNanos(trace.durationNanos)}</span>
      </td>
      <td title={formatTimestamp(startMs)}>{formatAgo(startMs, nowMs)}</td>
    </tr>
  );
}

function Results({ search, runs }: { search: string; runs: number }) {
  const state = parseSearchState(search);
  const { data, error, loading } = useFetch(`search${search}#${runs}`, (signal) =>
    api.searchTraces(searchApiQuery(state, Date.now()), signal),
  );
  const points = useMemo<ScatterPoint[]>(
    () =>
      (data?.traces ?? []).map((trace) => ({
        id: trace.traceId,
        timeMs: nanosTextToMillis(trace.startTimeUnixNano),
        durationNanos: trace.durationNanos,
        error: trace.errorCount > 0,
        label: `${trace.rootServiceName ?? '?'}: ${trace.rootSpanName ?? '?'}`,
      })),
    [data],
  );
  if (error) return <ErrorPanel error={error} what="the traces" />;
  if (!data) return loading ? <Loading what="traces" /> : null;
  if (data.traces.length === 0) {
    return (
      <EmptyState title="No trace matches this search.">
        <p>Widen the time range or remove a filter. If no data has been sent yet:</p>
        <SendDataHint />
      </EmptyState>
    );
  }
  const nowMs = Date.now();
  const maxDuration = Math.max(...data.traces.map((trace) => trace.durationNanos));
  return (
    <div class={loading ? 'stale' : ''} data-testid="search-results" data-loading={loading ? 'true' : 'false'}>
      <ScatterPlot points={points} onSelect={(point) => navigate(tracePath(point.id))} />
      <p class="muted" data-testid="result-count">
        {data.traces.length} {data.traces.length === 1 ? 'trace' : 'traces'}
        {data.traces.length >= data.limit ? ` (the limit; raise it to see more)` : ''}, most recent first
      </p>
      <table class="grid results" data-testid="results">
        <thead>
          <tr>
            <th>Trace</th>
            <th>Root</th>
            <th class="num">Spans</th>
            <th class="num">Errors</th>
            <th>Duration</th>
            <th>Started</th>
          </tr>
        </thead>
        <tbody>
          {data.traces.map((trace) => (
            <ResultRow key={trace.traceId} trace={trace} maxDuration={maxDuration} nowMs={nowMs} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SearchPage({ search }: { search: string }) {
  const state = parseSearchState(search);
  const [runs, setRuns] = useState(0);
  return (
    <section>
      <header class="page-header">
        <h1>Traces</h1>
      </header>
      <SearchForm initial={state} onSearch={() => setRuns(runs + 1)} />
      <Results search={searchStateToQuery(state)} runs={runs} />
    </section>
  );
}
