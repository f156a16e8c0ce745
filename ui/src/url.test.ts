import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SEARCH_STATE,
  DEFAULT_SERVICES_STATE,
  parseRoute,
  parseSearchState,
  parseServicesState,
  parseTraceViewState,
  searchApiQuery,
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
  it('round-trips the selected and collapsed spans', () => {
    const state = { span: 'eee19b7ec3c1b174', collapsed: ['1111111111111111', '2222222222222222'] };
    expect(parseTraceViewState(traceViewStateToQuery(state))).toEqual(state);
    expect(traceViewStateToQuery({ span: null, collapsed: [] })).toBe('');
    expect(parseTraceViewState('')).toEqual({ span: null, collapsed: [] });
  });

  it('drops malformed and repeated collapsed ids', () => {
    expect(parseTraceViewState('?collapsed=abc,<script>,abc,').collapsed).toEqual(['abc']);
  });

  it('links a trace and a span', () => {
    expect(tracePath('ab12')).toBe('/traces/ab12');
    expect(tracePath('ab12', 'cd34')).toBe('/traces/ab12?span=cd34');
  });
});
