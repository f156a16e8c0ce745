// Every page keeps its state in the address (path and query string), so a view can be shared
// by copying it. Each page has a parse (query string → state, with defaults for anything
// missing or invalid) and a serialise (state → query string, leaving defaults out) that
// round-trip.

import { millisToNanosText } from './format';

/** The pages of the UI, from the path. */
export type Route =
  | { page: 'services' }
  | { page: 'search' }
  | { page: 'trace'; traceId: string }
  | { page: 'map' }
  | { page: 'service'; name: string }
  | { page: 'alerts' }
  | { page: 'logs' }
  | { page: 'metrics' }
  | { page: 'notFound'; path: string };

/** Reads the page from a path. */
export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { page: 'services' };
  if (path === '/traces') return { page: 'search' };
  if (path === '/map') return { page: 'map' };
  if (path === '/alerts') return { page: 'alerts' };
  if (path === '/logs') return { page: 'logs' };
  if (path === '/metrics-explorer') return { page: 'metrics' };
  const service = /^\/services\/([^/]+)$/.exec(path);
  if (service?.[1]) return { page: 'service', name: decodeURIComponent(service[1]) };
  const trace = /^\/traces\/([^/]+)$/.exec(path);
  if (trace?.[1]) return { page: 'trace', traceId: decodeURIComponent(trace[1]) };
  return { page: 'notFound', path: pathname };
}

/** The relative time ranges offered by the range selectors. */
export const RANGES = [
  { key: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { key: '24h', label: 'Last 24 hours', ms: 24 * 3_600_000 },
] as const;

export type RangeKey = (typeof RANGES)[number]['key'];

export const DEFAULT_RANGE: RangeKey = '1h';

function parseRange(text: string | null): RangeKey {
  return RANGES.find((range) => range.key === text)?.key ?? DEFAULT_RANGE;
}

/** Milliseconds covered by a range key. */
export function rangeMillis(key: RangeKey): number {
  return RANGES.find((range) => range.key === key)?.ms ?? 3_600_000;
}

/** Builds a query string (with its `?`, or empty) from pairs, leaving out empty values. */
export function toQuery(pairs: [string, string | number | null | undefined][]): string {
  const params = new URLSearchParams();
  for (const [key, value] of pairs) {
    if (value !== null && value !== undefined && value !== '') params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

// ---- Services (home) ----

export const SERVICE_SORT_KEYS = [
  'name',
  'status',
  'rate',
  'errorRatio',
  'p50',
  'p95',
  'p99',
  'checks',
  'alerts',
] as const;

export type ServiceSortKey = (typeof SERVICE_SORT_KEYS)[number];
export type SortOrder = 'asc' | 'desc';

export interface ServicesState {
  range: RangeKey;
  sort: ServiceSortKey;
  order: SortOrder;
}

/** Worst health first, as a status board reads. */
export const DEFAULT_SERVICES_STATE: ServicesState = { range: DEFAULT_RANGE, sort: 'status', order: 'desc' };

export function parseServicesState(search: string): ServicesState {
  const params = new URLSearchParams(search);
  const sort = SERVICE_SORT_KEYS.find((key) => key === params.get('sort'));
  const order = params.get('order');
  return {
    range: parseRange(params.get('range')),
    sort: sort ?? DEFAULT_SERVICES_STATE.sort,
    order: order === 'asc' || order === 'desc' ? order : sort ? defaultOrder(sort) : DEFAULT_SERVICES_STATE.order,
  };
}

export function servicesStateToQuery(state: ServicesState): string {
  const defaults = DEFAULT_SERVICES_STATE;
  const sortIsDefault = state.sort === defaults.sort && state.order === defaults.order;
  return toQuery([
    ['range', state.range === defaults.range ? null : state.range],
    ['sort', sortIsDefault ? null : state.sort],
    ['order', sortIsDefault || state.order === defaultOrder(state.sort) ? null : state.order],
  ]);
}

/** The order a column sorts in when first clicked: names A→Z, figures largest first. */
export function defaultOrder(key: ServiceSortKey): SortOrder {
  return key === 'name' ? 'asc' : 'desc';
}

/** The state after clicking a column header: the same column flips, another starts at its default. */
export function toggleSort(state: ServicesState, key: ServiceSortKey): ServicesState {
  if (state.sort === key) return { ...state, order: state.order === 'asc' ? 'desc' : 'asc' };
  return { ...state, sort: key, order: defaultOrder(key) };
}

// ---- Trace search ----

export const STATUSES = ['error', 'ok', 'unset'] as const;
export type StatusFilter = (typeof STATUSES)[number] | '';

export interface SearchState {
  service: string;
  /** Only traces in which `service` calls this service, database or peer (an edge of the map). */
  peerService: string;
  operation: string;
  /** Attribute filters as logfmt (`http.route=/cart db.system="redis"`). */
  tags: string;
  /** Go-style durations (`100ms`, `1.5s`) or integer milliseconds, as the API takes them. */
  minDuration: string;
  maxDuration: string;
  status: StatusFilter;
  /** A relative window, used unless both `start` and `end` are given. */
  range: RangeKey;
  /** An absolute window: unix nanoseconds or RFC 3339, passed to the API as written. */
  start: string;
  end: string;
  limit: number;
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1000;

export const DEFAULT_SEARCH_STATE: SearchState = {
  service: '',
  peerService: '',
  operation: '',
  tags: '',
  minDuration: '',
  maxDuration: '',
  status: '',
  range: DEFAULT_RANGE,
  start: '',
  end: '',
  limit: DEFAULT_LIMIT,
};

export function parseSearchState(search: string): SearchState {
  const params = new URLSearchParams(search);
  const text = (key: string) => params.get(key)?.trim() ?? '';
  const limit = Number.parseInt(text('limit'), 10);
  const status = STATUSES.find((value) => value === text('status')) ?? '';
  return {
    service: text('service'),
    peerService: text('peerService'),
    operation: text('operation'),
    tags: text('tags'),
    minDuration: text('minDuration'),
    maxDuration: text('maxDuration'),
    status,
    range: parseRange(params.get('range')),
    start: text('start'),
    end: text('end'),
    limit: Number.isFinite(limit) && limit >= 1 ? Math.min(limit, MAX_LIMIT) : DEFAULT_LIMIT,
  };
}

export function searchStateToQuery(state: SearchState): string {
  const absolute = state.start !== '' && state.end !== '';
  return toQuery([
    ['service', state.service],
    ['peerService', state.peerService],
    ['operation', state.operation],
    ['tags', state.tags],
    ['minDuration', state.minDuration],
    ['maxDuration', state.maxDuration],
    ['status', state.status],
    ['range', absolute || state.range === DEFAULT_RANGE ? null : state.range],
    ['start', absolute ? state.start : null],
    ['end', absolute ? state.end : null],
    ['limit', state.limit === DEFAULT_LIMIT ? null : state.limit],
  ]);
}

/** The native search API's query string for a search, with a relative window resolved at `nowMs`. */
export function searchApiQuery(state: SearchState, nowMs: number): string {
  const absolute = state.start !== '' && state.end !== '';
  return toQuery([
    ['service', state.service],
    ['peerService', state.service ? state.peerService : ''],
    ['operation', state.operation],
    ['attributes', state.tags],
    ['minDuration', state.minDuration],
    ['maxDuration', state.maxDuration],
    ['status', state.status],
    ['start', absolute ? state.start : millisToNanosText(nowMs - rangeMillis(state.range))],
    ['end', absolute ? state.end : millisToNanosText(nowMs)],
    ['limit', state.limit],
  ]);
}

// ---- Trace view ----

/** What the trace view's logs panel shows: every record of the trace, the selected span's, or nothing (hidden). */
export const TRACE_LOGS_MODES = ['all', 'span', 'off'] as const;
export type TraceLogsMode = (typeof TRACE_LOGS_MODES)[number];

export interface TraceViewState {
  /** The span whose details are open. */
  span: string | null;
  /** Spans whose children are hidden. */
  collapsed: string[];
  /** Text searched for within the trace (`find=`); empty when not searching. */
  find: string;
  /** The logs panel (`logs=span`, `logs=off`); `all` is the default. */
  logs: TraceLogsMode;
}

export const DEFAULT_TRACE_VIEW_STATE: TraceViewState = { span: null, collapsed: [], find: '', logs: 'all' };

export function parseTraceViewState(search: string): TraceViewState {
  const params = new URLSearchParams(search);
  const collapsed = (params.get('collapsed') ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => /^[0-9a-fA-F]{1,16}$/.test(id));
  const span = params.get('span')?.trim();
  return {
    span: span ? span : null,
    collapsed: [...new Set(collapsed)],
    // Kept as typed (spaces included): the search is a substring match.
    find: params.get('find') ?? '',
    logs: TRACE_LOGS_MODES.find((mode) => mode === params.get('logs')) ?? 'all',
  };
}

export function traceViewStateToQuery(state: TraceViewState): string {
  return toQuery([
    ['span', state.span],
    ['collapsed', state.collapsed.length ? state.collapsed.join(',') : null],
    ['find', state.find],
    ['logs', state.logs === 'all' ? null : state.logs],
  ]);
}

/** The trace search for one service, as the services table links it. */
export function searchForService(service: string, range: RangeKey): string {
  return `/traces${searchStateToQuery({ ...DEFAULT_SEARCH_STATE, service, range })}`;
}

/** The trace search for one edge of the dependency map: traces in which `client` calls `server`. */
export function searchForEdge(client: string, server: string, range: RangeKey): string {
  return `/traces${searchStateToQuery({ ...DEFAULT_SEARCH_STATE, service: client, peerService: server, range })}`;
}

/** The address of a trace, optionally with a span's details open. */
export function tracePath(traceId: string, spanId?: string): string {
  return `/traces/${encodeURIComponent(traceId)}${spanId ? toQuery([['span', spanId]]) : ''}`;
}

/** The API's `start` and `end` for a relative range ending at `nowMs`. */
export function windowQuery(range: RangeKey, nowMs: number): string {
  return toQuery([
    ['start', millisToNanosText(nowMs - rangeMillis(range))],
    ['end', millisToNanosText(nowMs)],
  ]);
}

// ---- Dependency map ----

export interface MapState {
  range: RangeKey;
  /** The node whose panel is open. */
  node: string;
  /** The edge whose panel is open: its client, server and connection type (`type`). */
  from: string;
  to: string;
  type: string;
}

export const DEFAULT_MAP_STATE: MapState = { range: DEFAULT_RANGE, node: '', from: '', to: '', type: '' };

export function parseMapState(search: string): MapState {
  const params = new URLSearchParams(search);
  const text = (key: string) => params.get(key) ?? '';
  const from = text('from');
  const to = text('to');
  const edge = from !== '' && to !== '';
  return {
    range: parseRange(params.get('range')),
    // One panel at a time: an edge wins over a node.
    node: edge ? '' : text('node'),
    from: edge ? from : '',
    to: edge ? to : '',
    type: edge ? text('type') : '',
  };
}

export function mapStateToQuery(state: MapState): string {
  const edge = state.from !== '' && state.to !== '';
  return toQuery([
    ['range', state.range === DEFAULT_RANGE ? null : state.range],
    ['node', edge ? null : state.node],
    ['from', edge ? state.from : null],
    ['to', edge ? state.to : null],
    ['type', edge ? state.type : null],
  ]);
}

// ---- Service page ----

export interface ServicePageState {
  range: RangeKey;
}

export function parseServicePageState(search: string): ServicePageState {
  return { range: parseRange(new URLSearchParams(search).get('range')) };
}

/** The address of a service's page. */
export function servicePath(name: string, range: RangeKey = DEFAULT_RANGE): string {
  return `/services/${encodeURIComponent(name)}${toQuery([['range', range === DEFAULT_RANGE ? null : range]])}`;
}

/** The trace search for one operation of a service. */
export function searchForOperation(service: string, operation: string, range: RangeKey): string {
  return `/traces${searchStateToQuery({ ...DEFAULT_SEARCH_STATE, service, operation, range })}`;
}

/** The dependency map with an edge's panel open. */
export function mapEdgePath(edge: { client: string; server: string; connectionType: string }, range: RangeKey): string {
  return `/map${mapStateToQuery({ ...DEFAULT_MAP_STATE, range, from: edge.client, to: edge.server, type: edge.connectionType })}`;
}

// ---- Alerts ----

export interface AlertsState {
  /** The new-rule form's mode. */
  mode: 'promql' | 'quick';
  /** Shows only this rule's history (its id). */
  rule: string;
  /** The API rule loaded into the form to be changed (its id), or '' to create one. */
  edit: string;
}

export const DEFAULT_ALERTS_STATE: AlertsState = { mode: 'promql', rule: '', edit: '' };

export function parseAlertsState(search: string): AlertsState {
  const params = new URLSearchParams(search);
  return {
    mode: params.get('mode') === 'quick' ? 'quick' : 'promql',
    rule: params.get('rule')?.trim() ?? '',
    edit: params.get('edit')?.trim() ?? '',
  };
}

export function alertsStateToQuery(state: AlertsState): string {
  return toQuery([
    ['mode', state.mode === 'promql' ? null : state.mode],
    ['rule', state.rule],
    ['edit', state.edit],
  ]);
}

// ---- Logs explorer ----

export const LOG_SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export interface LogsState {
  /** The native query: words, "phrases", AND/OR/NOT, key:value. */
  q: string;
  service: string;
  /** The minimum severity, or '' for all. */
  severity: (typeof LOG_SEVERITIES)[number] | '';
  range: RangeKey;
  /** Live tail on. */
  live: boolean;
}

export const DEFAULT_LOGS_STATE: LogsState = { q: '', service: '', severity: '', range: DEFAULT_RANGE, live: false };

export function parseLogsState(search: string): LogsState {
  const params = new URLSearchParams(search);
  const text = (key: string) => params.get(key)?.trim() ?? '';
  return {
    q: text('q'),
    service: text('service'),
    severity: LOG_SEVERITIES.find((level) => level === text('severity')) ?? '',
    range: parseRange(params.get('range')),
    live: params.get('live') === '1',
  };
}

export function logsStateToQuery(state: LogsState): string {
  return toQuery([
    ['q', state.q],
    ['service', state.service],
    ['severity', state.severity],
    ['range', state.range === DEFAULT_RANGE ? null : state.range],
    ['live', state.live ? 1 : null],
  ]);
}

/** The log API's query string (search and histogram) for a state, the window ending at `nowMs`. */
export function logsApiQuery(state: LogsState, nowMs: number, extra: [string, string | number | null][] = []): string {
  return toQuery([
    ['q', state.q],
    ['service', state.service],
    ['severity', state.severity],
    ['start', millisToNanosText(nowMs - rangeMillis(state.range))],
    ['end', millisToNanosText(nowMs)],
    ...extra,
  ]);
}

/** The live tail's query string: the filters, no window. */
export function logsTailQuery(state: LogsState): string {
  return toQuery([
    ['q', state.q],
    ['service', state.service],
    ['severity', state.severity],
  ]);
}

// ---- Metrics explorer ----

export interface MetricsState {
  query: string;
  range: RangeKey;
  /** The range query's step as the Prometheus API takes it (`15s`, `1m`, seconds), or '' for automatic. */
  step: string;
  view: 'graph' | 'table';
}

export const DEFAULT_METRICS_STATE: MetricsState = { query: '', range: DEFAULT_RANGE, step: '', view: 'graph' };

export function parseMetricsState(search: string): MetricsState {
  const params = new URLSearchParams(search);
  const step = params.get('step')?.trim() ?? '';
  return {
    query: params.get('query')?.trim() ?? '',
    range: parseRange(params.get('range')),
    step: /^[0-9]+(\.[0-9]+)?(ms|s|m|h|d|w|y)?$/.test(step) ? step : '',
    view: params.get('view') === 'table' ? 'table' : 'graph',
  };
}

export function metricsStateToQuery(state: MetricsState): string {
  return toQuery([
    ['query', state.query],
    ['range', state.range === DEFAULT_RANGE ? null : state.range],
    ['step', state.step],
    ['view', state.view === 'graph' ? null : state.view],
  ]);
}
