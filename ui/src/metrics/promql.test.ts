import { describe, expect, it } from 'vitest';
import { applyCompletion, autoStepSeconds, completionContext, completions, matrixToColumns, seriesLabel } from './promql';

describe('completionContext', () => {
  it('completes metric names where an expression is expected', () => {
    expect(completionContext('traces_sp', 9)).toEqual({ kind: 'metric', prefix: 'traces_sp', start: 0 });
    expect(completionContext('sum(rate(trac', 13)).toEqual({ kind: 'metric', prefix: 'trac', start: 9 });
    expect(completionContext('', 0)).toBeNull();
    expect(completionContext('x > 10', 6)).toBeNull();
  });

  it('completes label names in selectors and groupings, never values', () => {
    expect(completionContext('up{ser', 6)).toEqual({ kind: 'label', prefix: 'ser', start: 3 });
    expect(completionContext('up{job="a", ', 12)).toEqual({ kind: 'label', prefix: '', start: 12 });
    expect(completionContext('up{job="ap', 10)).toBeNull();
    expect(completionContext('up{job=~x', 9)).toBeNull();
    expect(completionContext('sum by (serv', 12)).toEqual({ kind: 'label', prefix: 'serv', start: 8 });
    expect(completionContext('sum by (service, sp', 19)).toEqual({ kind: 'label', prefix: 'sp', start: 17 });
    expect(completionContext('sum by (service) (ra', 20)).toEqual({ kind: 'metric', prefix: 'ra', start: 18 });
  });
});

describe('completions', () => {
  it('puts prefix matches first, then others containing it', () => {
    const names = ['traces_span_metrics_calls_total', 'up', 'sightline_traces_total', 'traces_service_graph_request_total'];
    expect(completions({ kind: 'metric', prefix: 'traces', start: 0 }, names)).toEqual([
      'traces_span_metrics_calls_total',
      'traces_service_graph_request_total',
      'sightline_traces_total',
    ]);
    expect(completions({ kind: 'metric', prefix: 'up', start: 0 }, names)).toEqual([]);
  });

  it('replaces the word at the cursor', () => {
    const context = completionContext('sum(rate(trac[5m]))', 13)!;
    expect(applyCompletion('sum(rate(trac[5m]))', 13, context, 'traces_total')).toEqual({ text: 'sum(rate(traces_total[5m]))', cursor: 21 });
    const middle = completionContext('up{se}', 5)!;
    expect(applyCompletion('up{se}', 5, middle, 'service')).toEqual({ text: 'up{service}', cursor: 10 });
  });
});

describe('series', () => {
  it('names series as Prometheus does', () => {
    expect(seriesLabel({ __name__: 'up', job: 'a', instance: 'b' })).toBe('up{instance="b", job="a"}');
    expect(seriesLabel({ __name__: 'up' })).toBe('up');
    expect(seriesLabel({ service: 'x' })).toBe('{service="x"}');
    expect(seriesLabel({})).toBe('{}');
  });

  it('turns a matrix into chart columns', () => {
    expect(
      matrixToColumns([
        { metric: {}, values: [[10, '1'], [20, 'NaN']] },
        { metric: {}, values: [[20, '+Inf'], [30, '3']] },
      ]),
    ).toEqual([
      [10, 20, 30],
      [1, null, null],
      [null, null, 3],
    ]);
  });

  it('picks about 250 points', () => {
    expect(autoStepSeconds(3_600_000)).toBe(15);
    expect(autoStepSeconds(60_000)).toBe(1);
  });
});
