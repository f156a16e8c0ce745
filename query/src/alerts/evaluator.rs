//! The rule evaluator: one task per group, evaluating its rules one after the other every
//! interval, as Prometheus' rule manager does.
//!
//! For an alerting rule an evaluation: runs the expression at the evaluation's time (on a
//! blocking thread, bounded by the group's interval) → moves the alerts' states
//! ([`RuleState::apply`]) → writes `ALERTS{alertstate}` and `ALERTS_FOR_STATE` samples for
//! pending and firing alerts into the tenant's metric store (and staleness markers for series
//! that ended) → decides and queues notifications ([`take_outbox`]) → persists the state with
//! the history of its transitions when either changed. A recording rule writes its result
//! under its `record` name. A rule that is disabled or deleted has its alerts resolved
//! (receivers are told) and its series marked stale.
//!
//! [`run_alerting`] follows the registry's changes: a group whose definition changed restarts
//! (its rules' states live in the registry, so nothing is lost), a removed one stops.
//!
//! Self-metrics: `sightline_rule_evaluations_total{kind}`,
//! `sightline_rule_evaluation_failures_total{kind}`,
//! `sightline_rule_evaluation_duration_seconds`, `sightline_rule_groups`, and
//! `sightline_dropped_total{signal="rule_series",reason="append_failed"}`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge, histogram};
use sightline_model::{
    Labels, MetricBatch, MetricMetadata, MetricSample, MetricType, SeriesSamples, TenantId,
    METRIC_NAME_LABEL,
};
use sightline_store::alerting::HistoryEntry;
use sightline_store::MetricStore;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::AlertingSettings;
use super::outbox::{take_outbox, Outbox, OutboxSettings};
use super::registry::{AlertRegistry, GroupRuntime, RuleRuntime, RuntimeKey};
use super::rule::{AlertingRule, RecordingRule, Rule, RuleGroup, RuleKind};
use super::state::{RuleState, StateError, TemplateContext, Transition};
use crate::promql::value::{stale_nan, Value};
use crate::promql::{Engine, MetricStoreSource};

/// The series alerts are written to.
pub const ALERTS_METRIC: &str = "ALERTS";
/// The series that keep when each alert became active.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// How often history older than the retention is deleted.
const HISTORY_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// A group's identity: tenant, file, name.
type GroupKey = (TenantId, String, String);

/// A group's running task: the definition it runs, its stop token and handle.
type RunningGroup = (RuleGroup, CancellationToken, JoinHandle<()>);

/// What every group task shares.
pub struct AlertingContext {
    /// Rules, receivers and states.
    pub registry: AlertRegistry,
    /// Where expressions read and `ALERTS` goes.
    pub store: MetricStore,
    /// The PromQL engine.
    pub engine: Engine,
    /// The validated settings.
    pub settings: AlertingSettings,
}

impl AlertingContext {
    /// What templates read besides the alert: the external labels and URL.
    pub fn template_context(&self) -> TemplateContext {
        TemplateContext {
            external_labels: self.settings.external_labels.clone(),
            external_url: self.settings.external_url.clone(),
        }
    }
}

/// Evaluates every group of the registry until `shutdown`, following its changes.
pub async fn run_alerting(context: Arc<AlertingContext>, shutdown: CancellationToken) {
    let registry = context.registry.clone();
    let mut changes = registry.subscribe();
    let mut running: HashMap<GroupKey, RunningGroup> = HashMap::new();
    let pruning = tokio::spawn(prune_history(context.clone(), shutdown.child_token()));
    loop {
        changes.mark_unchanged();
        let desired: HashMap<_, RuleGroup> = registry
            .groups()
            .into_iter()
            .map(|group| (group.key(), group))
            .collect();
        let stopping: Vec<_> = running
            .iter()
            .filter(|(key, (group, _, _))| desired.get(*key) != Some(group))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stopping {
            if let Some((_, cancel, handle)) = running.remove(&key) {
                cancel.cancel();
                let _ = handle.await;
            }
        }
        let keep: HashSet<RuntimeKey> = desired
            .values()
            .flat_map(|group| {
                group
                    .rules
                    .iter()
                    .map(|rule| (group.tenant.clone(), rule.key.clone()))
            })
            .collect();
        for ((tenant, rule_key), runtime) in registry.take_runtimes_except(&keep) {
            retire_rule(&context, &tenant, &rule_key, runtime, Duration::ZERO).await;
        }
        for (key, group) in desired {
            if running.contains_key(&key) {
                continue;
            }
            let cancel = shutdown.child_token();
            let handle = tokio::spawn(run_group(context.clone(), group.clone(), cancel.clone()));
            running.insert(key, (group, cancel, handle));
        }
        gauge!("sightline_rule_groups").set(running.len() as f64);
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            () = shutdown.cancelled() => break,
        }
    }
    for (_, (_, cancel, handle)) in running {
        cancel.cancel();
        let _ = handle.await;
    }
    let _ = pruning.await;
    gauge!("sightline_rule_groups").set(0.0);
}

/// Evaluates one group every interval (the first time at once) until cancelled.
async fn run_group(context: Arc<AlertingContext>, group: RuleGroup, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(group.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = cancel.cancelled() => return,
        }
        let started = Instant::now();
        let at_ms = unix_millis_now();
        for rule in &group.rules {
            if cancel.is_cancelled() {
                return;
            }
            evaluate_rule(&context, &group, rule, at_ms).await;
        }
        context.registry.record_group(
            &group,
            GroupRuntime {
                last_evaluation_ms: Some(at_ms),
                last_duration: started.elapsed(),
            },
        );
    }
}

/// Evaluates one rule at `at_ms` and acts on the result.
pub async fn evaluate_rule(context: &AlertingContext, group: &RuleGroup, rule: &Rule, at_ms: i64) {
    let key: RuntimeKey = (group.tenant.clone(), rule.key.clone());
    if !rule.enabled {
        let runtime = context.registry.runtime(&key).unwrap_or_default();
        if !runtime.state.is_empty() || !runtime.written_series.is_empty() {
            context
                .registry
                .with_runtime(&key, |live| *live = RuleRuntime::default());
            retire_rule(context, &group.tenant, &rule.key, runtime, group.interval).await;
        }
        return;
    }
    let kind = match &rule.kind {
        RuleKind::Alerting(_) => "alerting",
        RuleKind::Recording(_) => "recording",
    };
    let started = Instant::now();
    let result = instant_vector(context, &group.tenant, rule.expr(), at_ms, group.interval).await;
    counter!("sightline_rule_evaluations_total", "kind" => kind).increment(1);
    let outcome = match (&rule.kind, result) {
        (_, Err(error)) => Err(error),
        (RuleKind::Alerting(alerting), Ok(series)) => {
            evaluate_alerting(context, group, rule, alerting, series, at_ms).await
        }
        (RuleKind::Recording(recording), Ok(series)) => {
            evaluate_recording(context, group, &key, recording, series, at_ms).await
        }
    };
    let elapsed = started.elapsed();
    histogram!("sightline_rule_evaluation_duration_seconds").record(elapsed.as_secs_f64());
    if let Err(error) = &outcome {
        counter!("sightline_rule_evaluation_failures_total", "kind" => kind).increment(1);
        tracing::debug!(tenant = %group.tenant, rule = rule.key, %error, "rule evaluation failed");
    }
    context.registry.with_runtime(&key, |runtime| {
        runtime.last_evaluation_ms = Some(at_ms);
        runtime.last_duration = elapsed;
        runtime.last_error = outcome.err();
    });
}

/// Moves an alerting rule's states with the expression's result, then writes, sends and
/// persists what changed.
async fn evaluate_alerting(
    context: &AlertingContext,
    group: &RuleGroup,
    rule: &Rule,
    alerting: &AlertingRule,
    series: Vec<(BTreeMap<String, String>, f64)>,
    at_ms: i64,
) -> Result<(), String> {
    let key: RuntimeKey = (group.tenant.clone(), rule.key.clone());
    let settings = outbox_settings(context, group.interval, &alerting.expr);
    let template_context = context.template_context();
    let (transitions, error, outbox, state, written_before) =
        context.registry.with_runtime(&key, |runtime| {
            let applied =
                runtime
                    .state
                    .apply(alerting, series, at_ms, group.limit, &template_context);
            let (transitions, error) = match applied {
                Ok(transitions) => (transitions, None),
                // Over the limit, Prometheus drops every alert; receivers hear they resolved.
                Err(error @ StateError::LimitExceeded { .. }) => {
                    (runtime.state.resolve_all(at_ms), Some(error.to_string()))
                }
                Err(error) => (Vec::new(), Some(error.to_string())),
            };
            let outbox = take_outbox(&mut runtime.state, &alerting.name, at_ms, &settings);
            (
                transitions,
                error,
                outbox,
                runtime.state.clone(),
                std::mem::take(&mut runtime.written_series),
            )
        });
    let written = write_alert_series(context, &group.tenant, &state, written_before, at_ms).await;
    context
        .registry
        .with_runtime(&key, |runtime| runtime.written_series = written);
    let persist = !transitions.is_empty() || !outbox.is_empty();
    send(context, &group.tenant, outbox);
    if persist {
        persist_state(context, &group.tenant, &rule.key, &state, &transitions).await;
    }
    error.map_or(Ok(()), Err)
}

/// Writes a recording rule's result as series named `record`.
async fn evaluate_recording(
    context: &AlertingContext,
    group: &RuleGroup,
    key: &RuntimeKey,
    recording: &RecordingRule,
    series: Vec<(BTreeMap<String, String>, f64)>,
    at_ms: i64,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    let mut label_sets = Vec::with_capacity(series.len());
    for (mut labels, value) in series {
        labels.insert(METRIC_NAME_LABEL.to_string(), recording.record.clone());
        for (name, value) in &recording.labels {
            labels.insert(name.clone(), value.clone());
        }
        if !seen.insert(labels.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels"
                    .to_string(),
            );
        }
        label_sets.push((labels, value));
    }
    if group.limit > 0 && label_sets.len() > group.limit {
        return Err(format!(
            "exceeded limit of {} with {} series",
            group.limit,
            label_sets.len()
        ));
    }
    let before = context
        .registry
        .with_runtime(key, |runtime| std::mem::take(&mut runtime.written_series));
    let written = write_series(context, &group.tenant, label_sets, before, at_ms, &[]).await;
    context
        .registry
        .with_runtime(key, |runtime| runtime.written_series = written);
    Ok(())
}

/// Resolves a disabled or deleted rule's alerts, tells receivers, ends its series and
/// forgets its state.
async fn retire_rule(
    context: &AlertingContext,
    tenant: &TenantId,
    rule_key: &str,
    mut runtime: RuleRuntime,
    interval: Duration,
) {
    let at_ms = unix_millis_now();
    let transitions = runtime.state.resolve_all(at_ms);
    let alertname = runtime
        .state
        .alerts
        .values()
        .next()
        .and_then(|alert| alert.labels.get("alertname").cloned())
        .unwrap_or_default();
    let settings = outbox_settings(context, interval, "");
    let outbox = take_outbox(&mut runtime.state, &alertname, at_ms, &settings);
    send(context, tenant, outbox);
    write_series(
        context,
        tenant,
        Vec::new(),
        runtime.written_series,
        at_ms,
        &[],
    )
    .await;
    persist_state(
        context,
        tenant,
        rule_key,
        &RuleState::default(),
        &transitions,
    )
    .await;
}

fn outbox_settings(context: &AlertingContext, interval: Duration, expr: &str) -> OutboxSettings {
    OutboxSettings {
        resend_delay: context.settings.resend_delay,
        interval,
        webhook_repeat_interval: context.settings.webhook_repeat_interval,
        external_labels: context.settings.external_labels.clone(),
        generator_url: generator_url(&context.settings.external_url, expr),
    }
}

/// Prometheus' link to an expression: `{external}/graph?g0.expr=…&g0.tab=1`.
fn generator_url(external_url: &str, expr: &str) -> String {
    let base = format!("{external_url}/graph");
    match reqwest::Url::parse_with_params(&base, [("g0.expr", expr), ("g0.tab", "1")]) {
        Ok(url) => url.to_string(),
        Err(_) => base,
    }
}

fn send(context: &AlertingContext, tenant: &TenantId, outbox: Outbox) {
    let notifier = context.registry.notifier();
    if !outbox.alertmanager.is_empty() {
        notifier.post_alerts(tenant, outbox.alertmanager);
    }
    if let Some(group) = outbox.webhook {
        notifier.post_group(tenant, group);
    }
}

/// Saves the state (deleting it when empty) with the transitions as history.
async fn persist_state(
    context: &AlertingContext,
    tenant: &TenantId,
    rule_key: &str,
    state: &RuleState,
    transitions: &[Transition],
) {
    let history = transitions
        .iter()
        .map(|transition| HistoryEntry {
            tenant: tenant.clone(),
            rule_key: rule_key.to_string(),
            alertname: transition
                .labels
                .get("alertname")
                .cloned()
                .unwrap_or_default(),
            labels_json: serde_json::to_string(&transition.labels).unwrap_or_default(),
            state: transition.to.as_str().to_string(),
            value: Some(transition.value).filter(|value| value.is_finite()),
            at_ms: transition.at_ms,
        })
        .collect();
    let stored = (!state.is_empty()).then(|| serde_json::to_string(state).unwrap_or_default());
    if let Err(error) = context
        .registry
        .db()
        .save_state(tenant, rule_key, stored, history)
        .await
    {
        tracing::warn!(%tenant, rule = rule_key, %error, "alert state not saved");
    }
}

/// Writes `ALERTS` and `ALERTS_FOR_STATE` for the pending and firing alerts.
async fn write_alert_series(
    context: &AlertingContext,
    tenant: &TenantId,
    state: &RuleState,
    before: Vec<BTreeMap<String, String>>,
    at_ms: i64,
) -> Vec<BTreeMap<String, String>> {
    let mut series = Vec::new();
    for alert in state.active() {
        let mut alerts = alert.labels.clone();
        alerts.insert(METRIC_NAME_LABEL.to_string(), ALERTS_METRIC.to_string());
        alerts.insert("alertstate".to_string(), alert.state.as_str().to_string());
        series.push((alerts, 1.0));
        let mut for_state = alert.labels.clone();
        for_state.insert(
            METRIC_NAME_LABEL.to_string(),
            ALERTS_FOR_STATE_METRIC.to_string(),
        );
        series.push((for_state, alert.active_at_ms as f64 / 1000.0));
    }
    let metadata = [
        (ALERTS_METRIC, "Alerts pending or firing, by state."),
        (
            ALERTS_FOR_STATE_METRIC,
            "When each pending or firing alert became active, in seconds since the epoch.",
        ),
    ];
    write_series(context, tenant, series, before, at_ms, &metadata).await
}

/// Appends one sample per series at `at_ms`, and staleness markers for the series of
/// `before` not written now; returns the series written.
async fn write_series(
    context: &AlertingContext,
    tenant: &TenantId,
    series: Vec<(BTreeMap<String, String>, f64)>,
    before: Vec<BTreeMap<String, String>>,
    at_ms: i64,
    metadata: &[(&str, &str)],
) -> Vec<BTreeMap<String, String>> {
    let now: HashSet<&BTreeMap<String, String>> = series.iter().map(|(labels, _)| labels).collect();
    let stale: Vec<(BTreeMap<String, String>, f64)> = before
        .iter()
        .filter(|labels| !now.contains(labels))
        .map(|labels| (labels.clone(), stale_nan()))
        .collect();
    let written: Vec<BTreeMap<String, String>> =
        series.iter().map(|(labels, _)| labels.clone()).collect();
    if series.is_empty() && stale.is_empty() {
        return written;
    }
    let batch = MetricBatch {
        series: series
            .into_iter()
            .chain(stale)
            .map(|(labels, value)| SeriesSamples {
                labels: Labels::new(labels),
                samples: vec![MetricSample {
                    timestamp_ms: at_ms,
                    value,
                }],
                exemplars: Vec::new(),
            })
            .collect(),
        metadata: metadata
            .iter()
            .map(|(family, help)| MetricMetadata {
                metric_family: family.to_string(),
                metric_type: MetricType::Gauge,
                help: help.to_string(),
                unit: String::new(),
            })
            .collect(),
    };
    let samples = batch.sample_count();
    let failure = match context.store.append(tenant, batch).await {
        Ok(outcome) if outcome.rejected_samples == 0 => return written,
        Ok(outcome) => format!("{} samples refused", outcome.rejected_samples),
        Err(error) => error.to_string(),
    };
    counter!("sightline_dropped_total", "signal" => "rule_series", "reason" => "append_failed")
        .increment(samples as u64);
    tracing::warn!(%tenant, error = failure, "rule series not stored");
    written
}

/// Runs `expr` at `at_ms` on a blocking thread, within `timeout`; a scalar becomes one
/// sample without labels, as in Prometheus.
///
/// # Errors
/// The evaluation's error text, or that the result is not a vector or scalar.
pub async fn instant_vector(
    context: &AlertingContext,
    tenant: &TenantId,
    expr: &str,
    at_ms: i64,
    timeout: Duration,
) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> {
    let mut source =
        MetricStoreSource::new(context.store.clone(), tenant.clone(), Handle::current());
    if let Some(deadline) = Instant::now().checked_add(timeout) {
        source = source.with_deadline(deadline);
    }
    let engine = context.engine.clone();
    let expr = expr.to_string();
    let value = tokio::task::spawn_blocking(move || engine.instant_query(&source, &expr, at_ms))
        .await
        .map_err(|error| format!("rule evaluation task failed: {error}"))?
        .map_err(|error| error.to_string())?;
    match value {
        Value::Vector(samples) => Ok(samples
            .into_iter()
            .map(|sample| {
                let labels = sample
                    .labels
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect();
                (labels, sample.value)
            })
            .collect()),
        Value::Scalar { value, .. } => Ok(vec![(BTreeMap::new(), value)]),
        other => Err(format!(
            "rule result is not a vector or scalar but a {}",
            other.type_name()
        )),
    }
}

/// Deletes history older than the retention, hourly.
async fn prune_history(context: Arc<AlertingContext>, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(HISTORY_PRUNE_INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = cancel.cancelled() => return,
        }
        let retention_ms = super::state::duration_ms(context.settings.history_retention);
        let before_ms = unix_millis_now().saturating_sub(retention_ms);
        match context.registry.db().prune_history(before_ms).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "alert history pruned"),
            Err(error) => tracing::warn!(%error, "alert history not pruned"),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn unix_millis_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
