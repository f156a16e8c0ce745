//! Compact series for the health table: every service's request rate and error ratio over
//! time, from one range query grouped by service (not one query per service), measured on
//! the same spans as the service's figures (entry spans when it has some, else all spans).

use std::collections::{BTreeMap, BTreeSet};

use super::stats::{CALLS, ENTRY_KINDS, ERROR_STATUS};
use crate::promql::{Engine, Error, Matrix, SeriesSource};

/// One service's compact series, `(ms, value)` pairs as on a service page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparkline {
    /// Requests per second.
    pub rate: Vec<(i64, f64)>,
    /// Failed over all requests (steps without requests are left out).
    pub error_ratio: Vec<(i64, f64)>,
}

/// Where the points of a sparkline fall and what `rate` looks back over, all in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparklineSteps {
    /// The first point.
    pub start_ms: i64,
    /// The last point.
    pub end_ms: i64,
    /// Between two points.
    pub step_ms: i64,
    /// The `rate` window of each point.
    pub rate_window_ms: i64,
}

/// Each service's [`Sparkline`] over `steps`, keyed by service name; services without a
/// point are left out. A service in `entry_spans_only` is measured on its `SERVER` and
/// `CONSUMER` spans, any other on all its spans.
///
/// # Errors
/// The engine's errors.
pub fn service_sparklines(
    engine: &Engine,
    source: &dyn SeriesSource,
    steps: SparklineSteps,
    entry_spans_only: &BTreeSet<String>,
) -> Result<BTreeMap<String, Sparkline>, Error> {
    let query = format!(
        "sum by (service, span_kind, status_code) (rate({CALLS}[{}ms]))",
        steps.rate_window_ms
    );
    let calls: Matrix =
        engine.range_query(source, &query, steps.start_ms, steps.end_ms, steps.step_ms)?;
    // Per service and step: (requests per second, failed per second).
    let mut totals: BTreeMap<&str, BTreeMap<i64, (f64, f64)>> = BTreeMap::new();
    for series in &calls {
        let service = series.labels.get("service").unwrap_or_default();
        let span_kind = series.labels.get("span_kind").unwrap_or_default();
        if service.is_empty()
            || (entry_spans_only.contains(service) && !ENTRY_KINDS.contains(&span_kind))
        {
            continue;
        }
        let failed = series.labels.get("status_code") == Some(ERROR_STATUS);
        let steps = totals.entry(service).or_default();
        for &(at, value) in &series.points {
            let entry = steps.entry(at).or_default();
            entry.0 += value;
            if failed {
                entry.1 += value;
            }
        }
    }
    Ok(totals
        .into_iter()
        .map(|(service, steps)| (service.to_string(), sparkline_from_totals(&steps)))
        .collect())
}

/// Turns per-step `(rate, failed rate)` into a rate series and an error-ratio series.
fn sparkline_from_totals(totals: &BTreeMap<i64, (f64, f64)>) -> Sparkline {
    let mut out = Sparkline::default();
    for (&at, &(rate, errors)) in totals {
        out.rate.push((at, rate));
        if rate > 0.0 {
            out.error_ratio.push((at, errors / rate));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{InMemorySeries, Labels};

    const SECOND: i64 = 1000;

    /// A counter sampled every second for two minutes, rising by `per_second` a second.
    fn calls(
        source: &mut InMemorySeries,
        service: &str,
        kind: &str,
        status: &str,
        per_second: f64,
    ) {
        let labels = Labels::new([
            ("__name__", CALLS),
            ("service", service),
            ("span_name", "GET /"),
            ("span_kind", kind),
            ("status_code", status),
        ]);
        source.append(
            labels,
            (0..=120).map(|i| (i * SECOND, per_second * i as f64)),
        );
    }

    fn steps() -> SparklineSteps {
        SparklineSteps {
            start_ms: 30 * SECOND,
            end_ms: 120 * SECOND,
            step_ms: 30 * SECOND,
            rate_window_ms: 30 * SECOND,
        }
    }

    fn close(points: &[(i64, f64)], expected: &[(i64, f64)]) {
        assert_eq!(points.len(), expected.len(), "{points:?}");
        for ((at, value), (want_at, want)) in points.iter().zip(expected) {
            assert_eq!(at, want_at, "{points:?}");
            assert!(
                (value - want).abs() < 1e-9,
                "{points:?} is not {expected:?}"
            );
        }
    }

    #[test]
    fn every_service_gets_rate_and_error_ratio_from_one_query() {
        let mut source = InMemorySeries::new();
        calls(
            &mut source,
            "cart",
            "SPAN_KIND_SERVER",
            "STATUS_CODE_UNSET",
            3.0,
        );
        calls(&mut source, "cart", "SPAN_KIND_SERVER", ERROR_STATUS, 1.0);
        // Client spans of a service measured on entry spans do not count.
        calls(&mut source, "cart", "SPAN_KIND_CLIENT", ERROR_STATUS, 100.0);
        calls(
            &mut source,
            "cron",
            "SPAN_KIND_INTERNAL",
            "STATUS_CODE_OK",
            0.5,
        );
        let entry = BTreeSet::from(["cart".to_string()]);
        let lines = service_sparklines(&Engine::default(), &source, steps(), &entry).unwrap();
        assert_eq!(lines.keys().collect::<Vec<_>>(), ["cart", "cron"]);
        let at = [30, 60, 90, 120].map(|s| s * SECOND);
        close(&lines["cart"].rate, &at.map(|t| (t, 4.0)));
        close(&lines["cart"].error_ratio, &at.map(|t| (t, 0.25)));
        close(&lines["cron"].rate, &at.map(|t| (t, 0.5)));
        close(&lines["cron"].error_ratio, &at.map(|t| (t, 0.0)));
    }

    #[test]
    fn a_service_measured_on_all_spans_counts_every_kind() {
        let mut source = InMemorySeries::new();
        calls(&mut source, "batch", "SPAN_KIND_CLIENT", ERROR_STATUS, 1.0);
        calls(
            &mut source,
            "batch",
            "SPAN_KIND_INTERNAL",
            "STATUS_CODE_UNSET",
            1.0,
        );
        let lines =
            service_sparklines(&Engine::default(), &source, steps(), &BTreeSet::new()).unwrap();
        close(
            &lines["batch"].rate,
            &[30, 60, 90, 120].map(|s| (s * SECOND, 2.0)),
        );
        close(
            &lines["batch"].error_ratio,
            &[30, 60, 90, 120].map(|s| (s * SECOND, 0.5)),
        );
    }

    #[test]
    fn steps_without_requests_have_no_error_ratio() {
        let totals = BTreeMap::from([(1, (0.0, 0.0)), (2, (2.0, 1.0))]);
        let line = sparkline_from_totals(&totals);
        assert_eq!(line.rate, [(1, 0.0), (2, 2.0)]);
        assert_eq!(line.error_ratio, [(2, 0.5)]);
    }
}
