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
  | { page: 'notFound'; path: string };

/** Reads the page from a path. */
export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { page: 'services' };
  if (path === '/traces') return { page: 'search' };
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

export interface TraceViewState {
  /** The span whose details are open. */
  span: string | null;
  /** Spans whose children are hidden. */
  collapsed: string[];
}

export function parseTraceViewState(search: string): TraceViewState {
  const params = new URLSearchParams(search);
  const collapsed = (params.get('collapsed') ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => /^[0-9a-fA-F]{1,16}$/.test(id));
  const span = params.get('span')?.trim();
  return { span: span ? span : null, collapsed: [...new Set(collapsed)] };
}

export function traceViewStateToQuery(state: TraceViewState): string {
  return toQuery([
    ['span', state.span],
    ['collapsed', state.collapsed.length ? state.collapsed.join(',') : null],
  ]);
}

/** The trace search for one service, as the services table links it. */
export function searchForService(service: string, range: RangeKey): string {
  return `/traces${searchStateToQuery({ ...DEFAULT_SEARCH_STATE, service, range })}`;
}

/** The address of a trace, optionally with a span's details open. */
export function tracePath(traceId: string, spanId?: string): string {
  return `/traces/${encodeURIComponent(traceId)}${spanId ? toQuery([['span', spanId]]) : ''}`;
}
