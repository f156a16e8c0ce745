//! JSON views of rules, alerts, history and receivers: the native API's, and Prometheus'
//! `/api/v1/rules` and `/api/v1/alerts` shapes (so Grafana lists them).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sightline_store::alerting::HistoryEntry;

use crate::alerts::duration::format_prometheus_duration;
use crate::alerts::notify::{format_rfc3339_millis, TargetStatus};
use crate::alerts::registry::{AlertRegistry, RuleRuntime};
use crate::alerts::rule::{Rule, RuleDefinition, RuleGroup, RuleKind, RuleSource};
use crate::alerts::state::{Alert, AlertState};
use crate::alerts::template::format_value_go_e;

/// The id a rule has in the native API's paths: an API rule's name, else its key.
pub(crate) fn rule_id(rule: &Rule) -> &str {
    match rule.source {
        RuleSource::Api => rule.name(),
        RuleSource::File => &rule.key,
    }
}

/// An alert as the native API shows it.
pub(crate) fn alert_json(alert: &Alert, rule: &Rule, group: &RuleGroup) -> Value {
    json!({
        "rule": rule_id(rule),
        "group": group.name,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state.as_str(),
        "value": finite(alert.value),
        "active_at_unix_ms": alert.active_at_ms,
        "fired_at_unix_ms": alert.fired_at_ms,
        "resolved_at_unix_ms": alert.resolved_at_ms,
    })
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// The rule's state: the worst of its alerts'.
fn rule_state(runtime: &RuleRuntime) -> AlertState {
    let mut state = AlertState::Inactive;
    for alert in runtime.state.active() {
        if alert.state == AlertState::Firing {
            return AlertState::Firing;
        }
        state = AlertState::Pending;
    }
    state
}

fn health(runtime: &RuleRuntime) -> &'static str {
    match (&runtime.last_evaluation_ms, &runtime.last_error) {
        (None, _) => "unknown",
        (Some(_), None) => "ok",
        (Some(_), Some(_)) => "err",
    }
}

/// A rule as the native API shows it.
pub(crate) fn rule_json(registry: &AlertRegistry, group: &RuleGroup, rule: &Rule) -> Value {
    let runtime = registry
        .runtime(&(group.tenant.clone(), rule.key.clone()))
        .unwrap_or_default();
    let alerts: Vec<Value> = runtime
        .state
        .active()
        .map(|alert| alert_json(alert, rule, group))
        .collect();
    let (kind, definition) = match &rule.kind {
        RuleKind::Alerting(alerting) => (
            "alerting",
            rule.definition
                .clone()
                .unwrap_or_else(|| RuleDefinition::from_alerting_rule(alerting, rule.enabled)),
        ),
        RuleKind::Recording(_) => (
            "recording",
            RuleDefinition {
                name: rule.name().to_string(),
                group: None,
                interval: None,
                expr: Some(rule.expr().to_string()),
                quick: None,
                for_duration: None,
                keep_firing_for: None,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                enabled: rule.enabled,
            },
        ),
    };
    json!({
        "id": rule_id(rule),
        "kind": kind,
        "source": rule.source,
        "file": group.file,
        "group": group.name,
        "interval": format_prometheus_duration(group.interval),
        "definition": definition,
        "query": rule.expr(),
        "enabled": rule.enabled,
        "state": rule_state(&runtime).as_str(),
        "health": health(&runtime),
        "last_error": runtime.last_error,
        "last_evaluation_unix_ms": runtime.last_evaluation_ms,
        "evaluation_seconds": runtime.last_duration.as_secs_f64(),
        "alerts": alerts,
    })
}

/// An alert in Prometheus' shape.
fn prometheus_alert(alert: &Alert) -> Value {
    json!({
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state.as_str(),
        "activeAt": format_rfc3339_millis(alert.active_at_ms),
        "value": format_value_go_e(alert.value),
    })
}

/// Prometheus' `/api/v1/rules` data for `groups`; `kind` keeps only `alert` or `record`
/// rules.
pub(crate) fn prometheus_rules(
    registry: &AlertRegistry,
    groups: &[RuleGroup],
    kind: Option<&str>,
) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|group| {
            let rules: Vec<Value> = group
                .rules
                .iter()
                .filter(|rule| {
                    !matches!(
                        (kind, &rule.kind),
                        (Some("alert"), RuleKind::Recording(_))
                            | (Some("record"), RuleKind::Alerting(_))
                    )
                })
                .map(|rule| prometheus_rule(registry, group, rule))
                .collect();
            let runtime = registry.group_runtime(group);
            json!({
                "name": group.name,
                "file": group.file.clone().unwrap_or_else(|| "api".to_string()),
                "rules": rules,
                "interval": group.interval.as_secs_f64(),
                "limit": group.limit,
                "evaluationTime": runtime.last_duration.as_secs_f64(),
                "lastEvaluation": time_or_zero(runtime.last_evaluation_ms),
            })
        })
        .collect();
    json!({ "groups": groups })
}

fn prometheus_rule(registry: &AlertRegistry, group: &RuleGroup, rule: &Rule) -> Value {
    let runtime = registry
        .runtime(&(group.tenant.clone(), rule.key.clone()))
        .unwrap_or_default();
    let common = |mut value: Value| {
        if let Some(object) = value.as_object_mut() {
            object.insert("health".into(), json!(health(&runtime)));
            if let Some(error) = &runtime.last_error {
                object.insert("lastError".into(), json!(error));
            }
            object.insert(
                "evaluationTime".into(),
                json!(runtime.last_duration.as_secs_f64()),
            );
            object.insert(
                "lastEvaluation".into(),
                json!(time_or_zero(runtime.last_evaluation_ms)),
            );
        }
        value
    };
    match &rule.kind {
        RuleKind::Alerting(alerting) => common(json!({
            "type": "alerting",
            "name": alerting.name,
            "query": alerting.expr,
            "duration": alerting.for_duration.as_secs_f64(),
            "keepFiringFor": alerting.keep_firing_for.as_secs_f64(),
            "labels": alerting.labels.raw(),
            "annotations": alerting.annotations.raw(),
            "alerts": runtime.state.active().map(prometheus_alert).collect::<Vec<_>>(),
            "state": rule_state(&runtime).as_str(),
        })),
        RuleKind::Recording(recording) => common(json!({
            "type": "recording",
            "name": recording.record,
            "query": recording.expr,
            "labels": recording.labels,
        })),
    }
}

/// Prometheus' `/api/v1/alerts` data: every pending or firing alert of `groups`.
pub(crate) fn prometheus_alerts(registry: &AlertRegistry, groups: &[RuleGroup]) -> Value {
    let mut alerts = Vec::new();
    for group in groups {
        for rule in &group.rules {
            if let Some(runtime) = registry.runtime(&(group.tenant.clone(), rule.key.clone())) {
                alerts.extend(runtime.state.active().map(prometheus_alert));
            }
        }
    }
    json!({ "alerts": alerts })
}

fn time_or_zero(unix_ms: Option<i64>) -> String {
    unix_ms.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), format_rfc3339_millis)
}

/// A history entry.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryJson {
    rule: String,
    alertname: String,
    labels: Value,
    state: String,
    value: Option<f64>,
    time_unix_ms: i64,
}

impl From<HistoryEntry> for HistoryJson {
    fn from(entry: HistoryEntry) -> Self {
        Self {
            rule: entry
                .rule_key
                .strip_prefix("api:")
                .unwrap_or(&entry.rule_key)
                .to_string(),
            alertname: entry.alertname,
            labels: serde_json::from_str(&entry.labels_json).unwrap_or(Value::Null),
            state: entry.state,
            value: entry.value,
            time_unix_ms: entry.at_ms,
        }
    }
}

/// A receiver with its delivery state (one entry per target URL).
pub(crate) fn receiver_json(
    definition: Value,
    source: RuleSource,
    targets: Vec<&TargetStatus>,
) -> Value {
    json!({
        "definition": definition,
        "source": if source == RuleSource::File { "config" } else { "api" },
        "targets": targets,
    })
}
