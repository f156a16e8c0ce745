import { describe, expect, it } from 'vitest';
import { applyCompletion, autoStepSeconds, completionContext, completions, matrixToColumns, seriesLabel } from './promql';

describe('completionContext', () => {
  it('completes metric names where an expression is expected', () => {
    expect(completionContext('traces_sp', 9)).toEqual({ kind: 'metric', prefix: 'traces_sp', start: 0 });
    expect(completionContext('sum(rate(trac', 13)).toEqual({ kind: 'metric', prefix: 'trac', start: 9 });
    expect(completionContext('', 0)).toBeNull();
    expect(completionContext('x > 10', 6)).toBeNull();
  });

  it('completes label names in selectors and groupings', () => {
    expect(completionContext('up{ser', 6)).toEqual({ kind: 'label', prefix: 'ser', start: 3 });
    expect(completionContext('up{job="a", ', 12)).toEqual({ kind: 'label', prefix: '', start: 12 });
    expect(completionContext('up{job="a}b", ', 14)).toEqual({ kind: 'label', prefix: '', start: 14 });
    expect(completionContext('up{job=~x', 9)).toBeNull();
    expect(completionContext('sum by (serv', 12)).toEqual({ kind: 'label', prefix: 'serv', start: 8 });
    expect(completionContext('sum by (service, sp', 19)).toEqual({ kind: 'label', prefix: 'sp', start: 17 });
    expect(completionContext('sum by (service) (ra', 20)).toEqual({ kind: 'metric', prefix: 'ra', start: 18 });
  });
});

describe('label value context', () => {
  const value = (text: string, cursor = text.length) => completionContext(text, cursor);

  it('completes the value of the matcher being typed, with the selector\'s metric', () => {
    expect(value('up{job="ap')).toEqual({ kind: 'value', prefix: 'ap', start: 8, label: 'job', operator: '=', metric: 'up', quote: '"' });
    expect(value('sum(rate(traces_span_metrics_calls_total{service="pay", span_kind!="')).toMatchObject({
      kind: 'value',
      prefix: '',
      label: 'span_kind',
      operator: '!=',
      metric: 'traces_span_metrics_calls_total',
    });
    // In the middle of a value, only what is before the cursor is the prefix.
    expect(value('up{job="apiserver"}', 10)).toMatchObject({ kind: 'value', prefix: 'ap', start: 8 });
    expect(value("up{job='x")).toMatchObject({ kind: 'value', prefix: 'x', quote: "'" });
  });

  it('finds the metric in __name__ or none, and completes one alternative of a regex', () => {
    expect(value('{__name__="up", job="a')).toMatchObject({ label: 'job', metric: 'up', prefix: 'a' });
    expect(value('{job=~"a')).toMatchObject({ label: 'job', operator: '=~', metric: '', prefix: 'a' });
    expect(value('up{job=~"api|we')).toMatchObject({ operator: '=~', prefix: 'we', start: 13 });
    expect(value('up{job!~"x')).toMatchObject({ operator: '!~', prefix: 'x' });
  });

  it('completes nothing in strings that are no matcher value', () => {
    expect(value('label_replace(up, "dst", "')).toBeNull();
    expect(value('up{job="a\\"b", env="x"} + "')).toBeNull();
    expect(value('up{job="a", "')).toBeNull();
    // An escaped quote does not end the string.
    expect(value('up{job="say \\"hi')).toMatchObject({ kind: 'value', prefix: 'say \\"hi' });
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

  it('fills in a label value, closing its string, and puts the cursor after it', () => {
    const typed = 'up{job="ap';
    expect(applyCompletion(typed, typed.length, completionContext(typed, typed.length)!, 'apiserver')).toEqual({
      text: 'up{job="apiserver"',
      cursor: 18,
    });
    // The rest of the value is replaced and an existing quote is kept.
    const middle = 'up{job="apx"}[5m]';
    expect(applyCompletion(middle, 10, completionContext(middle, 10)!, 'api')).toEqual({ text: 'up{job="api"}[5m]', cursor: 12 });
    // One alternative of a regex, the others kept; values escaped for the regex and the string.
    const regex = 'x{route=~"/a|/b|/c"}';
    expect(applyCompletion(regex, 14, completionContext(regex, 14)!, '/b.json')).toEqual({
      text: 'x{route=~"/a|/b\\\\.json|/c"}',
      cursor: 22,
    });
  });

  it('escapes quotes and backslashes for the string', () => {
    const context = completionContext('x{msg="', 7)!;
    expect(applyCompletion('x{msg="', 7, context, 'say "hi" \\ bye').text).toBe('x{msg="say \\"hi\\" \\\\ bye"');
    const single = completionContext("x{msg='", 7)!;
    expect(applyCompletion("x{msg='", 7, single, "it's").text).toBe("x{msg='it\\'s'");
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
