// Services (home): the health table of `GET /api/v1/services` for a time range, sortable by
// any column; range and sort live in the query string. A service's name opens its page, its
// "traces" link the trace search.

import { useState } from 'preact/hooks';
import { api } from '../api';
import { EmptyState, ErrorPanel, Loading, SendDataHint } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { formatMillis, formatPercent, formatRate, millisToNanosText } from '../format';
import { navigate } from '../router';
import { probeSummary, sortServices } from '../sort';
import type { ServiceHealth } from '../types';
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

function ServiceRow({ service, state }: { service: ServiceHealth; state: ServicesState }) {
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
                return (
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
              })}
            </tr>
          </thead>
          <tbody>
            {services.map((service) => (
              <ServiceRow key={service.name} service={service} state={state} />
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
    ]);
    return api.services(query, signal);
  });
}
