// Service page: `GET /api/v1/services/{service}` for a range — its health, RED charts (uPlot),
// top operations, recent error traces and the services it calls and is called by. The range
// lives in the query string.

import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { TimeChart, type ChartSeries } from '../components/chart';
import { EmptyState, ErrorPanel, Loading } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { formatAgo, formatDurationNanos, formatMillis, formatPercent, formatRate, nanosTextToMillis, shortId } from '../format';
import { navigate } from '../router';
import { alignSeries, hasPoints, otherEnd } from '../service/series';
import type { DependencyEdge, ServicePageResponse } from '../types';
import { useFetch } from '../use-fetch';
import {
  mapEdgePath,
  parseServicePageState,
  searchForOperation,
  searchForService,
  servicePath,
  tracePath,
  windowQuery,
  type RangeKey,
} from '../url';

const RATE_SERIES: ChartSeries[] = [{ label: 'requests/s', color: '#2f6fde' }];
const ERROR_SERIES: ChartSeries[] = [{ label: 'errors', color: '#d63031' }];
const LATENCY_SERIES: ChartSeries[] = [
  { label: 'p50', color: '#1f8a4c' },
  { label: 'p95', color: '#b7791f' },
  { label: 'p99', color: '#d63031' },
];
const formatPercentValue = (percent: number) => formatPercent(percent / 100);

function Charts({ data }: { data: ServicePageResponse }) {
  const { rate, errorRatio, latencyMs } = data.series;
  const columns = useMemo(
    () => ({
      rate: alignSeries([rate]),
      errors: alignSeries([errorRatio], 100),
      latency: alignSeries([latencyMs.p50, latencyMs.p95, latencyMs.p99]),
      window: [nanosTextToMillis(data.startUnixNano) / 1000, nanosTextToMillis(data.endUnixNano) / 1000] as [number, number],
    }),
    [data],
  );
  if (!hasPoints(columns.rate) && !hasPoints(columns.latency)) {
    return (
      <p class="muted" data-testid="no-series">
        No points to chart yet: the series have a point every {data.stepSeconds}s (rates over {data.rateWindowSeconds}s), so
        requests newer than the last point appear with the next one; span metrics are written every{' '}
        <code>collector.flush_interval_seconds</code>. A shorter range has finer points.
      </p>
    );
  }
  return (
    <div class="charts" data-testid="charts">
      <TimeChart title="Requests per second" data={columns.rate} series={RATE_SERIES} format={formatRate} testId="chart-rate" xRange={columns.window} />
      <TimeChart title="Error %" data={columns.errors} series={ERROR_SERIES} format={formatPercentValue} testId="chart-errors" xRange={columns.window} />
      <TimeChart title="Latency" data={columns.latency} series={LATENCY_SERIES} format={formatMillis} testId="chart-latency" xRange={columns.window} />
    </div>
  );
}

function Operations({ data, range }: { data: ServicePageResponse; range: RangeKey }) {
  if (data.operations.length === 0) return <p class="muted">No operations in this range.</p>;
  return (
    <table class="grid" data-testid="operations">
      <thead>
        <tr>
          <th>Operation</th>
          <th>Kind</th>
          <th class="num">Requests</th>
          <th class="num">Rate</th>
          <th class="num">Error %</th>
          <th class="num">p50</th>
          <th class="num">p95</th>
          <th class="num">p99</th>
        </tr>
      </thead>
      <tbody>
        {data.operations.map((operation) => (
          <tr data-operation={operation.name}>
            <td>
              <a href={searchForOperation(data.service.name, operation.name, range)} title="Search this operation's traces">
                {operation.name}
              </a>
            </td>
            <td class="muted">{operation.spanKind.replace(/^SPAN_KIND_/, '').toLowerCase()}</td>
            <td class="num">{Math.round(operation.requests)}</td>
            <td class="num">{formatRate(operation.rate)}</td>
            <td class={`num ${operation.errors > 0 ? 'bad' : ''}`}>{formatPercent(operation.errorRatio)}</td>
            <td class="num">{formatMillis(operation.latencyMs.p50)}</td>
            <td class="num">{formatMillis(operation.latencyMs.p95)}</td>
            <td class="num">{formatMillis(operation.latencyMs.p99)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ErrorTraces({ data }: { data: ServicePageResponse }) {
  if (data.errorTraces.length === 0) {
    return (
      <p class="muted" data-testid="no-error-traces">
        No failed traces through {data.service.name} in this range.
      </p>
    );
  }
  const now = Date.now();
  return (
    <table class="grid" data-testid="error-traces">
      <thead>
        <tr>
          <th>Trace</th>
          <th>Root</th>
          <th>Started</th>
          <th class="num">Duration</th>
          <th class="num">Spans</th>
          <th class="num">Errors</th>
        </tr>
      </thead>
      <tbody>
        {data.errorTraces.map((trace) => (
          <tr data-trace-id={trace.traceId}>
            <td>
              <a href={tracePath(trace.traceId)} class="mono trace-link">
                {shortId(trace.traceId)}
              </a>
            </td>
            <td>
              {trace.rootServiceName ?? '?'}: {trace.rootSpanName ?? 'missing root span'}
            </td>
            <td>{formatAgo(nanosTextToMillis(trace.startTimeUnixNano), now)}</td>
            <td class="num">{formatDurationNanos(trace.durationNanos)}</td>
            <td class="num">{trace.spanCount}</td>
            <td class="num bad">{trace.errorCount}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Edges({ title, edges, service, range, testId }: { title: string; edges: DependencyEdge[]; service: string; range: RangeKey; testId: string }) {
  return (
    <div class="edges-box" data-testid={testId}>
      <h3>{title}</h3>
      {edges.length === 0 ? (
        <p class="muted small">none in this range</p>
      ) : (
        <ul class="edge-list">
          {edges.map((edge) => {
            const end = otherEnd(edge, service);
            return (
              <li data-peer={end.name}>
                {end.isService ? (
                  <a href={servicePath(end.name, range)} class="peer-link">
                    {end.name}
                  </a>
                ) : (
                  <span>{end.name}</span>
                )}{' '}
                {edge.connectionType === 'database' ? <span class="badge">database</span> : null}{' '}
                <span class="muted small">
                  {formatRate(edge.rate)} · <span class={edge.errors > 0 ? 'bad' : ''}>{formatPercent(edge.errorRatio)} err</span> · p95{' '}
                  {formatMillis(edge.latencyMs.p95)}
                </span>{' '}
                <a href={mapEdgePath(edge, range)} class="small" title="This edge on the dependency map">
                  map
                </a>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

function Summary({ data }: { data: ServicePageResponse }) {
  const service = data.service;
  return (
    <dl class="summary" data-testid="service-summary">
      <div>
        <dt>Rate</dt>
        <dd>{formatRate(service.rate)}</dd>
      </div>
      <div>
        <dt>Requests</dt>
        <dd>{Math.round(service.requests)}</dd>
      </div>
      <div>
        <dt>Error %</dt>
        <dd class={service.errors > 0 ? 'bad' : ''}>{formatPercent(service.errorRatio)}</dd>
      </div>
      <div>
        <dt>p50</dt>
        <dd>{formatMillis(service.latencyMs.p50)}</dd>
      </div>
      <div>
        <dt>p95</dt>
        <dd>{formatMillis(service.latencyMs.p95)}</dd>
      </div>
      <div>
        <dt>p99</dt>
        <dd>{formatMillis(service.latencyMs.p99)}</dd>
      </div>
      <div>
        <dt>Probes</dt>
        <dd>
          {service.checks.length === 0
            ? 'none'
            : service.checks.map((check) => `${check.name}: ${check.up === null ? 'pending' : check.up ? 'up' : 'down'}`).join(', ')}
        </dd>
      </div>
      <div>
        <dt>Firing alerts</dt>
        <dd class={service.alerts.length ? 'bad' : ''}>{service.alerts.length ? service.alerts.map((alert) => alert.name).join(', ') : 'none'}</dd>
      </div>
    </dl>
  );
}

export function ServicePage({ name, search }: { name: string; search: string }) {
  const state = parseServicePageState(search);
  const [refreshes, setRefreshes] = useState(0);
  const { data, error, loading } = useFetch(`${name}#${state.range}#${refreshes}`, (signal) =>
    api.service(name, windowQuery(state.range, Date.now()), signal),
  );
  return (
    <section data-testid="service-page" data-loading={loading ? 'true' : 'false'}>
      <header class="page-header">
        <h1>
          {name}{' '}
          {data ? (
            <span class={`health health-${data.service.status}`} data-testid="health">
              {data.service.status}
            </span>
          ) : null}
        </h1>
        <div class="controls">
          <a href={searchForService(name, state.range)} data-testid="service-traces">
            Traces
          </a>
          <a href={`/map?node=${encodeURIComponent(name)}${state.range === '1h' ? '' : `&range=${state.range}`}`}>Map</a>
          <RangeSelect value={state.range} onChange={(range) => navigate(servicePath(name, range), { replace: true })} />
          <button type="button" onClick={() => setRefreshes(refreshes + 1)}>
            Refresh
          </button>
        </div>
      </header>
      {error ? <ErrorPanel error={error} what={`the service ${name}`} /> : null}
      {error ? (
        <EmptyState title="Nothing to show for this service in this range.">
          <p>
            A service appears once it sends spans (or has a health check). Try a longer range, or go back to{' '}
            <a href="/">Services</a>.
          </p>
        </EmptyState>
      ) : null}
      {!data && loading ? <Loading what={`the service ${name}`} /> : null}
      {data && !error ? (
        <>
          {data.service.reasons.length ? <p class="reasons">{data.service.reasons.join('; ')}</p> : null}
          <Summary data={data} />
          <p class="muted small">
            Measured on {data.service.measuredOn === 'entry_spans' ? 'its SERVER and CONSUMER spans' : 'all its spans (it has no entry spans)'};
            one point every {data.stepSeconds}s, rates over {data.rateWindowSeconds}s.
          </p>
          <Charts data={data} />
          <div class="edges-row">
            <Edges title="Called by (upstream)" edges={data.upstream} service={name} range={state.range} testId="upstream" />
            <Edges title="Calls (downstream)" edges={data.downstream} service={name} range={state.range} testId="downstream" />
          </div>
          <h2>Top operations</h2>
          <Operations data={data} range={state.range} />
          <h2>Recent error traces</h2>
          <ErrorTraces data={data} />
        </>
      ) : null}
    </section>
  );
}
