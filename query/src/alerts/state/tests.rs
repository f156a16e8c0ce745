use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::alerts::rule::{RuleDefinition, RuleKind};

const SECOND: i64 = 1_000;

fn rule(json: &str) -> AlertingRule {
    let definition: RuleDefinition = serde_json::from_str(json).unwrap();
    match definition
        .validate(Duration::from_secs(60))
        .unwrap()
        .rule
        .kind
    {
        RuleKind::Alerting(rule) => *rule,
        RuleKind::Recording(_) => panic!("an alerting rule"),
    }
}

fn series(pairs: &[(&str, f64)]) -> Vec<(BTreeMap<String, String>, f64)> {
    pairs
        .iter()
        .map(|(instance, value)| {
            (
                BTreeMap::from([
                    ("__name__".to_string(), "errors".to_string()),
                    ("instance".to_string(), instance.to_string()),
                ]),
                *value,
            )
        })
        .collect()
}

fn states(state: &RuleState) -> Vec<(String, AlertState)> {
    state
        .alerts
        .values()
        .map(|alert| (alert.labels["instance"].clone(), alert.state))
        .collect()
}

fn apply(
    state: &mut RuleState,
    rule: &AlertingRule,
    pairs: &[(&str, f64)],
    at: i64,
) -> Vec<AlertState> {
    state
        .apply(
            rule,
            series(pairs),
            at * SECOND,
            0,
            &TemplateContext::default(),
        )
        .unwrap()
        .into_iter()
        .map(|transition| transition.to)
        .collect()
}

#[test]
fn pending_then_firing_after_for_then_resolved() {
    let rule = rule(
        r#"{"name": "High", "expr": "errors > 1", "for": "10s",
            "labels": {"severity": "page", "instance": "{{ $labels.instance }}-x"},
            "annotations": {"summary": "{{ $labels.instance }} at {{ $value }}"}}"#,
    );
    let mut state = RuleState::default();
    assert_eq!(
        apply(&mut state, &rule, &[("a", 2.0)], 0),
        [AlertState::Pending]
    );
    let alert = state.alerts.values().next().unwrap();
    assert_eq!(alert.labels["alertname"], "High");
    assert_eq!(alert.labels["instance"], "a-x");
    assert_eq!(alert.labels["severity"], "page");
    assert!(!alert.labels.contains_key("__name__"));
    assert_eq!(alert.annotations["summary"], "a at 2");
    assert_eq!(apply(&mut state, &rule, &[("a", 3.0)], 5), []);
    assert_eq!(
        apply(&mut state, &rule, &[("a", 4.0)], 10),
        [AlertState::Firing]
    );
    let alert = state.alerts.values().next().unwrap();
    assert_eq!(
        (alert.active_at_ms, alert.fired_at_ms),
        (0, Some(10 * SECOND))
    );
    assert_eq!(alert.annotations["summary"], "a at 4");
    assert_eq!(apply(&mut state, &rule, &[], 15), [AlertState::Inactive]);
    assert_eq!(states(&state), [("a-x".to_string(), AlertState::Inactive)]);
    assert_eq!(state.active().count(), 0);
    // Kept for the retention, then dropped.
    assert_eq!(apply(&mut state, &rule, &[], 15 + 15 * 60), []);
    assert_eq!(state.alerts.len(), 1);
    assert_eq!(apply(&mut state, &rule, &[], 16 + 15 * 60), []);
    assert!(state.alerts.is_empty());
}

#[test]
fn a_pending_alert_that_goes_away_is_dropped_and_for_zero_fires_at_once() {
    let slow = rule(r#"{"name": "Slow", "expr": "x", "for": "1m"}"#);
    let mut state = RuleState::default();
    apply(&mut state, &slow, &[("a", 1.0)], 0);
    assert_eq!(apply(&mut state, &slow, &[], 30), [AlertState::Inactive]);
    assert!(state.alerts.is_empty());
    let now = rule(r#"{"name": "Now", "expr": "x"}"#);
    assert_eq!(
        apply(&mut state, &now, &[("a", 1.0), ("b", 1.0)], 0),
        [
            AlertState::Pending,
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Firing
        ]
    );
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let rule = rule(r#"{"name": "Flappy", "expr": "x", "keep_firing_for": "30s"}"#);
    let mut state = RuleState::default();
    apply(&mut state, &rule, &[("a", 1.0)], 0);
    assert_eq!(apply(&mut state, &rule, &[], 10), []);
    assert_eq!(apply(&mut state, &rule, &[], 39), []);
    assert_eq!(states(&state), [("a".to_string(), AlertState::Firing)]);
    // Back in the result: the hold resets.
    assert_eq!(apply(&mut state, &rule, &[("a", 1.0)], 40), []);
    assert_eq!(apply(&mut state, &rule, &[], 50), []);
    assert_eq!(apply(&mut state, &rule, &[], 80), [AlertState::Inactive]);
}

#[test]
fn a_resolved_alert_that_returns_starts_again() {
    let rule = rule(r#"{"name": "Again", "expr": "x", "for": "10s"}"#);
    let mut state = RuleState::default();
    apply(&mut state, &rule, &[("a", 1.0)], 0);
    apply(&mut state, &rule, &[("a", 1.0)], 10);
    apply(&mut state, &rule, &[], 20);
    assert_eq!(
        apply(&mut state, &rule, &[("a", 1.0)], 30),
        [AlertState::Pending]
    );
    let alert = state.alerts.values().next().unwrap();
    assert_eq!(
        (alert.active_at_ms, alert.resolved_at_ms),
        (30 * SECOND, None)
    );
}

#[test]
fn duplicate_labelsets_and_limits_fail_the_evaluation() {
    let rule = rule(r#"{"name": "Dup", "expr": "x", "labels": {"instance": "same"}}"#);
    let mut state = RuleState::default();
    let error = state
        .apply(
            &rule,
            series(&[("a", 1.0), ("b", 1.0)]),
            0,
            0,
            &TemplateContext::default(),
        )
        .unwrap_err();
    assert_eq!(error, StateError::DuplicateLabelset);
    assert!(state.alerts.is_empty());
    let plain = self::rule(r#"{"name": "Many", "expr": "x"}"#);
    apply(&mut state, &plain, &[("a", 1.0)], 0);
    let error = state
        .apply(
            &plain,
            series(&[("a", 1.0), ("b", 1.0)]),
            SECOND,
            1,
            &TemplateContext::default(),
        )
        .unwrap_err();
    assert_eq!(error, StateError::LimitExceeded { limit: 1, found: 2 });
    assert_eq!(state.active().count(), 1, "left as it was");
    assert_eq!(state.resolve_all(SECOND).len(), 1);
    assert_eq!(state.active().count(), 0);
}

#[test]
fn state_survives_json_with_nan_values() {
    let rule = rule(r#"{"name": "Nan", "expr": "x"}"#);
    let mut state = RuleState::default();
    apply(&mut state, &rule, &[("a", f64::NAN)], 0);
    state.notified_firing.insert("k".to_string());
    let text = serde_json::to_string(&state).unwrap();
    let back: RuleState = serde_json::from_str(&text).unwrap();
    assert!(back.alerts.values().next().unwrap().value.is_nan());
    assert_eq!(back.notified_firing, state.notified_firing);
    assert_eq!(
        back.alerts.keys().collect::<Vec<_>>(),
        state.alerts.keys().collect::<Vec<_>>()
    );
}
