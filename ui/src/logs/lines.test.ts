import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../types';
import { compareNanos, lineFromRecord, nanosToRfc3339 } from './lines';

const record: LogRecord = {
  time: '2023-11-14T22:13:20.000000001Z',
  time_unix_nano: '1700000000000000001',
  observed_time_unix_nano: null,
  severity_number: 17,
  severity_text: 'ERROR',
  body: 'charge failed',
  body_type: 'string',
  attributes: { 'payment.provider': 'stripe' },
  resource: { service_name: 'checkout', attributes: { 'service.name': 'checkout' } },
  scope: { name: 'ui-e2e', version: '' },
  trace_id: 'aa',
  span_id: 'bb',
  flags: 0,
  event_name: '',
  cursor: 'c1',
};

describe('lineFromRecord', () => {
  it('keeps what the list and the details show of a native record', () => {
    const line = lineFromRecord(record);
    expect(line).toMatchObject({ key: 'c1', level: 'error', levelLabel: 'ERROR', service: 'checkout', body: 'charge failed', traceId: 'aa', spanId: 'bb' });
    expect(line.groups.map((group) => group.title)).toEqual(['Attributes', 'Resource']);
    expect(line.facts).toContainEqual(['Scope', 'ui-e2e']);
    expect(line.facts).toContainEqual(['Span', 'bb']);
    expect(line.facts.some(([name]) => name === 'Event')).toBe(false);
    expect(lineFromRecord({ ...record, body: { ms: 950 }, event_name: 'charge' }).body).toBe('{"ms":950}');
    expect(lineFromRecord({ ...record, event_name: 'charge' }).facts).toContainEqual(['Event', 'charge']);
  });
});

describe('nanosecond times', () => {
  it('orders decimal texts numerically', () => {
    expect(['10', '9', '1700000000000000001', '1700000000000000000'].sort(compareNanos)).toEqual([
      '9',
      '10',
      '1700000000000000000',
      '1700000000000000001',
    ]);
  });

  it('writes RFC 3339 with nine fraction digits', () => {
    expect(nanosToRfc3339('1700000000123456789')).toBe('2023-11-14T22:13:20.123456789Z');
    expect(nanosToRfc3339('5')).toBe('1970-01-01T00:00:00.000000005Z');
    expect(nanosToRfc3339('soon')).toBe('soon');
  });
});
