//! Each service's health: its figures ([`KindRed`]), health checks and firing alerts, judged
//! by its objectives.

use std::collections::BTreeMap;

use super::alerts::FiringAlert;
use super::objectives::{judge, Evidence, HealthConfig, HealthStatus};
use super::probes::ProbeState;
use super::stats::{KindRed, Red};

/// One service's health over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceHealth {
    /// `service.name`.
    pub name: String,
    /// Whether [`ServiceHealth::red`] counts only entry spans (`SERVER`, `CONSUMER`); when
    /// false the service had none and every span counts.
    pub entry_spans_only: bool,
    /// The figures it is judged on.
    pub red: Red,
    /// Its health checks.
    pub checks: Vec<ProbeState>,
    /// Alerts firing about it.
    pub alerts: Vec<FiringAlert>,
    /// The verdict.
    pub status: HealthStatus,
    /// Why, one line per objective missed.
    pub reasons: Vec<String>,
}

/// Judges every service that has span metrics or health checks in the window. `spans` is
/// keyed by `[service]` (as [`super::stats::span_red`] groups with `["service"]`).
pub fn judge_services(
    config: &HealthConfig,
    spans: BTreeMap<Vec<String>, KindRed>,
    probes: Vec<ProbeState>,
    alerts: Vec<FiringAlert>,
) -> Vec<ServiceHealth> {
    let mut figures: BTreeMap<String, KindRed> = spans
        .into_iter()
        .filter_map(|(key, red)| key.into_iter().next().map(|name| (name, red)))
        .filter(|(name, _)| !name.is_empty())
        .collect();
    let mut checks: BTreeMap<String, Vec<ProbeState>> = BTreeMap::new();
    for probe in probes {
        figures.entry(probe.service.clone()).or_default();
        checks.entry(probe.service.clone()).or_default().push(probe);
    }
    let mut firing: BTreeMap<String, Vec<FiringAlert>> = BTreeMap::new();
    for alert in alerts {
        firing.entry(alert.service.clone()).or_default().push(alert);
    }
    figures
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, figures)| {
            let checks = checks.remove(&name).unwrap_or_default();
            let alerts = firing.remove(&name).unwrap_or_default();
            judge_one(config, name, &figures, checks, alerts)
        })
        .collect()
}

/// Judges one service.
pub fn judge_one(
    config: &HealthConfig,
    name: String,
    figures: &KindRed,
    checks: Vec<ProbeState>,
    alerts: Vec<FiringAlert>,
) -> ServiceHealth {
    let red = figures.measured().clone();
    let evidence = Evidence {
        requests: red.requests,
        error_ratio: red.error_ratio(),
        latency_p99_ms: red.quantile_seconds(0.99).map(|seconds| seconds * 1000.0),
        failing_checks: checks
            .iter()
            .filter(|check| check.up == Some(false))
            .map(|check| check.check.clone())
            .collect(),
        firing_alerts: alerts.iter().map(|alert| alert.name.clone()).collect(),
    };
    let (status, reasons) = judge(&config.objectives(&name), &evidence);
    ServiceHealth {
        entry_spans_only: figures.has_entry_spans(),
        name,
        red,
        checks,
        alerts,
        status,
        reasons,
    }
}
