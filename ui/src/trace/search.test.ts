import { describe, expect, it } from 'vitest';
import { findSpans, matchCountText, searchableText, stepMatch } from './search';
import { testSpan as span } from './test-spans';
import { buildSpanTree } from './tree';

const tree = buildSpanTree({
  spans: [
    span('aaaa000000000001', null, 0, 100, {
      serviceName: 'frontend',
      name: 'GET /checkout',
      attributes: [{ key: 'http.route', type: 'string', value: '/checkout' }],
    }),
    span('bbbb000000000002', 'aaaa000000000001', 10, 60, { serviceName: 'checkout', name: 'POST /checkout' }),
    span('cccc000000000003', 'bbbb000000000002', 20, 40, {
      serviceName: 'payments',
      name: 'charge',
      attributes: [
        { key: 'payment.provider', type: 'string', value: 'Stripe' },
        { key: 'http.status_code', type: 'int', value: 402 },
      ],
    }),
    span('dddd000000000004', 'aaaa000000000001', 70, 90, { serviceName: 'checkout', name: 'SELECT orders' }),
  ],
});
const ids = (text: string) => findSpans(tree, text).map((node) => node.span.spanId);

describe('findSpans', () => {
  it('matches the operation, the service, the span id and attribute keys and values, ignoring case', () => {
    expect(ids('charge')).toEqual(['cccc000000000003']);
    expect(ids('CHECKOUT')).toEqual(['aaaa000000000001', 'bbbb000000000002', 'dddd000000000004']);
    expect(ids('payments')).toEqual(['cccc000000000003']);
    expect(ids('dddd0000')).toEqual(['dddd000000000004']);
    expect(ids('provider')).toEqual(['cccc000000000003']);
    expect(ids('stripe')).toEqual(['cccc000000000003']);
    expect(ids('402')).toEqual(['cccc000000000003']);
    expect(ids('http.')).toEqual(['aaaa000000000001', 'cccc000000000003']);
  });

  it('gives matches in display order, hidden (collapsed) spans included', () => {
    // Display order is depth first: a, b, c, d; the search does not care what is collapsed.
    expect(ids('o')).toEqual(['aaaa000000000001', 'bbbb000000000002', 'cccc000000000003', 'dddd000000000004']);
  });

  it('matches nothing for a blank query, trims the query, and never across fields', () => {
    expect(ids('')).toEqual([]);
    expect(ids('   ')).toEqual([]);
    expect(ids('  select ')).toEqual(['dddd000000000004']);
    // "charge" ends the name and "payments" starts the service: no match across them.
    expect(ids('chargepayments')).toEqual([]);
    expect(ids('charge payments')).toEqual([]);
    expect(ids('nothing like this')).toEqual([]);
  });

  it('searches text prepared once per span', () => {
    const node = tree.byId.get('cccc000000000003')!;
    expect(searchableText(node).split('\u0000')).toEqual([
      'charge',
      'payments',
      'cccc000000000003',
      'payment.provider',
      'stripe',
      'http.status_code',
      '402',
    ]);
  });
});

describe('stepMatch', () => {
  it('moves forwards and backwards, wrapping around', () => {
    expect(stepMatch(0, 3, 1)).toBe(1);
    expect(stepMatch(2, 3, 1)).toBe(0);
    expect(stepMatch(0, 3, -1)).toBe(2);
    expect(stepMatch(1, 3, -1)).toBe(0);
  });

  it('starts at an end when nothing is current, and has nowhere to go without matches', () => {
    expect(stepMatch(-1, 3, 1)).toBe(0);
    expect(stepMatch(-1, 3, -1)).toBe(2);
    expect(stepMatch(7, 3, 1)).toBe(0);
    expect(stepMatch(0, 0, 1)).toBe(-1);
  });
});

describe('matchCountText', () => {
  it('says k of n', () => {
    expect(matchCountText(0, 1)).toBe('1 of 1 match');
    expect(matchCountText(4, 10_000)).toBe('5 of 10,000 matches');
    expect(matchCountText(-1, 3)).toBe('3 matches');
    expect(matchCountText(-1, 0)).toBe('no matches');
  });
});
