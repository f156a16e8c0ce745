// Alerts: pending and firing alerts (`GET /api/v1/alerts`), every rule with its state, health
// and last error (`GET /api/v1/alerts/rules`; API rules can be edited, disabled, enabled and
// deleted, file rules are read-only), a form to create a rule — PromQL or a quick health rule —
// or to change an API rule (`PUT /api/v1/alerts/rules/{id}`), and to test-evaluate it first
// (`POST /api/v1/alerts/rules/test`), and the state-change history (`GET
// /api/v1/alerts/history`). The form's mode, the rule being edited and the history's rule
// filter live in the query string; the API's validation problems are shown next to the fields
// they name.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
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
} from '../alerts/form';
import { EmptyState, ErrorPanel, Loading } from '../components/messages';
import { formatAgo, formatTimestamp } from '../format';
import { navigate } from '../router';
import type { Alert, AlertRule, RuleTestResponse } from '../types';
import { useFetch } from '../use-fetch';
import { alertsStateToQuery, parseAlertsState, toQuery, type AlertsState } from '../url';

const HISTORY_LIMIT = 200;

function go(state: AlertsState) {
  navigate(`/alerts${alertsStateToQuery(state)}`, { replace: true });
}

/** The address that loads an API rule into the form, in the mode it was written in. */
function editAddress(state: AlertsState, rule: AlertRule): string {
  return `/alerts${alertsStateToQuery({ ...state, edit: rule.id, mode: rule.definition.quick ? 'quick' : 'promql' })}`;
}

function Labels({ labels }: { labels: Record<string, string> | null }) {
  if (!labels) return null;
  return (
    <span class="labels">
      {Object.entries(labels)
        .filter(([key]) => key !== 'alertname')
        .map(([key, value]) => (
          <span class="chip">
            {key}={value}
          </span>
        ))}
    </span>
  );
}

function StateBadge({ state }: { state: string }) {
  return <span class={`alert-state state-${state}`}>{state}</span>;
}

function formatValue(value: number | null): string {
  if (value === null) return '–';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, '');
}

function AlertsTable({ alerts, testId }: { alerts: Alert[]; testId: string }) {
  const now = Date.now();
  return (
    <table class="grid" data-testid={testId}>
      <thead>
        <tr>
          <th>Alert</th>
          <th>State</th>
          <th>Labels</th>
          <th class="num">Value</th>
          <th>Active since</th>
          <th>Summary</th>
        </tr>
      </thead>
      <tbody>
        {alerts.map((alert) => (
          <tr data-alertname={alert.labels.alertname} data-state={alert.state}>
            <td>{alert.labels.alertname ?? alert.rule}</td>
            <td>
              <StateBadge state={alert.state} />
            </td>
            <td>
              <Labels labels={alert.labels} />
            </td>
            <td class="num">{formatValue(alert.value)}</td>
            <td title={alert.active_at_unix_ms ? formatTimestamp(alert.active_at_unix_ms) : ''}>
              {alert.active_at_unix_ms ? formatAgo(alert.active_at_unix_ms, now) : '–'}
            </td>
            <td>{alert.annotations.summary ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RuleActions({ rule, state, onChanged }: { rule: AlertRule; state: AlertsState; onChanged: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (rule.source === 'file') {
    return (
      <span class="muted small read-only" title="Rule files are changed on disk, not through the API">
        read-only{rule.file ? ` (${rule.file})` : ''}
      </span>
    );
  }
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setFailure(null);
    try {
      await action();
      onChanged();
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  return (
    <span class="rule-actions">
      <a href={editAddress(state, rule)} class="button edit-rule" title="Load this rule into the form below to change it">
        Edit
      </a>{' '}
      <button type="button" class="toggle-enabled" disabled={busy} onClick={() => run(() => api.setRuleEnabled(rule.id, !rule.enabled))}>
        {rule.enabled ? 'Disable' : 'Enable'}
      </button>{' '}
      {confirming ? (
        <>
          <button type="button" class="danger confirm-delete" disabled={busy} onClick={() => run(() => api.deleteRule(rule.id))}>
            Delete {rule.id}
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </>
      ) : (
        <button type="button" class="delete" disabled={busy} onClick={() => setConfirming(true)}>
          Delete…
        </button>
      )}
      {failure ? <div class="bad small">{failure instanceof ApiError ? failure.message : String(failure)}</div> : null}
    </span>
  );
}

function RulesTable({ rules, state, onChanged }: { rules: AlertRule[]; state: AlertsState; onChanged: () => void }) {
  const now = Date.now();
  return (
    <table class="grid" data-testid="rules">
      <thead>
        <tr>
          <th>Rule</th>
          <th>State</th>
          <th>Health</th>
          <th>Query</th>
          <th>Last evaluated</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {rules.map((rule) => (
          <tr
            data-rule={rule.id}
            data-source={rule.source}
            data-enabled={String(rule.enabled)}
            class={`${rule.enabled ? '' : 'disabled'}${state.edit === rule.id ? ' editing' : ''}`}
          >
            <td>
              <strong>{rule.definition.name}</strong>
              <div class="muted small">
                {rule.kind}, {rule.source === 'file' ? 'file' : 'API'}, group {rule.group} every {rule.interval}
                {rule.enabled ? '' : ', disabled'}
                {rule.definition.for ? `, for ${rule.definition.for}` : ''}
              </div>
              <Labels labels={rule.definition.labels ?? null} />
            </td>
            <td>
              <StateBadge state={rule.enabled ? rule.state : 'disabled'} />
              {rule.alerts.length ? <span class="muted small"> {rule.alerts.length} active</span> : null}
            </td>
            <td>
              <span class={`rule-health health-${rule.health}`}>{rule.health}</span>
              {rule.last_error ? (
                <div class="bad small" data-testid="last-error">
                  {rule.last_error}
                </div>
              ) : null}
            </td>
            <td>
              {rule.definition.quick ? <div class="small muted">quick: {rule.definition.quick.kind}</div> : null}
              <code class="query">{rule.query}</code>
            </td>
            <td>{rule.last_evaluation_unix_ms ? formatAgo(rule.last_evaluation_unix_ms, now) : 'not yet'}</td>
            <td>
              <RuleActions rule={rule} state={state} onChanged={onChanged} />{' '}
              <a href={`/alerts${alertsStateToQuery({ ...state, rule: rule.id })}`} class="small">
                history
              </a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

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

function RuleFormView({
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

function History({ state, version }: { state: AlertsState; version: number }) {
  const query = toQuery([
    ['rule', state.rule],
    ['limit', HISTORY_LIMIT],
  ]);
  const { data, error, loading } = useFetch(`${query}#${version}`, (signal) => api.alertHistory(query, signal));
  return (
    <>
      <h2>
        History {state.rule ? <span class="muted small">of {state.rule}</span> : <span class="muted small">(last 24 hours)</span>}{' '}
        {state.rule ? (
          <a href={`/alerts${alertsStateToQuery({ ...state, rule: '' })}`} class="small">
            all rules
          </a>
        ) : null}
      </h2>
      {error ? <ErrorPanel error={error} what="the alert history" /> : null}
      {!data && loading ? <Loading what="the history" /> : null}
      {data && data.history.length === 0 ? <p class="muted" data-testid="no-history">No alert changed state in the last 24 hours.</p> : null}
      {data && data.history.length ? (
        <table class="grid" data-testid="history">
          <thead>
            <tr>
              <th>Time</th>
              <th>Alert</th>
              <th>State</th>
              <th>Labels</th>
              <th class="num">Value</th>
            </tr>
          </thead>
          <tbody>
            {data.history.map((entry) => (
              <tr data-rule={entry.rule}>
                <td>{formatTimestamp(entry.time_unix_ms)}</td>
                <td>{entry.alertname}</td>
                <td>
                  <StateBadge state={entry.state} />
                </td>
                <td>
                  <Labels labels={entry.labels} />
                </td>
                <td class="num">{formatValue(entry.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

/** The form loaded with the rule `state.edit` names, once the rules are known; file rules and unknown ids say why they cannot be edited. */
function EditRule({
  state,
  rules,
  loading,
  onSaved,
}: {
  state: AlertsState;
  rules: AlertRule[] | null;
  loading: boolean;
  onSaved: (name: string) => void;
}) {
  const rule = rules?.find((candidate) => candidate.id === state.edit);
  const newRule = `/alerts${alertsStateToQuery({ ...state, edit: '' })}`;
  return (
    <>
      <h2>
        Edit rule <span class="mono">{state.edit}</span>
      </h2>
      {rules === null && loading ? <Loading what="the rule" /> : null}
      {rules !== null && !rule ? (
        <p class="warning" data-testid="edit-missing">
          There is no rule {state.edit} to edit (it may have been deleted). <a href={newRule}>Create a new rule</a>.
        </p>
      ) : null}
      {rule && rule.source !== 'api' ? (
        <p class="warning" data-testid="edit-read-only">
          {rule.id} comes from a rule file{rule.file ? ` (${rule.file})` : ''}: change it on disk, the API cannot. <a href={newRule}>Create a new rule</a>.
        </p>
      ) : null}
      {rule && rule.source === 'api' ? (
        <RuleFormView key={`edit:${rule.id}`} state={state} editing={rule} onSaved={onSaved} />
      ) : null}
    </>
  );
}

export function AlertsPage({ search }: { search: string }) {
  const state = parseAlertsState(search);
  const [version, setVersion] = useState(0);
  const refresh = () => setVersion(version + 1);
  const [saved, setSaved] = useState('');
  const rules = useFetch(`rules#${version}`, (signal) => api.alertRules(signal));
  const active = useFetch(`active#${version}`, (signal) => api.activeAlerts(signal));
  return (
    <section data-testid="alerts-page" data-loading={rules.loading || active.loading ? 'true' : 'false'}>
      <header class="page-header">
        <h1>Alerts</h1>
        <div class="controls">
          <button type="button" onClick={refresh}>
            Refresh
          </button>
        </div>
      </header>
      <h2>Pending and firing</h2>
      {active.error ? <ErrorPanel error={active.error} what="the active alerts" /> : null}
      {active.data && active.data.alerts.length === 0 ? (
        <p class="muted" data-testid="no-alerts">
          No alert is pending or firing.
        </p>
      ) : null}
      {active.data && active.data.alerts.length ? <AlertsTable alerts={active.data.alerts} testId="active-alerts" /> : null}
      <h2>Rules</h2>
      {rules.error ? <ErrorPanel error={rules.error} what="the alert rules" /> : null}
      {!rules.data && rules.loading ? <Loading what="the rules" /> : null}
      {rules.data && rules.data.rules.length === 0 ? (
        <EmptyState title="No alert rules yet.">
          <p>
            Create one below, or put Prometheus rule files in the directory named by <code>[alerting] rules_dir</code>.
          </p>
        </EmptyState>
      ) : null}
      {rules.data && rules.data.rules.length ? <RulesTable rules={rules.data.rules} state={state} onChanged={refresh} /> : null}
      {state.edit ? (
        <EditRule
          state={state}
          rules={rules.data?.rules ?? null}
          loading={rules.loading}
          onSaved={(name) => {
            setSaved(name);
            go({ ...state, edit: '' });
            refresh();
          }}
        />
      ) : (
        <>
          <h2>New rule</h2>
          {saved ? (
            <p class="good" data-testid="saved">
              Saved the changes to {saved}.
            </p>
          ) : null}
          <RuleFormView
            key="new"
            state={state}
            editing={null}
            onCreated={() => {
              setSaved('');
              refresh();
            }}
          />
        </>
      )}
      <History state={state} version={version} />
    </section>
  );
}
