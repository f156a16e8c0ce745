import { describe, expect, it } from 'vitest';
import { EMPTY_FORM, FORM_FIELDS, formToDefinition, parseKeyValues, problemField, problemsByField, subjectsFor } from './form';

describe('rule form', () => {
  it('turns the PromQL mode into expr, for, labels and annotations', () => {
    const { definition, problems } = formToDefinition({
      ...EMPTY_FORM,
      name: ' HighErrors ',
      expr: ' sum(rate(x[5m])) > 1 ',
      forDuration: '5m',
      labels: 'severity=page\n\nteam = payments',
      annotations: 'summary=Too many {{ $value }}',
    });
    expect(problems).toEqual([]);
    expect(definition).toEqual({
      name: 'HighErrors',
      expr: 'sum(rate(x[5m])) > 1',
      for: '5m',
      labels: { severity: 'page', team: 'payments' },
      annotations: { summary: 'Too many {{ $value }}' },
    });
  });

  it('turns the quick mode into a quick rule for a service or an edge', () => {
    const quick = { ...EMPTY_FORM, name: 'Slow', mode: 'quick' as const, kind: 'latency_above' as const };
    expect(formToDefinition({ ...quick, service: 'checkout', threshold: '250', percentile: '99', window: '10m' }).definition).toEqual({
      name: 'Slow',
      quick: { kind: 'latency_above', service: 'checkout', threshold: 250, percentile: 99, window: '10m' },
    });
    expect(
      formToDefinition({ ...quick, kind: 'error_ratio_above', subject: 'edge', client: 'checkout', server: 'payments', threshold: '5', percentile: '99' })
        .definition.quick,
    ).toEqual({ kind: 'error_ratio_above', client: 'checkout', server: 'payments', threshold: 5 });
    expect(formToDefinition({ ...quick, kind: 'health_check_failing', subject: 'check', check: 'web', threshold: '3' }).definition.quick).toEqual({
      kind: 'health_check_failing',
      check: 'web',
    });
    // A subject the kind cannot watch falls back to the service.
    expect(formToDefinition({ ...quick, kind: 'health_check_failing', subject: 'edge', service: 'db' }).definition.quick).toEqual({
      kind: 'health_check_failing',
      service: 'db',
    });
    expect(subjectsFor('request_rate_below')).toEqual(['service', 'edge']);
  });

  it('reports what it cannot read, named like the API names fields', () => {
    const { problems } = formToDefinition({ ...EMPTY_FORM, mode: 'quick', threshold: 'lots', labels: 'oops' });
    expect(problems).toEqual(['labels: line 1 ("oops") is not key=value', 'quick.threshold: "lots" is not a number']);
    expect(parseKeyValues('=x', 'annotations').problems).toHaveLength(1);
  });
});

describe('API problems by field', () => {
  it('finds the field a problem names', () => {
    expect(problemField('quick.threshold: is required')).toBe('threshold');
    expect(problemField('for: "x" is not a duration such as "30s"')).toBe('forDuration');
    expect(problemField('labels.team: bad template')).toBe('labels');
    expect(problemField('name: "bad name" must be 1 to 128 letters')).toBe('name');
    expect(problemField('evaluation failed: boom')).toBe('');
  });

  it('groups problems by form field, the rest under the form', () => {
    const grouped = problemsByField(['expr: parse error', 'quick.window: bad', 'group: bad', 'something else'], FORM_FIELDS);
    expect(grouped.get('expr')).toEqual(['expr: parse error']);
    expect(grouped.get('window')).toEqual(['quick.window: bad']);
    expect(grouped.get('')).toEqual(['group: bad', 'something else']);
  });
});
