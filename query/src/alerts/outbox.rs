//! What an evaluation tells receivers, decided from a rule's [`RuleState`]:
//!
//! - **Alertmanager** hears of every firing alert at most every `resend_delay` (and of a
//!   resolution once), as Prometheus' `needsSending` decides; each firing alert is valid until
//!   `4 × max(resend_delay, interval)` from now, so Alertmanager resolves it by itself if
//!   Sightline stops sending. Alertmanager then groups, routes, silences and inhibits.
//! - **Webhooks** get Alertmanager's webhook payload for the rule's group (`alertname`) when
//!   the set of firing alerts changes (one starts firing or resolves), and again every
//!   `webhook_repeat_interval` while any keeps firing: told once, reminded seldom.
//!
//! Both mark what they sent in the state, which is persisted, so a restart does not re-send.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::notify::{AlertGroup, OutgoingAlert};
use super::state::{duration_ms, Alert, AlertState, RuleState};

/// How notifications are timed, and what every alert carries.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Prometheus' resend delay.
    pub resend_delay: Duration,
    /// The group's evaluation interval.
    pub interval: Duration,
    /// How often webhooks are reminded of alerts still firing.
    pub webhook_repeat_interval: Duration,
    /// Labels every alert carries unless it has them (`external_labels`).
    pub external_labels: BTreeMap<String, String>,
    /// The link back to the rule's expression.
    pub generator_url: String,
}

/// What one evaluation sends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    /// For Alertmanager receivers.
    pub alertmanager: Vec<OutgoingAlert>,
    /// For webhook receivers.
    pub webhook: Option<AlertGroup>,
}

impl Outbox {
    /// Whether nothing is to be sent.
    pub fn is_empty(&self) -> bool {
        self.alertmanager.is_empty() && self.webhook.is_none()
    }
}

/// Decides what to send at `at_ms` and marks it sent in `state`.
pub fn take_outbox(
    state: &mut RuleState,
    alertname: &str,
    at_ms: i64,
    settings: &OutboxSettings,
) -> Outbox {
    let resend_ms = duration_ms(settings.resend_delay);
    let valid_ms = 4 * resend_ms.max(duration_ms(settings.interval));
    let mut outbox = Outbox::default();
    for alert in state.alerts.values_mut() {
        if !needs_sending(alert, at_ms, resend_ms) {
            continue;
        }
        alert.last_sent_at_ms = Some(at_ms);
        let ends_at = alert.resolved_at_ms.unwrap_or(at_ms + valid_ms);
        outbox
            .alertmanager
            .push(outgoing(alert, Some(ends_at), settings));
    }
    let firing: BTreeSet<String> = state
        .alerts
        .iter()
        .filter(|(_, alert)| alert.state == AlertState::Firing)
        .map(|(key, _)| key.clone())
        .collect();
    let changed = firing != state.notified_firing;
    let reminder = !firing.is_empty()
        && state
            .notified_at_ms
            .is_none_or(|last| at_ms - last >= duration_ms(settings.webhook_repeat_interval));
    if changed || reminder {
        let mut alerts: Vec<OutgoingAlert> = Vec::new();
        for key in firing.union(&state.notified_firing) {
            if let Some(alert) = state.alerts.get(key) {
                let ends_at = alert.resolved_at_ms;
                alerts.push(outgoing(alert, ends_at, settings));
            }
        }
        if !alerts.is_empty() {
            let group_labels = BTreeMap::from([("alertname".to_string(), alertname.to_string())]);
            outbox.webhook = Some(AlertGroup {
                group_key: format!("{{}}:{{alertname={alertname:?}}}"),
                group_labels,
                alerts,
            });
        }
        state.notified_firing = firing;
        state.notified_at_ms = Some(at_ms);
    }
    outbox
}

/// Prometheus' rule: never for pending alerts; once after a resolution; otherwise when the
/// resend delay has passed.
fn needs_sending(alert: &Alert, at_ms: i64, resend_ms: i64) -> bool {
    match alert.state {
        AlertState::Pending => false,
        _ if alert
            .resolved_at_ms
            .is_some_and(|resolved| alert.last_sent_at_ms.is_none_or(|sent| resolved > sent)) =>
        {
            true
        }
        AlertState::Inactive => false,
        AlertState::Firing => alert
            .last_sent_at_ms
            .is_none_or(|sent| sent + resend_ms < at_ms),
    }
}

fn outgoing(alert: &Alert, ends_at_ms: Option<i64>, settings: &OutboxSettings) -> OutgoingAlert {
    let mut labels = alert.labels.clone();
    for (name, value) in &settings.external_labels {
        labels.entry(name.clone()).or_insert_with(|| value.clone());
    }
    OutgoingAlert {
        labels,
        annotations: alert.annotations.clone(),
        starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
        ends_at_ms,
        generator_url: settings.generator_url.clone(),
        resolved: alert.state == AlertState::Inactive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{RuleDefinition, RuleKind};
    use crate::alerts::state::TemplateContext;

    const SECOND: i64 = 1_000;

    fn settings() -> OutboxSettings {
        OutboxSettings {
            resend_delay: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            webhook_repeat_interval: Duration::from_secs(3600),
            external_labels: BTreeMap::from([("cluster".to_string(), "eu".to_string())]),
            generator_url: "http://sightline/graph".to_string(),
        }
    }

    fn step(state: &mut RuleState, firing: &[&str], at: i64) -> Outbox {
        let definition: RuleDefinition =
            serde_json::from_str(r#"{"name": "Down", "expr": "up == 0"}"#).unwrap();
        let RuleKind::Alerting(rule) = definition
            .validate(Duration::from_secs(10))
            .unwrap()
            .rule
            .kind
        else {
            panic!("an alerting rule")
        };
        let series = firing
            .iter()
            .map(|instance| {
                (
                    BTreeMap::from([("instance".to_string(), instance.to_string())]),
                    0.0,
                )
            })
            .collect();
        state
            .apply(&rule, series, at * SECOND, 0, &TemplateContext::default())
            .unwrap();
        take_outbox(state, "Down", at * SECOND, &settings())
    }

    #[test]
    fn alertmanager_hears_every_resend_delay_and_once_of_a_resolution() {
        let mut state = RuleState::default();
        let first = step(&mut state, &["a"], 0);
        assert_eq!(first.alertmanager.len(), 1);
        let sent = &first.alertmanager[0];
        assert_eq!(sent.labels["cluster"], "eu");
        assert_eq!(sent.labels["alertname"], "Down");
        assert_eq!(sent.ends_at_ms, Some(240 * SECOND));
        assert!(!sent.resolved);
        assert!(step(&mut state, &["a"], 30).alertmanager.is_empty());
        assert_eq!(step(&mut state, &["a"], 61).alertmanager.len(), 1);
        let resolved = step(&mut state, &[], 70);
        assert_eq!(resolved.alertmanager.len(), 1);
        assert!(resolved.alertmanager[0].resolved);
        assert_eq!(resolved.alertmanager[0].ends_at_ms, Some(70 * SECOND));
        assert!(step(&mut state, &[], 80).alertmanager.is_empty());
    }

    #[test]
    fn webhooks_hear_of_changes_and_reminders_only() {
        let mut state = RuleState::default();
        let group = step(&mut state, &["a"], 0).webhook.unwrap();
        assert_eq!(group.group_key, "{}:{alertname=\"Down\"}");
        assert_eq!(group.alerts.len(), 1);
        assert!(step(&mut state, &["a"], 10).webhook.is_none());
        let grown = step(&mut state, &["a", "b"], 20).webhook.unwrap();
        assert_eq!(grown.alerts.len(), 2);
        let shrunk = step(&mut state, &["b"], 30).webhook.unwrap();
        let resolved: Vec<bool> = shrunk.alerts.iter().map(|alert| alert.resolved).collect();
        assert_eq!(resolved, [true, false]);
        assert!(step(&mut state, &["b"], 40).webhook.is_none());
        assert!(step(&mut state, &["b"], 30 + 3600).webhook.is_some());
        let last = step(&mut state, &[], 4000).webhook.unwrap();
        assert!(last.alerts.iter().all(|alert| alert.resolved));
        assert!(step(&mut state, &[], 4010).webhook.is_none());
    }
}
