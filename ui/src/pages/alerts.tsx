// Alerts: pending and firing alerts (`GET /api/v1/alerts`), every rule with its state, health
// and last error (`GET /api/v1/alerts/rules`; API rules can be edited, disabled, enabled and
// deleted, file rules are read-only), a form to create a rule — PromQL or a quick health rule —
// or to change an API rule (`PUT /api/v1/alerts/rules/{id}`), and to test-evaluate it first
// (`POST /api/v1/alerts/rules/test`), and the state-change history (`GET
// /api/v1/alerts/history`). The form's mode, the rule being edited and the history's rule
// filter live in the query string; the API's validation problems are shown next to the fields
// they name.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { RuleFormView } from '../alerts/rule-form';
import { AlertsTable, formatValue, go, Labels, StateBadge } from '../alerts/views';
import { EmptyState, ErrorPanel, Loading } from '../components/messages';
import { formatAgo, formatTimestamp } from '../format';
import type { AlertRule } from '../types';
import { useFetch } from '../use-fetch';
import { alertsStateToQuery, parseAlertsState, toQuery, type AlertsState } from '../url';

const HISTORY_LIMIT = 200;

/** The address that loads an API rule into the form, in the mode it was written in. */
function editAddress(state: AlertsState, rule: AlertRule): string {
  return `/alerts${alertsStateToQuery({ ...state, edit: rule.id, mode: rule.definition.quick ? 'quick' : 'promql' })}`;
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
