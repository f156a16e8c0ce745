//! The health rule: configurable objectives, and how a service's figures, probes and alerts
//! make its [`HealthStatus`].
//!
//! The rule, checked in this order, with the service's [`Objectives`] (the defaults of
//! `[query.health]`, overridden per service under `[query.health.services.<name>]`):
//! - **unhealthy** when a health check of the service is failing, the error ratio is above
//!   `unhealthy_error_ratio`, or the p99 latency is above `unhealthy_latency_p99_ms`;
//! - **degraded** when the error ratio is above `degraded_error_ratio`, the p99 latency is
//!   above `degraded_latency_p99_ms`, or an alert about the service is firing;
//! - **healthy** otherwise (a service without requests in the window included).
//!
//! Ratios and latencies are only judged over at least `min_requests` requests, so one failed
//! request of two does not turn a quiet service red. A latency objective of 0 is off. Every
//! reason that applies is reported, so users see why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A service's health, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Every objective met.
    Healthy,
    /// An objective's warning level crossed, or an alert firing.
    Degraded,
    /// A health check failing, or an objective's critical level crossed.
    Unhealthy,
}

/// The levels a service is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Objectives {
    /// Error ratio (0 to 1) above which a service is degraded.
    pub degraded_error_ratio: f64,
    /// Error ratio above which a service is unhealthy.
    pub unhealthy_error_ratio: f64,
    /// p99 latency in milliseconds above which a service is degraded; 0 turns it off.
    pub degraded_latency_p99_ms: f64,
    /// p99 latency in milliseconds above which a service is unhealthy; 0 turns it off.
    pub unhealthy_latency_p99_ms: f64,
    /// Requests a window needs before its error ratio and latency are judged.
    pub min_requests: f64,
}

impl Default for Objectives {
    fn default() -> Self {
        Self {
            degraded_error_ratio: 0.01,
            unhealthy_error_ratio: 0.05,
            degraded_latency_p99_ms: 1000.0,
            unhealthy_latency_p99_ms: 5000.0,
            min_requests: 5.0,
        }
    }
}

/// One service's overrides: each key left out keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveOverrides {
    /// Overrides [`Objectives::degraded_error_ratio`].
    pub degraded_error_ratio: Option<f64>,
    /// Overrides [`Objectives::unhealthy_error_ratio`].
    pub unhealthy_error_ratio: Option<f64>,
    /// Overrides [`Objectives::degraded_latency_p99_ms`].
    pub degraded_latency_p99_ms: Option<f64>,
    /// Overrides [`Objectives::unhealthy_latency_p99_ms`].
    pub unhealthy_latency_p99_ms: Option<f64>,
    /// Overrides [`Objectives::min_requests`].
    pub min_requests: Option<f64>,
}

impl ObjectiveOverrides {
    /// Adds a line to `problems` for each value given that is out of range.
    fn check(&self, prefix: &str, problems: &mut Vec<String>) {
        for (key, value) in [
            ("degraded_error_ratio", self.degraded_error_ratio),
            ("unhealthy_error_ratio", self.unhealthy_error_ratio),
        ] {
            match value {
                Some(value) if !(0.0..=1.0).contains(&value) => {
                    problems.push(format!(
                        "{prefix}.{key} must be between 0 and 1, got {value}"
                    ));
                }
                _ => {}
            }
        }
        for (key, value) in [
            ("degraded_latency_p99_ms", self.degraded_latency_p99_ms),
            ("unhealthy_latency_p99_ms", self.unhealthy_latency_p99_ms),
            ("min_requests", self.min_requests),
        ] {
            match value {
                Some(value) if !value.is_finite() || value < 0.0 => {
                    problems.push(format!("{prefix}.{key} must be 0 or more, got {value}"));
                }
                _ => {}
            }
        }
    }
}

/// `[query.health]`: the objectives, per-service overrides, and the sample interval of the
/// derived series (which sizes `rate` windows).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Error ratio above which a service is degraded (default 0.01).
    pub degraded_error_ratio: f64,
    /// Error ratio above which a service is unhealthy (default 0.05).
    pub unhealthy_error_ratio: f64,
    /// p99 latency (ms) above which a service is degraded (default 1000; 0 = off).
    pub degraded_latency_p99_ms: f64,
    /// p99 latency (ms) above which a service is unhealthy (default 5000; 0 = off).
    pub unhealthy_latency_p99_ms: f64,
    /// Requests a window needs before ratios and latencies are judged (default 5).
    pub min_requests: f64,
    /// Seconds between samples of the derived series (the collector's
    /// `flush_interval_seconds`); time series use `rate` windows of at least four of them.
    pub sample_interval_seconds: u64,
    /// Overrides by service name.
    pub services: BTreeMap<String, ObjectiveOverrides>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        let defaults = Objectives::default();
        Self {
            degraded_error_ratio: defaults.degraded_error_ratio,
            unhealthy_error_ratio: defaults.unhealthy_error_ratio,
            degraded_latency_p99_ms: defaults.degraded_latency_p99_ms,
            unhealthy_latency_p99_ms: defaults.unhealthy_latency_p99_ms,
            min_requests: defaults.min_requests,
            sample_interval_seconds: 15,
            services: BTreeMap::new(),
        }
    }
}

impl HealthConfig {
    /// The objectives `service` is judged by.
    pub fn objectives(&self, service: &str) -> Objectives {
        let base = Objectives {
            degraded_error_ratio: self.degraded_error_ratio,
            unhealthy_error_ratio: self.unhealthy_error_ratio,
            degraded_latency_p99_ms: self.degraded_latency_p99_ms,
            unhealthy_latency_p99_ms: self.unhealthy_latency_p99_ms,
            min_requests: self.min_requests,
        };
        let Some(overrides) = self.services.get(service) else {
            return base;
        };
        Objectives {
            degraded_error_ratio: overrides
                .degraded_error_ratio
                .unwrap_or(base.degraded_error_ratio),
            unhealthy_error_ratio: overrides
                .unhealthy_error_ratio
                .unwrap_or(base.unhealthy_error_ratio),
            degraded_latency_p99_ms: overrides
                .degraded_latency_p99_ms
                .unwrap_or(base.degraded_latency_p99_ms),
            unhealthy_latency_p99_ms: overrides
                .unhealthy_latency_p99_ms
                .unwrap_or(base.unhealthy_latency_p99_ms),
            min_requests: overrides.min_requests.unwrap_or(base.min_requests),
        }
    }

    /// Checks the settings; one line per problem, naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.sample_interval_seconds == 0 {
            problems.push("query.health.sample_interval_seconds must be at least 1".to_string());
        }
        let defaults = ObjectiveOverrides {
            degraded_error_ratio: Some(self.degraded_error_ratio),
            unhealthy_error_ratio: Some(self.unhealthy_error_ratio),
            degraded_latency_p99_ms: Some(self.degraded_latency_p99_ms),
            unhealthy_latency_p99_ms: Some(self.unhealthy_latency_p99_ms),
            min_requests: Some(self.min_requests),
        };
        defaults.check("query.health", &mut problems);
        for (service, overrides) in &self.services {
            overrides.check(&format!("query.health.services.{service:?}"), &mut problems);
        }
        problems
    }
}

/// What a service's status is judged on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Requests in the window.
    pub requests: f64,
    /// Their error ratio, when there were requests.
    pub error_ratio: Option<f64>,
    /// Their p99 latency in milliseconds, when known.
    pub latency_p99_ms: Option<f64>,
    /// Names of the service's health checks that are failing.
    pub failing_checks: Vec<String>,
    /// Names of the alerts firing about the service.
    pub firing_alerts: Vec<String>,
}

/// Judges `evidence` by `objectives`: the status and every reason for it.
pub fn judge(objectives: &Objectives, evidence: &Evidence) -> (HealthStatus, Vec<String>) {
    let mut status = HealthStatus::Healthy;
    let mut reasons = Vec::new();
    let mut flag = |level: HealthStatus, reason: String| {
        status = status.max(level);
        reasons.push(reason);
    };
    for check in &evidence.failing_checks {
        flag(
            HealthStatus::Unhealthy,
            format!("health check {check:?} failing"),
        );
    }
    let judged = evidence.requests >= objectives.min_requests && evidence.requests > 0.0;
    if let Some(ratio) = evidence.error_ratio.filter(|_| judged) {
        if ratio > objectives.unhealthy_error_ratio {
            flag(
                HealthStatus::Unhealthy,
                format!(
                    "error ratio {} above {}",
                    percent(ratio),
                    percent(objectives.unhealthy_error_ratio)
                ),
            );
        } else if ratio > objectives.degraded_error_ratio {
            flag(
                HealthStatus::Degraded,
                format!(
                    "error ratio {} above {}",
                    percent(ratio),
                    percent(objectives.degraded_error_ratio)
                ),
            );
        }
    }
    if let Some(p99) = evidence.latency_p99_ms.filter(|_| judged) {
        let over = |limit: f64| limit > 0.0 && p99 > limit;
        if over(objectives.unhealthy_latency_p99_ms) {
            flag(
                HealthStatus::Unhealthy,
                format!(
                    "p99 latency {p99:.0} ms above {} ms",
                    objectives.unhealthy_latency_p99_ms
                ),
            );
        } else if over(objectives.degraded_latency_p99_ms) {
            flag(
                HealthStatus::Degraded,
                format!(
                    "p99 latency {p99:.0} ms above {} ms",
                    objectives.degraded_latency_p99_ms
                ),
            );
        }
    }
    for alert in &evidence.firing_alerts {
        flag(HealthStatus::Degraded, format!("alert {alert:?} firing"));
    }
    (status, reasons)
}

fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(requests: f64, error_ratio: f64, p99: f64) -> Evidence {
        Evidence {
            requests,
            error_ratio: Some(error_ratio),
            latency_p99_ms: Some(p99),
            ..Evidence::default()
        }
    }

    #[test]
    fn the_worst_level_crossed_wins_and_every_reason_is_told() {
        let objectives = Objectives::default();
        assert_eq!(
            judge(&objectives, &evidence(100.0, 0.0, 10.0)),
            (HealthStatus::Healthy, vec![])
        );
        let (status, reasons) = judge(&objectives, &evidence(100.0, 0.02, 10.0));
        assert_eq!(status, HealthStatus::Degraded);
        assert_eq!(reasons, ["error ratio 2.0% above 1.0%"]);
        let (status, reasons) = judge(&objectives, &evidence(100.0, 0.2, 1500.0));
        assert_eq!(status, HealthStatus::Unhealthy);
        assert_eq!(
            reasons,
            [
                "error ratio 20.0% above 5.0%",
                "p99 latency 1500 ms above 1000 ms"
            ]
        );
        let mut failing = evidence(100.0, 0.0, 10.0);
        failing.failing_checks.push("db-ping".into());
        failing.firing_alerts.push("HighLatency".into());
        let (status, reasons) = judge(&objectives, &failing);
        assert_eq!(status, HealthStatus::Unhealthy);
        assert_eq!(
            reasons,
            [
                "health check \"db-ping\" failing",
                "alert \"HighLatency\" firing"
            ]
        );
    }

    #[test]
    fn few_requests_are_not_judged_and_zero_turns_latency_off() {
        let objectives = Objectives::default();
        assert_eq!(
            judge(&objectives, &evidence(2.0, 0.5, 9000.0)).0,
            HealthStatus::Healthy
        );
        let no_latency = Objectives {
            degraded_latency_p99_ms: 0.0,
            unhealthy_latency_p99_ms: 0.0,
            ..objectives
        };
        assert_eq!(
            judge(&no_latency, &evidence(100.0, 0.0, 9000.0)).0,
            HealthStatus::Healthy
        );
    }

    #[test]
    fn overrides_replace_only_their_keys_and_bad_values_are_named() {
        let config: HealthConfig = toml_like(
            r#"{"degraded_error_ratio": 0.02,
                "services": {"checkout": {"degraded_latency_p99_ms": 300}}}"#,
        );
        let checkout = config.objectives("checkout");
        assert_eq!(checkout.degraded_latency_p99_ms, 300.0);
        assert_eq!(checkout.degraded_error_ratio, 0.02);
        assert_eq!(config.objectives("cart").degraded_latency_p99_ms, 1000.0);
        assert!(config.problems().is_empty());

        let bad: HealthConfig = toml_like(
            r#"{"unhealthy_error_ratio": 2, "sample_interval_seconds": 0,
                "services": {"cart": {"min_requests": -1}}}"#,
        );
        let problems = bad.problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("sample_interval_seconds"));
        assert!(problems[1].contains("query.health.unhealthy_error_ratio"));
        assert!(problems[2].contains("query.health.services.\"cart\".min_requests"));
    }

    fn toml_like(json: &str) -> HealthConfig {
        serde_json::from_str(json).unwrap()
    }
}
