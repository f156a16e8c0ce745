import { describe, expect, it } from 'vitest';
import type { LogLine } from './lines';
import { addLokiPage, levelFromLabels, levelFromText, matrixToHistogram, streamsToLines, type LokiStream } from './loki';

const checkout = { service_name: 'checkout', severity_text: 'error', detected_level: 'error', level: 'error' };

describe('levels', () => {
  it('reads level names as Loki and loggers write them', () => {
    expect(['ERROR', 'err', 'Warning', 'warn', 'info', 'INFO2', 'notice', 'debug', 'trace', 'crit', 'FATAL', 'unknown', ''].map(levelFromText)).toEqual([
      'error',
      'error',
      'warn',
      'warn',
      'info',
      'info',
      'info',
      'debug',
      'trace',
      'fatal',
      'fatal',
      'unset',
      'unset',
    ]);
  });

  it('takes the record severity first, then the detected and parsed levels', () => {
    expect(levelFromLabels({ severity_text: 'warn', level: 'error' })).toEqual({ level: 'warn', label: 'WARN' });
    expect(levelFromLabels({ detected_level: 'unknown', level: 'unknown', level_extracted: 'error' })).toEqual({ level: 'error', label: 'ERROR' });
    expect(levelFromLabels({ service_name: 'a' })).toEqual({ level: 'unset', label: 'UNSET' });
  });
});

describe('streamsToLines', () => {
  it('interleaves streams newest first and keeps label categories apart', () => {
    const streams: LokiStream[] = [
      {
        stream: checkout,
        values: [
          ['1700000000300000000', 'charge failed: card declined', { structuredMetadata: { trace_id: 'abc', span_id: 'def', payment_provider: 'stripe' } }],
          ['1700000000100000000', 'retrying', {}],
        ],
      },
      { stream: { service_name: 'cart', detected_level: 'info', level: 'info' }, values: [['1700000000200000000', '{"msg":"ok"}', { parsed: { msg: 'ok' } }]] },
    ];
    const lines = streamsToLines(streams);
    expect(lines.map((line) => line.body)).toEqual(['charge failed: card declined', '{"msg":"ok"}', 'retrying']);
    const [declined, parsed] = lines as [LogLine, LogLine];
    expect(declined).toMatchObject({ level: 'error', levelLabel: 'ERROR', service: 'checkout', traceId: 'abc', spanId: 'def' });
    expect(declined.groups).toEqual([
      { title: 'Stream labels', values: checkout },
      { title: 'Structured metadata', values: { trace_id: 'abc', span_id: 'def', payment_provider: 'stripe' } },
      { title: 'Parsed labels', values: {} },
    ]);
    expect(declined.facts[0]).toEqual(['Time', '2023-11-14T22:13:20.300000000Z']);
    expect(parsed).toMatchObject({ level: 'info', service: 'cart', traceId: null });
    expect(parsed.groups[2]).toEqual({ title: 'Parsed labels', values: { msg: 'ok' } });
    expect(new Set(lines.map((line) => line.key)).size).toBe(3);
  });

  it('shows uncategorised labels as one group, trace ids included', () => {
    const [line] = streamsToLines([{ stream: { service_name: 'a', level: 'warn', trace_id: 't1' }, values: [['5', 'x']] }]);
    expect(line?.groups).toEqual([{ title: 'Labels', values: { service_name: 'a', level: 'warn', trace_id: 't1' } }]);
    expect(line?.traceId).toBe('t1');
    expect(line?.level).toBe('warn');
  });

  it('gives repeated entries distinct keys', () => {
    const lines = streamsToLines([{ stream: { a: 'b' }, values: [['7', 'same'], ['7', 'same']] }]);
    expect(lines).toHaveLength(2);
    expect(lines[0]?.key).not.toBe(lines[1]?.key);
  });
});

function page(times: string[]): LogLine[] {
  return streamsToLines([{ stream: { a: 'b' }, values: times.map((time) => [time, `line at ${time}`] as [string, string]) }]);
}

describe('addLokiPage', () => {
  it('ends the next page just after the oldest line and drops repeats at that time', () => {
    const first = addLokiPage([], page(['40', '30', '20']), 3);
    expect(first.nextEnd).toBe('21');
    const second = addLokiPage(first.lines, page(['20', '10', '5']), 3);
    expect(second.lines.map((line) => line.timeUnixNano)).toEqual(['40', '30', '20', '10', '5']);
    expect(second.nextEnd).toBe('6');
  });

  it('stops after a short page', () => {
    expect(addLokiPage([], page(['40', '30']), 3).nextEnd).toBeNull();
    expect(addLokiPage([], [], 3).nextEnd).toBeNull();
  });

  it('skips a nanosecond holding more lines than a page', () => {
    const crowded = streamsToLines([{ stream: { a: 'b' }, values: [['9', 'x'], ['9', 'y'], ['9', 'z']] }]);
    const first = addLokiPage([], crowded.slice(0, 2), 2);
    expect(first.nextEnd).toBe('10');
    // The same nanosecond again, nothing new: move past it rather than ask forever.
    const again = addLokiPage(first.lines, crowded.slice(0, 2), 2);
    expect(again.nextEnd).toBe('9');
  });

  it('compares times as numbers, not text', () => {
    const first = addLokiPage([], page(['100', '99']), 2);
    expect(first.nextEnd).toBe('100');
  });
});

describe('matrixToHistogram', () => {
  it('puts each point in the bucket the step before it, zero where there is none', () => {
    const histogram = matrixToHistogram(
      [
        {
          metric: {},
          values: [
            [120, '3'],
            [240, '1'],
          ],
        },
      ],
      60,
      240,
      60,
    );
    expect(histogram.buckets.map((bucket) => bucket.count)).toEqual([0, 3, 0, 1]);
    expect(histogram.buckets[0]?.start_unix_nano).toBe('0');
    expect(histogram.buckets[1]?.start_unix_nano).toBe('60000000000');
    expect(histogram.total).toBe(4);
    expect(histogram.step_nanos).toBe('60000000000');
  });

  it('adds up several series and survives none', () => {
    const histogram = matrixToHistogram(
      [
        { metric: { a: '1' }, values: [[10, '2']] },
        { metric: { a: '2' }, values: [[10, '5']] },
      ],
      10,
      10,
      1,
    );
    expect(histogram.buckets.map((bucket) => bucket.count)).toEqual([7]);
    expect(matrixToHistogram([], 0, 5, 1).total).toBe(0);
    expect(matrixToHistogram([], 0, 5, 1).buckets).toHaveLength(6);
  });
});
