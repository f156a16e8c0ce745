// Services (home): the health table of `GET /api/v1/services` for a time range, sortable by
// any column, with a sparkline per service (request rate, failures in red; the API's
// `sparkline_points`); range and sort live in the query string. A service's name opens its
// page, its "traces" link the trace search.

import { useState } from 'preact/hooks';
import { api } from '../api';
import { EmptyState, ErrorPanel, Loading, SendDataHint } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { formatMillis, formatPercent, formatRate, millisToNanosText, nanosTextToMillis } from '../format';
import { navigate } from '../router';
import { sparklineShape } from '../service/sparkline';
import { probeSummary, sortServices } from '../sort';
import type { ServiceHealth, ServicesResponse } from '../types';
import { useFetch } from '../use-fetch';
import {
  parseServicesState,
  rangeMillis,
  searchForService,
  servicePath,
  servicesStateToQuery,
  toggleSort,
  toQuery,
  type ServiceSortKey,
  type ServicesState,
} from '../url';

const COLUMNS: { key: ServiceSortKey; label: string; numeric: boolean; title?: string }[] = [
  { key: 'name', label: 'Service', numeric: false },
  { key: 'status', label: 'Health', numeric: false },
  { key: 'rate', label: 'Rate', numeric: true, title: 'Requests per second over the range' },
  { key: 'errorRatio', label: 'Error %', numeric: true },
  { key: 'p50', label: 'p50', numeric: true },
  { key: 'p95', label: 'p95', numeric: true },
  { key: 'p99', label: 'p99', numeric: true },
  { key: 'checks', label: 'Probes', numeric: false, title: 'Health checks ([[health_checks]] or /api/v1/health-checks)' },
  { key: 'alerts', label: 'Firing alerts', numeric: false },
];

/** Points asked for each sparkline: about four pixels apart at its width. */
const SPARKLINE_POINTS = 30;
const SPARKLINE_WIDTH = 120;
const SPARKLINE_HEIGHT = 26;
const SPARKLINE_PAD = 1.5;

/** The time axis every sparkline of one answer shares. */
interface SparklineAxis {
  startMs: number;
  endMs: number;
  stepMs: number;
}

function sparklineAxis(data: ServicesResponse): SparklineAxis {
  return {
    startMs: nanosTextToMillis(data.startUnixNano),
    endMs: nanosTextToMillis(data.endUnixNano),
    stepMs: (data.sparklineStepSeconds ?? 0) * 1000,
  };
}

function go(state: ServicesState, replace = false) {
  navigate(`/${servicesStateToQuery(state)}`, { replace });
}

function ProbeCell({ service }: { service: ServiceHealth }) {
  if (service.checks.length === 0) return <span class="muted">none</span>;
  const { up, down, unknown } = probeSummary(service.checks);
  const names = service.checks
    .map((check) => `${check.name} (${check.probe} ${check.instance}): ${check.up === null ? 'not probed yet' : check.up ? 'up' : 'down'}`)
    .join('\n');
  const cls = down > 0 ? 'probe-down' : unknown > 0 ? 'probe-unknown' : 'probe-up';
  return (
    <span class={cls} title={names}>
      {down > 0 ? `${down} down` : `${up}/${service.checks.length} up`}
      {unknown > 0 && down > 0 ? `, ${unknown} pending` : ''}
    </span>
  );
}

function AlertsCell({ service }: { service: ServiceHealth }) {
  if (service.alerts.length === 0) return <span class="muted">none</span>;
  return (
    <span class="alerts">
      {service.alerts.map((alert) => (
        <span class={`alert-chip severity-${alert.severity || 'none'}`} title={alert.severity ? `severity ${alert.severity}` : ''}>
          {alert.name}
        </span>
      ))}
    </span>
  );
}

function SparklineCell({ service, axis }: { service: ServiceHealth; axis: SparklineAxis }) {
  const line = service.sparkline;
  if (!line || line.rate.length === 0) return <span class="muted small">no requests</span>;
  const shape = sparklineShape(line.rate, line.errorRatio, {
    width: SPARKLINE_WIDTH,
    height: SPARKLINE_HEIGHT,
    ...axis,
    pad: SPARKLINE_PAD,
  });
  const title =
    `Requests per second over the range, peak ${formatRate(shape.peakRate)}` +
    (shape.errors ? `; failed requests in red, error ratio up to ${formatPercent(shape.peakErrorRatio)}` : '; none failed');
  return (
    <svg
      class="sparkline"
      data-testid="sparkline"
      data-points={line.rate.length}
      data-failing={shape.errors ? 'true' : 'false'}
      width={SPARKLINE_WIDTH}
      height={SPARKLINE_HEIGHT}
      viewBox={`0 0 ${SPARKLINE_WIDTH} ${SPARKLINE_HEIGHT}`}
      role="img"
      aria-label={title}
    >
      <title>{title}</title>
      <line class="sparkline-axis" x1={SPARKLINE_PAD} x2={SPARKLINE_WIDTH - SPARKLINE_PAD} y1={shape.baseline} y2={shape.baseline} />
      <path class="sparkline-rate-area" d={shape.rateArea} />
      {shape.errors ? <path class="sparkline-errors" d={shape.errors} /> : null}
      <path class="sparkline-rate" d={shape.rate} />
    </svg>
  );
}

function ServiceRow({ service, state, axis }: { service: ServiceHealth; state: ServicesState; axis: SparklineAxis }) {
  const latency = service.latencyMs;
  return (
    <tr data-service={service.name}>
      <td>
        <a href={servicePath(service.name, state.range)} class="service-link" title="This service's page: RED charts, operations, error traces, dependencies">
          {service.name}
        </a>{' '}
        <a href={searchForService(service.name, state.range)} class="traces-link small" title="Search this service's traces">
          traces
        </a>
        {service.measuredOn === 'all_spans' ? (
          <span class="muted small" title="No SERVER or CONSUMER spans: measured on all its spans">
            {' '}
            (all spans)
          </span>
        ) : null}
      </td>
      <td>
        <span class={`health health-${service.status}`} data-testid="health">
          {service.status}
        </span>
        {service.reasons.length ? <div class="reasons">{service.reasons.join('; ')}</div> : null}
      </td>
      <td class="num">{formatRate(service.rate)}</td>
      <td class={`num ${service.errors > 0 ? 'bad' : ''}`} title={`${service.errors} of ${service.requests} requests failed`}>
        {formatPercent(service.errorRatio)}
      </td>
      <td class="trend">
        <SparklineCell service={service} axis={axis} />
      </td>
      <td class="num">{formatMillis(latency.p50)}</td>
      <td class="num">{formatMillis(latency.p95)}</td>
      <td class="num">{formatMillis(latency.p99)}</td>
      <td>
        <ProbeCell service={service} />
      </td>
      <td>
        <AlertsCell service={service} />
      </td>
    </tr>
  );
}

export function ServicesPage({ search }: { search: string }) {
  const state = parseServicesState(search);
  const [refreshes, setRefreshes] = useState(0);
  const { data, error, loading } = useServices(state, refreshes);
  const services = data ? sortServices(data.services, state.sort, state.order) : [];
  const axis = data ? sparklineAxis(data) : { startMs: 0, endMs: 0, stepMs: 0 };
  return (
    <section>
      <header class="page-header">
        <h1>Services</h1>
        <div class="controls">
          <RangeSelect value={state.range} onChange={(range) => go({ ...state, range })} />
          <button type="button" onClick={() => setRefreshes(refreshes + 1)}>
            Refresh
          </button>
        </div>
      </header>
      {error ? <ErrorPanel error={error} what="the services" /> : null}
      {!data && loading ? <Loading what="services" /> : null}
      {data && services.length === 0 ? (
        <EmptyState title="No service has sent spans or health-check results in this range.">
          <SendDataHint />
        </EmptyState>
      ) : null}
      {services.length > 0 ? (
        <table class="grid services-table" data-testid="services">
          <thead>
            <tr>
              {COLUMNS.map((column) => {
                const sorted = state.sort === column.key;
                const header = (
                  <th
                    class={column.numeric ? 'num' : ''}
                    aria-sort={sorted ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none'}
                    title={column.title}
                  >
                    <button type="button" class="sort" data-sort={column.key} onClick={() => go(toggleSort(state, column.key), true)}>
                      {column.label}
                      <span class="sort-mark">{sorted ? (state.order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
                    </button>
                  </th>
                );
                // The sparklines follow the error ratio; they do not sort.
                return column.key === 'errorRatio' ? (
                  <>
                    {header}
                    <th class="trend" title="Requests per second over the range; failed requests in red, on the same scale">
                      Trend
                    </th>
                  </>
                ) : (
                  header
                );
              })}
            </tr>
          </thead>
          <tbody>
            {services.map((service) => (
              <ServiceRow key={service.name} service={service} state={state} axis={axis} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function useServices(state: ServicesState, refreshes: number) {
  return useFetch(`${state.range}#${refreshes}`, (signal) => {
    const now = Date.now();
    const query = toQuery([
      ['start', millisToNanosText(now - rangeMillis(state.range))],
      ['end', millisToNanosText(now)],
      ['sparkline_points', SPARKLINE_POINTS],
    ]);
    return api.services(query, signal);
  });
}
