import { describe, expect, it } from 'vitest';
import type { RuleDefinition } from '../types';
import {
  definitionToForm,
  editedDefinition,
  EMPTY_FORM,
  FORM_FIELDS,
  formToDefinition,
  parseKeyValues,
  problemField,
  problemsByField,
  subjectsFor,
  type RuleForm,
} from './form';

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

describe('editing a rule', () => {
  const forms: RuleForm[] = [
    {
      ...EMPTY_FORM,
      name: 'HighErrors',
      expr: 'sum(rate(x[5m])) > 1',
      forDuration: '5m',
      labels: 'severity=page\nteam=payments',
      annotations: 'summary=Too many {{ $value }}',
    },
    { ...EMPTY_FORM, name: 'Slow', mode: 'quick', kind: 'latency_above', service: 'checkout', threshold: '250', percentile: '99.5', window: '10m' },
    { ...EMPTY_FORM, name: 'EdgeErrors', mode: 'quick', kind: 'error_ratio_above', subject: 'edge', client: 'checkout', server: 'payments', threshold: '0.5' },
    { ...EMPTY_FORM, name: 'Quiet', mode: 'quick', kind: 'request_rate_below', service: 'cart', threshold: '0', labels: 'severity=info' },
    { ...EMPTY_FORM, name: 'DbDown', mode: 'quick', kind: 'health_check_failing', subject: 'check', check: 'db-tcp', service: 'orders', forDuration: '1m' },
    { ...EMPTY_FORM, name: 'AnyCheck', mode: 'quick', kind: 'health_check_failing', service: 'orders' },
  ];

  it('round-trips every kind of rule: form → definition → form', () => {
    for (const form of forms) {
      const { definition, problems } = formToDefinition(form);
      expect(problems).toEqual([]);
      expect(definitionToForm(definition)).toEqual({ form, changes: [] });
    }
  });

  it('loads what the API answers into the form: definition → form → definition', () => {
    const definitions: RuleDefinition[] = [
      { name: 'P', expr: 'up == 0', for: '30s', labels: { team: 'web' }, annotations: { summary: 'down' } },
      { name: 'Q', quick: { kind: 'error_ratio_above', service: 'payments', threshold: 5 } },
      { name: 'E', quick: { kind: 'latency_above', client: 'a', server: 'b', threshold: 100, percentile: 99, window: '15m' } },
      { name: 'C', quick: { kind: 'health_check_failing', check: 'web' } },
    ];
    for (const definition of definitions) {
      expect(formToDefinition(definitionToForm(definition).form).definition).toEqual(definition);
    }
    const quick = definitionToForm(definitions[2]!).form;
    expect([quick.mode, quick.kind, quick.subject, quick.threshold, quick.percentile]).toEqual(['quick', 'latency_above', 'edge', '100', '99']);
  });

  it('says what the form would change: values on several lines', () => {
    const { form, changes } = definitionToForm({ name: 'M', expr: 'up', annotations: { description: 'first\n  second' } });
    expect(form.annotations).toBe('description=first second');
    expect(changes).toEqual(['annotations.description spans several lines; the form joins them into one']);
  });

  it('keeps what the form does not show and the name when saving an edit', () => {
    const original: RuleDefinition = {
      name: 'PaymentsErrors',
      group: 'payments',
      interval: '30s',
      keep_firing_for: '2m',
      enabled: false,
      quick: { kind: 'error_ratio_above', service: 'payments', threshold: 5 },
    };
    const form = { ...definitionToForm(original).form, name: 'Renamed', threshold: '10' };
    expect(editedDefinition(original, form)).toEqual({
      definition: { ...original, quick: { kind: 'error_ratio_above', service: 'payments', threshold: 10 } },
      problems: [],
    });
    const promql = editedDefinition({ name: 'P', expr: 'up' }, { ...EMPTY_FORM, expr: 'up == 0', labels: 'oops' });
    expect(promql.definition).toEqual({ name: 'P', expr: 'up == 0' });
    expect(promql.problems).toEqual(['labels: line 1 ("oops") is not key=value']);
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
