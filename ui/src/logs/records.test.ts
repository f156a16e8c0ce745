import { describe, expect, it } from 'vitest';
import { histogramBars, parseSse, severityLabel, severityLevel, valueText } from './records';

describe('severities', () => {
  it('maps OpenTelemetry severity numbers to levels', () => {
    expect([0, 1, 4, 5, 9, 12, 13, 17, 20, 21, 24, 30].map(severityLevel)).toEqual([
      'unset',
      'trace',
      'trace',
      'debug',
      'info',
      'info',
      'warn',
      'error',
      'error',
      'fatal',
      'fatal',
      'fatal',
    ]);
    expect(severityLabel(17, 'ERR')).toBe('ERR');
    expect(severityLabel(13, '')).toBe('WARN');
    expect(severityLabel(0, '')).toBe('UNSET');
  });
});

describe('values', () => {
  it('shows strings as they are and everything else as JSON', () => {
    expect(valueText('card declined')).toBe('card declined');
    expect(valueText({ ms: 950 })).toBe('{"ms":950}');
    expect(valueText(42)).toBe('42');
    expect(valueText(null)).toBe('');
  });
});

describe('histogramBars', () => {
  it('scales bars to the largest bucket and leaves empty buckets flat', () => {
    const bars = histogramBars(
      [
        { start_unix_nano: '1000000000', time: '', count: 0 },
        { start_unix_nano: '2000000000', time: '', count: 5 },
        { start_unix_nano: '3000000000', time: '', count: 10 },
        { start_unix_nano: '4000000000', time: '', count: 1 },
      ],
      400,
      100,
    );
    expect(bars.map((bar) => [bar.x, bar.height, bar.startMs])).toEqual([
      [0, 0, 1000],
      [100, 50, 2000],
      [200, 100, 3000],
      [300, 10, 4000],
    ]);
    expect(bars[0]!.width).toBe(99);
    expect(histogramBars([], 100, 10)).toEqual([]);
  });
});

describe('parseSse', () => {
  it('splits complete events and keeps the unfinished rest', () => {
    const first = parseSse('event: log\ndata: {"a":1}\n\n: keep-alive\n\nevent: lagged\ndata: 3\n\nevent: log\ndata: {"b"');
    expect(first.events).toEqual([
      { event: 'log', data: '{"a":1}' },
      { event: 'lagged', data: '3' },
    ]);
    expect(first.rest).toBe('event: log\ndata: {"b"');
    const second = parseSse(`${first.rest}:2}\r\n\r\n`);
    expect(second.events).toEqual([{ event: 'log', data: '{"b":2}' }]);
    expect(second.rest).toBe('');
  });

  it('joins multi-line data and defaults the event name', () => {
    expect(parseSse('data: one\ndata: two\n\n').events).toEqual([{ event: 'message', data: 'one\ntwo' }]);
  });
});
