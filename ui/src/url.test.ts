import { describe, expect, it } from 'vitest';
import {
  DEFAULT_METRICS_STATE,
  metricsStateToQuery,
  parseMetricsState,
  DEFAULT_LOGS_STATE,
  logsApiQuery,
  logsStateToQuery,
  logsTailQuery,
  parseLogsState,
  alertsStateToQuery,
  parseAlertsState,
  mapEdgePath,
  parseServicePageState,
  searchForOperation,
  servicePath,
  DEFAULT_MAP_STATE,
  mapStateToQuery,
  parseMapState,
  DEFAULT_SEARCH_STATE,
  DEFAULT_SERVICES_STATE,
  DEFAULT_TRACE_VIEW_STATE,
  parseRoute,
  parseSearchState,
  parseServicesState,
  parseTraceViewState,
  searchApiQuery,
  searchForEdge,
  searchForService,
  searchStateToQuery,
  servicesStateToQuery,
  toggleSort,
  tracePath,
  traceViewStateToQuery,
  type SearchState,
  type ServicesState,
} from './url';

describe('routes', () => {
  it('reads the page from the path', () => {
    expect(parseRoute('/')).toEqual({ page: 'services' });
    expect(parseRoute('/traces')).toEqual({ page: 'search' });
    expect(parseRoute('/traces/')).toEqual({ page: 'search' });
    expect(parseRoute('/traces/5b8efff798038103d269b633813fc60c')).toEqual({
      page: 'trace',
      traceId: '5b8efff798038103d269b633813fc60c',
    });
    expect(parseRoute('/nope')).toEqual({ page: 'notFound', path: '/nope' });
    expect(parseRoute('/traces/a/b').page).toBe('notFound');
  });
});

describe('services state', () => {
  it('defaults to the last hour, worst health first, and writes defaults as nothing', () => {
    expect(parseServicesState('')).toEqual(DEFAULT_SERVICES_STATE);
    expect(servicesStateToQuery(DEFAULT_SERVICES_STATE)).toBe('');
  });

  it('round-trips every range, column and order', () => {
    for (const range of ['15m', '1h', '6h', '24h'] as const) {
      for (const sort of ['name', 'status', 'rate', 'errorRatio', 'p50', 'p95', 'p99', 'checks', 'alerts'] as const) {
        for (const order of ['asc', 'desc'] as const) {
          const state: ServicesState = { range, sort, order };
          expect(parseServicesState(servicesStateToQuery(state))).toEqual(state);
        }
      }
    }
  });

  it('ignores what it does not know', () => {
    expect(parseServicesState('?range=3d&sort=color&order=up')).toEqual(DEFAULT_SERVICES_STATE);
  });

  it('flips the clicked column, and starts another at its natural order', () => {
    const byRate = toggleSort(DEFAULT_SERVICES_STATE, 'rate');
    expect(byRate).toMatchObject({ sort: 'rate', order: 'desc' });
    expect(toggleSort(byRate, 'rate')).toMatchObject({ sort: 'rate', order: 'asc' });
    expect(toggleSort(byRate, 'name')).toMatchObject({ sort: 'name', order: 'asc' });
    expect(servicesStateToQuery(toggleSort(byRate, 'rate'))).toBe('?sort=rate&order=asc');
  });
});

describe('search state', () => {
  const full: SearchState = {
    service: 'checkout',
    peerService: 'payments',
    operation: 'POST /checkout',
    tags: 'http.route=/cart db.system="redis cluster"',
    minDuration: '100ms',
    maxDuration: '2s',
    status: 'error',
    range: '6h',
    start: '',
    end: '',
    limit: 50,
  };

  it('round-trips through the query string', () => {
    expect(parseSearchState(searchStateToQuery(full))).toEqual(full);
    expect(parseSearchState(searchStateToQuery(DEFAULT_SEARCH_STATE))).toEqual(DEFAULT_SEARCH_STATE);
    const absolute = { ...full, start: '2026-01-01T00:00:00Z', end: '1767229200000000000' };
    expect(parseSearchState(searchStateToQuery(absolute))).toEqual({ ...absolute, range: '1h' });
  });

  it('leaves defaults out of the address', () => {
    expect(searchStateToQuery(DEFAULT_SEARCH_STATE)).toBe('');
    expect(searchForService('cart', '1h')).toBe('/traces?service=cart');
    expect(searchForService('cart', '15m')).toBe('/traces?service=cart&range=15m');
    expect(searchForEdge('checkout', 'postgres', '1h')).toBe('/traces?service=checkout&peerService=postgres');
  });

  it('sends the edge filter only with its calling service', () => {
    const edge = { ...DEFAULT_SEARCH_STATE, service: 'user', peerService: 'frontend' };
    expect(searchApiQuery(edge, 0)).toContain('service=user&peerService=frontend');
    expect(searchApiQuery({ ...edge, service: '' }, 0)).not.toContain('peerService');
  });

  it('clamps the limit and drops unknown statuses', () => {
    expect(parseSearchState('?limit=0').limit).toBe(20);
    expect(parseSearchState('?limit=99999').limit).toBe(1000);
    expect(parseSearchState('?status=broken').status).toBe('');
  });

  it('asks the native API with attributes and a resolved window', () => {
    const now = 1_700_000_000_000;
    const params = new URLSearchParams(searchApiQuery(full, now));
    expect(params.get('service')).toBe('checkout');
    expect(params.get('attributes')).toBe(full.tags);
    expect(params.get('tags')).toBeNull();
    expect(params.get('end')).toBe('1700000000000000000');
    expect(params.get('start')).toBe(String(BigInt(now - 6 * 3_600_000) * 1_000_000n));
    expect(params.get('limit')).toBe('50');
    const absolute = new URLSearchParams(searchApiQuery({ ...full, start: 'a', end: 'b' }, now));
    expect([absolute.get('start'), absolute.get('end')]).toEqual(['a', 'b']);
  });
});

describe('trace view state', () => {
  it('round-trips the selected and collapsed spans, the search and the logs panel', () => {
    const state = { span: 'eee19b7ec3c1b174', collapsed: ['1111111111111111', '2222222222222222'], find: 'POST /cart', logs: 'span' as const };
    expect(parseTraceViewState(traceViewStateToQuery(state))).toEqual(state);
    expect(traceViewStateToQuery({ span: null, collapsed: [], find: '', logs: 'all' })).toBe('');
    expect(parseTraceViewState('')).toEqual(DEFAULT_TRACE_VIEW_STATE);
    expect(DEFAULT_TRACE_VIEW_STATE).toEqual({ span: null, collapsed: [], find: '', logs: 'all' });
  });

  it('keeps the search text as typed and refuses unknown logs modes', () => {
    expect(traceViewStateToQuery({ ...DEFAULT_TRACE_VIEW_STATE, find: 'a b&c' })).toBe('?find=a+b%26c');
    expect(parseTraceViewState('?find=a+b%26c').find).toBe('a b&c');
    expect(parseTraceViewState('?logs=off').logs).toBe('off');
    expect(parseTraceViewState('?logs=sideways').logs).toBe('all');
    expect(traceViewStateToQuery({ ...DEFAULT_TRACE_VIEW_STATE, logs: 'off' })).toBe('?logs=off');
  });

  it('drops malformed and repeated collapsed ids', () => {
    expect(parseTraceViewState('?collapsed=abc,<script>,abc,').collapsed).toEqual(['abc']);
  });

  it('links a trace and a span', () => {
    expect(tracePath('ab12')).toBe('/traces/ab12');
    expect(tracePath('ab12', 'cd34')).toBe('/traces/ab12?span=cd34');
  });
});

describe('dependency map state', () => {
  it('round-trips range and the selected node or edge', () => {
    expect(parseRoute('/map')).toEqual({ page: 'map' });
    expect(parseMapState('')).toEqual(DEFAULT_MAP_STATE);
    expect(mapStateToQuery(DEFAULT_MAP_STATE)).toBe('');
    const edge = { range: '6h' as const, node: '', from: 'checkout', to: 'orders', type: 'database' };
    expect(mapStateToQuery(edge)).toBe('?range=6h&from=checkout&to=orders&type=database');
    expect(parseMapState(mapStateToQuery(edge))).toEqual(edge);
    const node = { ...DEFAULT_MAP_STATE, node: 'orders' };
    expect(parseMapState(mapStateToQuery(node))).toEqual(node);
  });

  it('keeps one selection: an edge wins over a node, and half an edge is none', () => {
    expect(parseMapState('?node=a&from=b&to=c')).toMatchObject({ node: '', from: 'b', to: 'c', type: '' });
    expect(parseMapState('?from=b&type=database')).toMatchObject({ node: '', from: '', to: '', type: '' });
    expect(parseMapState('?range=bogus').range).toBe('1h');
  });
});

describe('service page addresses', () => {
  it('routes /services/{name} and round-trips the range', () => {
    expect(parseRoute('/services/check%20out')).toEqual({ page: 'service', name: 'check out' });
    expect(parseRoute('/services/')).toEqual({ page: 'notFound', path: '/services/' });
    expect(servicePath('check out')).toBe('/services/check%20out');
    expect(servicePath('a/b', '6h')).toBe('/services/a%2Fb?range=6h');
    expect(parseServicePageState('?range=6h')).toEqual({ range: '6h' });
    expect(parseServicePageState('?range=2y')).toEqual({ range: '1h' });
  });

  it('links operations to the trace search and edges to the map', () => {
    expect(searchForOperation('checkout', 'POST /checkout', '1h')).toBe('/traces?service=checkout&operation=POST+%2Fcheckout');
    expect(mapEdgePath({ client: 'checkout', server: 'orders', connectionType: 'database' }, '6h')).toBe(
      '/map?range=6h&from=checkout&to=orders&type=database',
    );
  });
});

describe('alerts page state', () => {
  it('round-trips the form mode, the rule being edited and the history filter', () => {
    expect(parseRoute('/alerts')).toEqual({ page: 'alerts' });
    expect(parseAlertsState('')).toEqual({ mode: 'promql', rule: '', edit: '' });
    expect(alertsStateToQuery({ mode: 'promql', rule: '', edit: '' })).toBe('');
    const state = { mode: 'quick' as const, rule: 'file:rules.yml:g:HighErrors', edit: '' };
    expect(parseAlertsState(alertsStateToQuery(state))).toEqual(state);
    const editing = { mode: 'promql' as const, rule: '', edit: 'Payments:Errors' };
    expect(alertsStateToQuery(editing)).toBe('?edit=Payments%3AErrors');
    expect(parseAlertsState(alertsStateToQuery(editing))).toEqual(editing);
    expect(parseAlertsState('?mode=other').mode).toBe('promql');
  });
});

describe('logs explorer state', () => {
  it('round-trips query, service, severity, range and the live tail', () => {
    expect(parseRoute('/logs')).toEqual({ page: 'logs' });
    expect(parseLogsState('')).toEqual(DEFAULT_LOGS_STATE);
    expect(logsStateToQuery(DEFAULT_LOGS_STATE)).toBe('');
    const state = { q: 'card AND "declined now"', service: 'checkout', severity: 'warn' as const, range: '15m' as const, live: true };
    expect(parseLogsState(logsStateToQuery(state))).toEqual(state);
    expect(parseLogsState('?severity=loud&live=yes')).toMatchObject({ severity: '', live: false });
  });

  it('asks the API for the window ending now, and tails without one', () => {
    const state = { ...DEFAULT_LOGS_STATE, q: 'boom', severity: 'error' as const, range: '15m' as const };
    expect(logsApiQuery(state, 1_000_000, [['limit', 100]])).toBe('?q=boom&severity=error&start=100000000000&end=1000000000000&limit=100');
    expect(logsTailQuery(state)).toBe('?q=boom&severity=error');
  });
});

describe('metrics explorer state', () => {
  it('round-trips query, range, step and view, and drops a bad step', () => {
    expect(parseRoute('/metrics-explorer')).toEqual({ page: 'metrics' });
    expect(parseMetricsState('')).toEqual(DEFAULT_METRICS_STATE);
    expect(metricsStateToQuery(DEFAULT_METRICS_STATE)).toBe('');
    const state = { query: 'sum by (service) (rate(x[5m]))', range: '6h' as const, step: '30s', view: 'table' as const };
    expect(parseMetricsState(metricsStateToQuery(state))).toEqual(state);
    expect(parseMetricsState('?step=soon&view=pie')).toMatchObject({ step: '', view: 'graph' });
    expect(parseMetricsState('?step=15').step).toBe('15');
  });
});
