import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../types';
import { attributesText, firstRecordOfSpan, logCountsBySpan, recordOffsetText, recordsForPanel, recordSpanId } from './logs';
import { BASE } from './test-spans';

/** A record of the log API's shape, `at` nanoseconds after BASE. */
function record(cursor: string, at: number, spanId: string | null, attributes: Record<string, unknown> = {}): LogRecord {
  return {
    time: '',
    time_unix_nano: (BASE + BigInt(at)).toString(),
    observed_time_unix_nano: null,
    severity_number: 9,
    severity_text: 'INFO',
    body: `record ${cursor}`,
    body_type: 'string',
    attributes,
    resource: { service_name: 'checkout', attributes: {} },
    scope: { name: '', version: '' },
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    span_id: spanId,
    flags: 0,
    event_name: '',
    cursor,
  };
}

const records = [record('1', 0, 'AAAA000000000001'), record('2', 5, null), record('3', 9, 'bbbb000000000002'), record('4', 12, 'aaaa000000000001')];
const cursors = (list: LogRecord[]) => list.map((one) => one.cursor);

describe('the trace logs panel', () => {
  it('counts records per span, case-insensitively, leaving out records without a span', () => {
    expect([...logCountsBySpan(records)]).toEqual([
      ['aaaa000000000001', 2],
      ['bbbb000000000002', 1],
    ]);
    expect(recordSpanId(records[1]!)).toBeNull();
  });

  it('lists every record, or only the selected span’s', () => {
    expect(cursors(recordsForPanel(records, 'all', 'aaaa000000000001'))).toEqual(['1', '2', '3', '4']);
    expect(cursors(recordsForPanel(records, 'span', 'aaaa000000000001'))).toEqual(['1', '4']);
    expect(cursors(recordsForPanel(records, 'span', 'BBBB000000000002'))).toEqual(['3']);
    expect(cursors(recordsForPanel(records, 'span', 'cccc000000000003'))).toEqual([]);
    // Without a selected span there is nothing to narrow to.
    expect(cursors(recordsForPanel(records, 'span', null))).toEqual(['1', '2', '3', '4']);
  });

  it('finds a span’s first record, to scroll the list to', () => {
    expect(firstRecordOfSpan(records, 'bbbb000000000002')).toBe(2);
    expect(firstRecordOfSpan(records, 'aaaa000000000001')).toBe(0);
    expect(firstRecordOfSpan(records, 'cccc000000000003')).toBe(-1);
    expect(firstRecordOfSpan(records, null)).toBe(-1);
  });

  it('times records from the trace start, before it too, exactly beyond 2^53 nanoseconds', () => {
    const start = (BASE + 5n).toString();
    expect(recordOffsetText(record('x', 5 + 22_000_000, null), start)).toBe('+22ms');
    expect(recordOffsetText(record('x', 5, null), start)).toBe('+0ns');
    expect(recordOffsetText(record('x', 4, null), start)).toBe('−1ns');
    expect(recordOffsetText(record('x', 5 - 1_500_000_000, null), start)).toBe('−1.5s');
  });

  it('writes attributes as key=value', () => {
    expect(attributesText({ 'payment.provider': 'stripe', attempt: 2, tags: ['a'] })).toBe('payment.provider=stripe attempt=2 tags=["a"]');
    expect(attributesText({})).toBe('');
  });
});
