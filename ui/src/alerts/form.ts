// The alert rule form's logic: the two modes (a PromQL expression, or a quick health rule
// turned into PromQL by the server), what the form's text fields become in the API's rule
// definition and back (to edit an API rule), and the API's validation problems
// (`"field: message"`) sorted by form field.

import type { QuickRule, RuleDefinition } from '../types';

export type RuleMode = 'promql' | 'quick';
export type QuickKind = QuickRule['kind'];
/** What a quick rule watches: a service, an edge of the dependency map, or a health check. */
export type QuickSubject = 'service' | 'edge' | 'check';

export const QUICK_KINDS: { kind: QuickKind; label: string; unit: string }[] = [
  { kind: 'error_ratio_above', label: 'Error ratio above', unit: '%' },
  { kind: 'latency_above', label: 'Latency above', unit: 'ms' },
  { kind: 'request_rate_below', label: 'Request rate below', unit: 'requests/s' },
  { kind: 'health_check_failing', label: 'Health check failing', unit: '' },
];

export interface RuleForm {
  name: string;
  mode: RuleMode;
  expr: string;
  /** How long the condition must hold before firing (`for`), e.g. `5m`. */
  forDuration: string;
  /** `key=value`, one a line. */
  labels: string;
  annotations: string;
  kind: QuickKind;
  subject: QuickSubject;
  service: string;
  client: string;
  server: string;
  check: string;
  threshold: string;
  percentile: string;
  window: string;
}

export const EMPTY_FORM: RuleForm = {
  name: '',
  mode: 'promql',
  expr: '',
  forDuration: '',
  labels: '',
  annotations: '',
  kind: 'error_ratio_above',
  subject: 'service',
  service: '',
  client: '',
  server: '',
  check: '',
  threshold: '',
  percentile: '',
  window: '',
};

/** The subjects a quick rule kind can watch. */
export function subjectsFor(kind: QuickKind): QuickSubject[] {
  return kind === 'health_check_failing' ? ['service', 'check'] : ['service', 'edge'];
}

/** Whether a quick rule kind takes a threshold, and a percentile. */
export function takesThreshold(kind: QuickKind): boolean {
  return kind !== 'health_check_failing';
}

export function takesPercentile(kind: QuickKind): boolean {
  return kind === 'latency_above';
}

/** Reads `key=value` lines (blank lines skipped); a line without `=` is a problem named after `field`. */
export function parseKeyValues(text: string, field: string): { values: Record<string, string>; problems: string[] } {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    const trimmed = line.trim();
    if (!trimmed) return;
    const equals = trimmed.indexOf('=');
    if (equals <= 0) {
      problems.push(`${field}: line ${index + 1} ("${trimmed}") is not key=value`);
      return;
    }
    values[trimmed.slice(0, equals).trim()] = trimmed.slice(equals + 1).trim();
  });
  return { values, problems };
}

function optionalNumber(text: string, field: string, problems: string[]): number | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  const value = Number(trimmed);
  if (!Number.isFinite(value)) {
    problems.push(`${field}: "${trimmed}" is not a number`);
    return undefined;
  }
  return value;
}

/**
 * The API's rule definition for the form. Only what the form itself cannot read (a label line
 * without `=`, a threshold that is not a number) is a problem here; the rest is the API's to judge,
 * and its problems come back with the same field names.
 */
export function formToDefinition(form: RuleForm): { definition: RuleDefinition; problems: string[] } {
  const problems: string[] = [];
  const labels = parseKeyValues(form.labels, 'labels');
  const annotations = parseKeyValues(form.annotations, 'annotations');
  problems.push(...labels.problems, ...annotations.problems);
  const definition: RuleDefinition = { name: form.name.trim() };
  if (form.mode === 'promql') {
    definition.expr = form.expr.trim();
  } else {
    const quick: QuickRule = { kind: form.kind };
    const text = (value: string) => value.trim() || undefined;
    if (form.subject === 'edge' && subjectsFor(form.kind).includes('edge')) {
      quick.client = text(form.client);
      quick.server = text(form.server);
    } else if (form.subject === 'check' && subjectsFor(form.kind).includes('check')) {
      // A check by name, optionally narrowed to a service's.
      quick.check = text(form.check);
      quick.service = text(form.service);
    } else {
      quick.service = text(form.service);
    }
    if (takesThreshold(form.kind)) quick.threshold = optionalNumber(form.threshold, 'quick.threshold', problems);
    if (takesPercentile(form.kind)) quick.percentile = optionalNumber(form.percentile, 'quick.percentile', problems);
    quick.window = text(form.window);
    definition.quick = Object.fromEntries(Object.entries(quick).filter(([, value]) => value !== undefined)) as unknown as QuickRule;
  }
  if (form.forDuration.trim()) definition.for = form.forDuration.trim();
  if (Object.keys(labels.values).length) definition.labels = labels.values;
  if (Object.keys(annotations.values).length) definition.annotations = annotations.values;
  return { definition, problems };
}

/** `key=value` lines for a map; a value's line breaks become spaces (the form reads one line a pair). */
function keyValueLines(values: Record<string, string> | undefined): string {
  return Object.entries(values ?? {})
    .map(([key, value]) => `${key}=${value.replace(/\s*\n\s*/g, ' ')}`)
    .join('\n');
}

/** A number as the form's text field shows it; absent as empty. */
function numberText(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

/**
 * The form showing a rule the API answered (its `definition`), to edit it. `changes` says what the
 * form cannot show as it is and would change on saving (a label or annotation value on several
 * lines is joined into one).
 */
export function definitionToForm(definition: RuleDefinition): { form: RuleForm; changes: string[] } {
  const changes: string[] = [];
  for (const field of ['labels', 'annotations'] as const) {
    for (const [key, value] of Object.entries(definition[field] ?? {})) {
      if (value.includes('\n')) changes.push(`${field}.${key} spans several lines; the form joins them into one`);
    }
  }
  const form: RuleForm = {
    ...EMPTY_FORM,
    name: definition.name,
    forDuration: definition.for ?? '',
    labels: keyValueLines(definition.labels),
    annotations: keyValueLines(definition.annotations),
  };
  const quick = definition.quick;
  if (!quick) return { form: { ...form, mode: 'promql', expr: definition.expr ?? '' }, changes };
  const subject: QuickSubject = quick.client || quick.server ? 'edge' : quick.check ? 'check' : 'service';
  return {
    form: {
      ...form,
      mode: 'quick',
      kind: quick.kind,
      subject,
      service: quick.service ?? '',
      client: quick.client ?? '',
      server: quick.server ?? '',
      check: quick.check ?? '',
      threshold: numberText(quick.threshold),
      percentile: numberText(quick.percentile),
      window: quick.window ?? '',
    },
    changes,
  };
}

/**
 * The definition that replaces `original` (`PUT /api/v1/alerts/rules/{id}`) after editing it in
 * the form: what the form shows, and what it does not (group, interval, `keep_firing_for`,
 * enabled) kept as it was. The name is the original's: a rule cannot be renamed.
 */
export function editedDefinition(original: RuleDefinition, form: RuleForm): { definition: RuleDefinition; problems: string[] } {
  const { definition, problems } = formToDefinition({ ...form, name: original.name });
  const kept: RuleDefinition = { ...definition };
  if (original.group !== undefined) kept.group = original.group;
  if (original.interval !== undefined) kept.interval = original.interval;
  if (original.keep_firing_for !== undefined) kept.keep_firing_for = original.keep_firing_for;
  if (original.enabled !== undefined) kept.enabled = original.enabled;
  return { definition: kept, problems };
}

/** The form field a problem names: `quick.threshold: …` → `threshold`, `labels.team: …` → `labels`. */
export function problemField(problem: string): string {
  const colon = problem.indexOf(':');
  if (colon <= 0) return '';
  const path = problem.slice(0, colon).trim();
  if (/\s/.test(path)) return '';
  const parts = path.split('.');
  if (parts[0] === 'quick') return parts[1] ?? '';
  if (parts[0] === 'labels' || parts[0] === 'annotations') return parts[0];
  return path === 'for' ? 'forDuration' : path;
}

/** Groups problems by form field; those naming no field of the form go under `''`. */
export function problemsByField(problems: string[], fields: readonly string[]): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const problem of problems) {
    const field = problemField(problem);
    const key = fields.includes(field) ? field : '';
    grouped.set(key, [...(grouped.get(key) ?? []), problem]);
  }
  return grouped;
}

/** The form's fields, for {@link problemsByField}. */
export const FORM_FIELDS = Object.keys(EMPTY_FORM);
