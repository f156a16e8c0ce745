//! The states of one alerting rule's alerts, moved by each evaluation with Prometheus'
//! semantics (`rules/alerting.go`):
//!
//! - A series the expression returns becomes an alert, `pending` from that evaluation
//!   (`active_at`), `firing` once it has been returned for `for` (at once when `for` is 0).
//! - An alert the expression stops returning: a pending one is dropped; a firing one keeps
//!   firing for `keep_firing_for` (counted from the first evaluation that missed it), then
//!   turns `inactive` (resolved) and is kept 15 minutes so that receivers hear of the
//!   resolution; a series that comes back meanwhile starts a new alert.
//! - Alert labels: the series' labels without `__name__`, overridden by the rule's (templated)
//!   labels, plus `alertname`. Two series that end with the same labels fail the evaluation,
//!   as in Prometheus.
//!
//! The state is plain data ([`RuleState`]); it is serialised into the state database after an
//! evaluation changes it, so a restart continues where it stopped: a firing alert stays
//! firing (no second notification), a pending one keeps its `active_at`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rule::AlertingRule;
use super::template::TemplateData;

/// How long a resolved alert is kept (and re-sent to Alertmanager): Prometheus'
/// `resolvedRetention`.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved (or never active).
    Inactive,
    /// Returned by the expression, for less than the rule's `for`.
    Pending,
    /// Firing.
    Firing,
}

impl AlertState {
    /// The name Prometheus gives it (`alertstate`, the rules API).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its labels (with `alertname`).
    pub labels: BTreeMap<String, String>,
    /// Its rendered annotations.
    pub annotations: BTreeMap<String, String>,
    /// Its state.
    pub state: AlertState,
    /// The expression's value for it at the last evaluation that returned it.
    #[serde(with = "nullable_float")]
    pub value: f64,
    /// When it became pending, ms since the epoch.
    pub active_at_ms: i64,
    /// When it started firing.
    #[serde(default)]
    pub fired_at_ms: Option<i64>,
    /// When it resolved.
    #[serde(default)]
    pub resolved_at_ms: Option<i64>,
    /// The first evaluation that no longer returned it while `keep_firing_for` holds it.
    #[serde(default)]
    pub keep_firing_since_ms: Option<i64>,
    /// When it was last sent to Alertmanager.
    #[serde(default)]
    pub last_sent_at_ms: Option<i64>,
}

/// JSON has no NaN: non-finite values are written as `null` and read back as NaN.
mod nullable_float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// A change of an alert's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The state it entered.
    pub to: AlertState,
    /// Its value (NaN when resolved).
    pub value: f64,
    /// When.
    pub at_ms: i64,
}

/// A rule's alerts and what was last told to webhook receivers, as persisted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Alerts by their labels' canonical text.
    pub alerts: BTreeMap<String, Alert>,
    /// The firing alerts (keys) the last webhook notification carried.
    #[serde(default)]
    pub notified_firing: BTreeSet<String>,
    /// When webhooks were last notified.
    #[serde(default)]
    pub notified_at_ms: Option<i64>,
}

/// Why an evaluation's result could not become alerts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Two series ended with the same labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateLabelset,
    /// More alerts than the group's limit.
    #[error("exceeded limit of {limit} with {found} alerts")]
    LimitExceeded {
        /// The group's limit.
        limit: usize,
        /// How many there were.
        found: usize,
    },
}

/// A series the expression returned, as an alert: labels, annotations, value.
type Returned = (BTreeMap<String, String>, BTreeMap<String, String>, f64);

/// What the server adds to every template's data.
#[derive(Debug, Clone, Default)]
pub struct TemplateContext {
    /// `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: String,
}

/// The canonical text of a label set (its key in [`RuleState::alerts`]).
pub fn labels_key(labels: &BTreeMap<String, String>) -> String {
    let mut key = String::new();
    for (name, value) in labels {
        key.push_str(name);
        key.push('\u{1}');
        key.push_str(value);
        key.push('\u{2}');
    }
    key
}

impl RuleState {
    /// Applies one evaluation's result (`series`: labels and value) at `at_ms`, returning the
    /// transitions it caused.
    ///
    /// # Errors
    /// [`StateError`]; the state is then left as it was (an exceeded limit drops every alert
    /// in Prometheus: the caller does that with [`RuleState::resolve_all`], so that receivers
    /// hear of it).
    pub fn apply(
        &mut self,
        rule: &AlertingRule,
        series: Vec<(BTreeMap<String, String>, f64)>,
        at_ms: i64,
        limit: usize,
        context: &TemplateContext,
    ) -> Result<Vec<Transition>, StateError> {
        let mut returned: BTreeMap<String, Returned> = BTreeMap::new();
        for (mut labels, value) in series {
            labels.remove("__name__");
            let data = TemplateData {
                labels: &labels,
                value,
                external_labels: &context.external_labels,
                external_url: &context.external_url,
            };
            let extra = rule.labels.render(&data);
            let annotations = rule.annotations.render(&data);
            let mut alert_labels = labels.clone();
            for (name, value) in extra {
                if value.is_empty() {
                    alert_labels.remove(&name);
                } else {
                    alert_labels.insert(name, value);
                }
            }
            alert_labels.insert("alertname".to_string(), rule.name.clone());
            let key = labels_key(&alert_labels);
            if returned
                .insert(key, (alert_labels, annotations, value))
                .is_some()
            {
                return Err(StateError::DuplicateLabelset);
            }
        }
        if limit > 0 && returned.len() > limit {
            return Err(StateError::LimitExceeded {
                limit,
                found: returned.len(),
            });
        }
        let mut transitions = Vec::new();
        for (key, (labels, annotations, value)) in returned.iter() {
            match self.alerts.get_mut(key) {
                Some(alert) if alert.state != AlertState::Inactive => {
                    alert.value = *value;
                    alert.annotations = annotations.clone();
                    alert.keep_firing_since_ms = None;
                }
                _ => {
                    self.alerts.insert(
                        key.clone(),
                        Alert {
                            labels: labels.clone(),
                            annotations: annotations.clone(),
                            state: AlertState::Pending,
                            value: *value,
                            active_at_ms: at_ms,
                            fired_at_ms: None,
                            resolved_at_ms: None,
                            keep_firing_since_ms: None,
                            last_sent_at_ms: None,
                        },
                    );
                    transitions.push(Transition {
                        labels: labels.clone(),
                        to: AlertState::Pending,
                        value: *value,
                        at_ms,
                    });
                }
            }
        }
        let for_ms = duration_ms(rule.for_duration);
        let keep_firing_ms = duration_ms(rule.keep_firing_for);
        let retention_ms = duration_ms(RESOLVED_RETENTION);
        self.alerts.retain(|key, alert| {
            if returned.contains_key(key) {
                if alert.state == AlertState::Pending && at_ms - alert.active_at_ms >= for_ms {
                    alert.state = AlertState::Firing;
                    alert.fired_at_ms = Some(at_ms);
                    transitions.push(Transition {
                        labels: alert.labels.clone(),
                        to: AlertState::Firing,
                        value: alert.value,
                        at_ms,
                    });
                }
                return true;
            }
            if keep_firing_ms > 0 && alert.state == AlertState::Firing {
                let since = *alert.keep_firing_since_ms.get_or_insert(at_ms);
                if at_ms - since < keep_firing_ms {
                    return true;
                }
            }
            match alert.state {
                AlertState::Pending => {
                    transitions.push(Transition {
                        labels: alert.labels.clone(),
                        to: AlertState::Inactive,
                        value: f64::NAN,
                        at_ms,
                    });
                    false
                }
                AlertState::Firing => {
                    transitions.push(resolve(alert, at_ms));
                    true
                }
                AlertState::Inactive => alert
                    .resolved_at_ms
                    .is_some_and(|resolved_at| at_ms - resolved_at <= retention_ms),
            }
        });
        Ok(transitions)
    }

    /// Resolves every alert at once (its rule was disabled or deleted): firing ones turn
    /// inactive, pending ones go.
    pub fn resolve_all(&mut self, at_ms: i64) -> Vec<Transition> {
        let mut transitions = Vec::new();
        self.alerts.retain(|_, alert| match alert.state {
            AlertState::Inactive => true,
            AlertState::Pending => {
                transitions.push(resolved(alert, at_ms));
                false
            }
            AlertState::Firing => {
                transitions.push(resolve(alert, at_ms));
                true
            }
        });
        transitions
    }

    /// Alerts that are pending or firing.
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .values()
            .filter(|alert| alert.state != AlertState::Inactive)
    }

    /// Whether there is nothing worth persisting.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty() && self.notified_firing.is_empty()
    }
}

/// Turns a firing alert inactive (resolved at `at_ms`).
fn resolve(alert: &mut Alert, at_ms: i64) -> Transition {
    alert.state = AlertState::Inactive;
    alert.resolved_at_ms = Some(at_ms);
    alert.keep_firing_since_ms = None;
    resolved(alert, at_ms)
}

/// The transition of an alert into `inactive`.
fn resolved(alert: &Alert, at_ms: i64) -> Transition {
    Transition {
        labels: alert.labels.clone(),
        to: AlertState::Inactive,
        value: f64::NAN,
        at_ms,
    }
}

/// A duration in ms, saturating.
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
