// Pieces the alerts page and its rule form share: navigation within the page, an alert's
// labels and state, and the table of alerts (firing and pending, or what a test would make).

import { formatAgo, formatTimestamp } from '../format';
import { navigate } from '../router';
import type { Alert } from '../types';
import { alertsStateToQuery, type AlertsState } from '../url';

/** Moves to another state of the alerts page (replacing the history entry). */
export function go(state: AlertsState) {
  navigate(`/alerts${alertsStateToQuery(state)}`, { replace: true });
}

export function Labels({ labels }: { labels: Record<string, string> | null }) {
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

export function StateBadge({ state }: { state: string }) {
  return <span class={`alert-state state-${state}`}>{state}</span>;
}

export function formatValue(value: number | null): string {
  if (value === null) return '–';
  return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, '');
}

export function AlertsTable({ alerts, testId }: { alerts: Alert[]; testId: string }) {
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
