//! Firing alerts, read from the `ALERTS` series the rule evaluator writes; an alert whose
//! rule sets a `service` label counts against that service.

use super::stats::{instant_vector, label, Window};
use crate::promql::{Engine, Error, SeriesSource};

/// An alert firing at the window's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringAlert {
    /// `alertname`.
    pub name: String,
    /// The `service` label, when the rule sets one.
    pub service: String,
    /// The `severity` label, when the rule sets one.
    pub severity: String,
}

/// The alerts firing at the window's end (`ALERTS{alertstate="firing"}`), for the series
/// `extra_matchers` picks (such as `service="cart"`, or empty).
///
/// # Errors
/// The engine's errors.
pub fn firing_alerts(
    engine: &Engine,
    source: &dyn SeriesSource,
    window: Window,
    extra_matchers: &str,
) -> Result<Vec<FiringAlert>, Error> {
    let mut selector = String::from("ALERTS{alertstate=\"firing\"");
    if !extra_matchers.is_empty() {
        selector.push(',');
        selector.push_str(extra_matchers);
    }
    selector.push('}');
    let mut alerts: Vec<FiringAlert> = instant_vector(engine, source, &selector, window.end_ms)?
        .iter()
        .map(|sample| FiringAlert {
            name: label(sample, "alertname").to_string(),
            service: label(sample, "service").to_string(),
            severity: label(sample, "severity").to_string(),
        })
        .collect();
    alerts.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
    alerts.dedup();
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{InMemorySeries, Labels};

    const MINUTE: i64 = 60_000;

    fn window() -> Window {
        Window {
            end_ms: 10 * MINUTE,
            length_ms: 10 * MINUTE,
        }
    }

    #[test]
    fn firing_alerts_are_read_from_the_alerts_series() {
        let mut source = InMemorySeries::new();
        for (name, state) in [("HighErrors", "firing"), ("SlowCart", "pending")] {
            source.append(
                Labels::new([
                    ("__name__", "ALERTS"),
                    ("alertname", name),
                    ("alertstate", state),
                    ("service", "cart"),
                    ("severity", "page"),
                ]),
                [(9 * MINUTE, 1.0)],
            );
        }
        let alerts = firing_alerts(&Engine::default(), &source, window(), "").unwrap();
        assert_eq!(
            alerts,
            [FiringAlert {
                name: "HighErrors".into(),
                service: "cart".into(),
                severity: "page".into(),
            }]
        );
    }
}
