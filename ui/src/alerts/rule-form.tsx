// The rule form of the alerts page: create a rule or change an API rule, in either mode — a
// PromQL expression or a quick health rule — with `for`, labels and annotations, test it now
// without saving (`POST /api/v1/alerts/rules/test`), and see the API's problems next to the
// fields they name.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ErrorPanel } from '../components/messages';
import type { AlertRule, RuleTestResponse } from '../types';
import { alertsStateToQuery, type AlertsState } from '../url';
import {
  definitionToForm,
  editedDefinition,
  EMPTY_FORM,
  FORM_FIELDS,
  formToDefinition,
  problemsByField,
  QUICK_KINDS,
  subjectsFor,
  takesPercentile,
  takesThreshold,
  type RuleForm,
} from './form';
import { AlertsTable, go } from './views';

function Field({
  label,
  field,
  problems,
  children,
  hint,
}: {
  label: string;
  field: string;
  problems: Map<string, string[]>;
  children: ComponentChildren;
  hint?: string;
}) {
  const found = problems.get(field) ?? [];
  return (
    <label class={`field${found.length ? ' invalid' : ''}`} data-field={field}>
      <span class="field-label">{label}</span>
      {children}
      {hint ? <span class="muted small">{hint}</span> : null}
      {found.map((problem) => (
        <span class="problem" data-testid="field-problem">
          {problem}
        </span>
      ))}
    </label>
  );
}

function TestResult({ result }: { result: RuleTestResponse }) {
  return (
    <div class="test-result" data-testid="test-result" data-alert-count={result.alerts.length}>
      <h3>
        Evaluated now: {result.alerts.length === 0 ? 'no alert' : `${result.alerts.length} alert${result.alerts.length === 1 ? '' : 's'}`}
      </h3>
      <code class="query">{result.query}</code>
      {result.alerts.length ? (
        <AlertsTable alerts={result.alerts} testId="test-alerts" />
      ) : (
        <p class="muted">The expression returns no series now, so the rule would not alert.</p>
      )}
    </div>
  );
}

/** The form's first content: empty to create a rule, or the rule being edited (a quick rule's PromQL tab showing the query it makes). */
function initialForm(state: AlertsState, editing: AlertRule | null): { form: RuleForm; changes: string[] } {
  if (!editing) return { form: { ...EMPTY_FORM, mode: state.mode }, changes: [] };
  const loaded = definitionToForm(editing.definition);
  return { form: { ...loaded.form, expr: loaded.form.expr || editing.query }, changes: loaded.changes };
}

export function RuleFormView({
  state,
  editing,
  onCreated,
  onSaved,
}: {
  state: AlertsState;
  /** The API rule being changed, or null to create one. */
  editing: AlertRule | null;
  onCreated?: () => void;
  onSaved?: (name: string) => void;
}) {
  const [initial] = useState(() => initialForm(state, editing));
  const formElement = useRef<HTMLFormElement>(null);
  // Opening a rule to edit (a click in the table above) brings the form into view.
  useEffect(() => {
    if (editing) formElement.current?.scrollIntoView({ block: 'start' });
  }, []);
  const [form, setForm] = useState<RuleForm>(initial.form);
  const [problems, setProblems] = useState<string[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [tested, setTested] = useState<RuleTestResponse | null>(null);
  const [created, setCreated] = useState('');
  const [busy, setBusy] = useState(false);
  const current = { ...form, mode: state.mode };
  const set = (patch: Partial<RuleForm>) => setForm({ ...current, ...patch });
  const input = (field: keyof RuleForm, extra: Record<string, unknown> = {}) => ({
    name: field,
    value: current[field],
    onInput: (event: Event) => set({ [field]: (event.target as HTMLInputElement).value } as Partial<RuleForm>),
    ...extra,
  });
  const byField = problemsByField(problems, FORM_FIELDS);
  const submit = async (action: 'test' | 'create') => {
    const { definition, problems: local } = editing ? editedDefinition(editing.definition, current) : formToDefinition(current);
    setFailure(null);
    setTested(null);
    setCreated('');
    setProblems(local);
    if (local.length) return;
    setBusy(true);
    try {
      if (action === 'test') {
        setTested(await api.testRule(definition));
      } else if (editing) {
        await api.replaceRule(editing.id, definition);
        onSaved?.(definition.name);
      } else {
        await api.createRule(definition);
        setCreated(definition.name);
        setForm({ ...EMPTY_FORM, mode: state.mode });
        onCreated?.();
      }
    } catch (error) {
      if (error instanceof ApiError && error.problems.length) setProblems(error.problems);
      else setFailure(error);
    } finally {
      setBusy(false);
    }
  };
  const kind = QUICK_KINDS.find((entry) => entry.kind === current.kind) ?? QUICK_KINDS[0]!;
  const subjects = subjectsFor(current.kind);
  const subject = subjects.includes(current.subject) ? current.subject : 'service';
  return (
    <div class="rule-form-layout">
      <form
        ref={formElement}
        class={`rule-form${editing ? ' editing' : ''}`}
        data-testid="rule-form"
        data-editing={editing?.id ?? ''}
        onSubmit={(event) => {
          event.preventDefault();
          void submit('create');
        }}
      >
        <div class="mode-tabs" role="tablist">
          {(['promql', 'quick'] as const).map((mode) => (
            <button
              type="button"
              role="tab"
              aria-selected={state.mode === mode}
              class={state.mode === mode ? 'active' : ''}
              data-mode={mode}
              onClick={() => go({ ...state, mode })}
            >
              {mode === 'promql' ? 'PromQL' : 'Quick health rule'}
            </button>
          ))}
        </div>
        <Field label="Name" field="name" problems={byField} hint={editing ? 'a rule cannot be renamed' : 'letters, digits, _ - . :'}>
          <input {...input('name', { required: true, placeholder: 'CheckoutErrors', readOnly: editing !== null })} />
        </Field>
        {state.mode === 'promql' ? (
          <Field label="Expression" field="expr" problems={byField} hint="each series it returns is an alert">
            <textarea {...input('expr', { rows: 3, placeholder: 'sum by (service) (rate(traces_span_metrics_calls_total[5m])) > 1' })} />
          </Field>
        ) : (
          <>
            <Field label="Alert when" field="kind" problems={byField}>
              <select name="kind" value={current.kind} onChange={(event) => set({ kind: (event.target as HTMLSelectElement).value as RuleForm['kind'] })}>
                {QUICK_KINDS.map((entry) => (
                  <option value={entry.kind}>{entry.label}</option>
                ))}
              </select>
            </Field>
            <Field label="Watching" field="subject" problems={byField}>
              <select name="subject" value={subject} onChange={(event) => set({ subject: (event.target as HTMLSelectElement).value as RuleForm['subject'] })}>
                {subjects.map((value) => (
                  <option value={value}>{value === 'service' ? 'a service' : value === 'edge' ? 'an edge (client → server)' : 'a health check'}</option>
                ))}
              </select>
            </Field>
            {subject === 'service' ? (
              <Field label="Service" field="service" problems={byField}>
                <input {...input('service', { placeholder: 'checkout' })} />
              </Field>
            ) : null}
            {subject === 'edge' ? (
              <>
                <Field label="Client" field="client" problems={byField}>
                  <input {...input('client', { placeholder: 'checkout' })} />
                </Field>
                <Field label="Server" field="server" problems={byField}>
                  <input {...input('server', { placeholder: 'payments' })} />
                </Field>
              </>
            ) : null}
            {subject === 'check' ? (
              <>
                <Field label="Health check" field="check" problems={byField}>
                  <input {...input('check')} />
                </Field>
                <Field label="Service (optional)" field="service" problems={byField} hint="only the check of this service">
                  <input {...input('service')} />
                </Field>
              </>
            ) : null}
            {takesThreshold(current.kind) ? (
              <Field label={`Threshold (${kind.unit})`} field="threshold" problems={byField}>
                <input {...input('threshold', { inputMode: 'decimal' })} />
              </Field>
            ) : null}
            {takesPercentile(current.kind) ? (
              <Field label="Percentile" field="percentile" problems={byField} hint="default 95">
                <input {...input('percentile', { inputMode: 'decimal', placeholder: '95' })} />
              </Field>
            ) : null}
            <Field label="Window" field="window" problems={byField} hint="rates over it; default 5m">
              <input {...input('window', { placeholder: '5m' })} />
            </Field>
          </>
        )}
        <Field label="For" field="forDuration" problems={byField} hint="how long it must hold before firing (pending until then)">
          <input {...input('forDuration', { placeholder: '0s: fire at once' })} />
        </Field>
        <Field label="Labels" field="labels" problems={byField} hint="key=value, one a line">
          <textarea {...input('labels', { rows: 2, placeholder: 'severity=page' })} />
        </Field>
        <Field label="Annotations" field="annotations" problems={byField} hint="key=value, one a line; templates allowed">
          <textarea {...input('annotations', { rows: 2, placeholder: 'summary={{ $labels.service }} is failing' })} />
        </Field>
        <div class="form-buttons">
          <button type="button" data-testid="test-rule" disabled={busy} onClick={() => void submit('test')}>
            Test
          </button>
          {editing ? (
            <>
              <button type="submit" class="primary" data-testid="save-rule" disabled={busy}>
                Save changes
              </button>
              <a href={`/alerts${alertsStateToQuery({ ...state, edit: '' })}`} class="button" data-testid="cancel-edit">
                Cancel
              </a>
            </>
          ) : (
            <button type="submit" class="primary" data-testid="create-rule" disabled={busy}>
              Create rule
            </button>
          )}
          {created ? (
            <span class="good" data-testid="created">
              Created {created}.
            </span>
          ) : null}
        </div>
      </form>
      <div class="rule-form-side">
        {initial.changes.length ? (
          <div class="warning small" data-testid="edit-changes">
            Saving from the form changes this rule: {initial.changes.join('; ')}.
          </div>
        ) : null}
        {problems.length ? (
          <div class="error-panel" role="alert" data-testid="problems">
            <strong>The rule is not valid:</strong>
            <ul>
              {problems.map((problem) => (
                <li>{problem}</li>
              ))}
            </ul>
          </div>
        ) : null}
        {failure ? <ErrorPanel error={failure} what="an answer for the rule" /> : null}
        {tested ? <TestResult result={tested} /> : null}
        {!problems.length && !failure && !tested && editing ? (
          <p class="muted small">
            Saving replaces the rule's definition (<code>PUT /api/v1/alerts/rules/{editing.id}</code>); its group, interval,{' '}
            <em>keep_firing_for</em> and whether it is enabled stay as they are. Switching to PromQL starts from the query the rule
            evaluates now.
          </p>
        ) : null}
        {!problems.length && !failure && !tested && !editing ? (
          <p class="muted small">
            <strong>Test</strong> evaluates the rule once, now, without saving it, and lists the alerts it would make (firing at once when{' '}
            <em>for</em> is empty). Quick rules are turned into PromQL over the span-metric, service-graph and probe series.
          </p>
        ) : null}
      </div>
    </div>
  );
}
