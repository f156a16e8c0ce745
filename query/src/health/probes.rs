//! Health-check states, read from the probes' series (`probe_success`,
//! `probe_duration_seconds`, `job="health_check"`, linked to services by `service`).

use std::collections::BTreeMap;

use super::stats::{instant_vector, label, promql_string, Window};
use crate::promql::{Engine, Error, SeriesSource};

/// The health checks' outcome (1 up, 0 down).
pub const PROBE_SUCCESS: &str = "probe_success";
/// The health checks' duration.
pub const PROBE_DURATION: &str = "probe_duration_seconds";
/// The `job` of health-check series.
pub const PROBE_JOB: &str = "health_check";

/// One health check's state at the window's end.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeState {
    /// The check's name (`check` label).
    pub check: String,
    /// The service it is linked to.
    pub service: String,
    /// `http`, `tcp` or `grpc`.
    pub probe: String,
    /// What it probes (URL or host:port).
    pub instance: String,
    /// Its last outcome within the lookback before the window's end; `None` when it has
    /// not reported since.
    pub up: Option<bool>,
    /// The share of successful probes over the window.
    pub availability: Option<f64>,
    /// Its last probe's duration in seconds.
    pub duration_seconds: Option<f64>,
}

/// Health-check states over `window`, for the series `selector` picks (matchers joined to
/// `job="health_check"`, such as `service="cart"`, or empty).
///
/// # Errors
/// The engine's errors.
pub fn probe_states(
    engine: &Engine,
    source: &dyn SeriesSource,
    window: Window,
    extra_matchers: &str,
) -> Result<Vec<ProbeState>, Error> {
    let selector = if extra_matchers.is_empty() {
        format!("{{job={}}}", promql_string(PROBE_JOB))
    } else {
        format!("{{job={},{extra_matchers}}}", promql_string(PROBE_JOB))
    };
    let at = window.end_ms;
    let range = window.range();
    let mut states: BTreeMap<String, ProbeState> = BTreeMap::new();
    let availability = format!("avg_over_time({PROBE_SUCCESS}{selector}{range})");
    for sample in instant_vector(engine, source, &availability, at)? {
        state_of(&mut states, &sample).availability = Some(sample.value);
    }
    for sample in instant_vector(engine, source, &format!("{PROBE_SUCCESS}{selector}"), at)? {
        state_of(&mut states, &sample).up = Some(sample.value >= 1.0);
    }
    for sample in instant_vector(engine, source, &format!("{PROBE_DURATION}{selector}"), at)? {
        state_of(&mut states, &sample).duration_seconds = Some(sample.value);
    }
    Ok(states.into_values().collect())
}

/// The state of the check `sample` belongs to, made on first sight.
fn state_of<'a>(
    states: &'a mut BTreeMap<String, ProbeState>,
    sample: &crate::promql::Sample,
) -> &'a mut ProbeState {
    states
        .entry(label(sample, "check").to_string())
        .or_insert_with(|| ProbeState {
            check: label(sample, "check").to_string(),
            service: label(sample, "service").to_string(),
            probe: label(sample, "probe").to_string(),
            instance: label(sample, "instance").to_string(),
            up: None,
            availability: None,
            duration_seconds: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::stats::matcher;
    use crate::promql::{InMemorySeries, Labels};

    const MINUTE: i64 = 60_000;

    fn window() -> Window {
        Window {
            end_ms: 10 * MINUTE,
            length_ms: 10 * MINUTE,
        }
    }

    #[test]
    fn probes_report_their_last_state_and_availability() {
        let mut source = InMemorySeries::new();
        let labels = |name: &'static str| {
            Labels::new([
                ("__name__", name),
                ("job", PROBE_JOB),
                ("check", "cart-http"),
                ("service", "cart"),
                ("probe", "http"),
                ("instance", "http://127.0.0.1:1/health"),
            ])
        };
        // Up for the first half of the window (which excludes its start), down for the second.
        source.append(
            labels(PROBE_SUCCESS),
            (0..=10).map(|i| (i * MINUTE, if i <= 5 { 1.0 } else { 0.0 })),
        );
        source.append(labels(PROBE_DURATION), (0..10).map(|i| (i * MINUTE, 0.25)));
        let engine = Engine::default();
        let states = probe_states(&engine, &source, window(), "").unwrap();
        assert_eq!(
            states,
            [ProbeState {
                check: "cart-http".into(),
                service: "cart".into(),
                probe: "http".into(),
                instance: "http://127.0.0.1:1/health".into(),
                up: Some(false),
                availability: Some(0.5),
                duration_seconds: Some(0.25),
            }]
        );
        let other =
            probe_states(&engine, &source, window(), &matcher("service", "=", "x")).unwrap();
        assert!(other.is_empty());
    }
}
