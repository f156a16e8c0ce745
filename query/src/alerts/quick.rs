//! Quick health rules: alerts for people who do not write PromQL. Each names what it watches
//! (a service, an edge of the dependency map, or a health check) and a threshold, and is
//! turned into PromQL over the span-metric, service-graph and probe series, the same series the
//! health API reads:
//!
//! | kind | service | edge (`client` → `server`) |
//! |---|---|---|
//! | `error_ratio_above` (`threshold` in %) | failed / all entry spans (`SERVER`, `CONSUMER`) | `…_request_failed_total` / `…_request_total` |
//! | `latency_above` (`threshold` in ms, `percentile`, default 95) | `histogram_quantile` of entry-span durations | of the client-side request durations |
//! | `request_rate_below` (`threshold` in requests/s) | entry spans per second (0 when none) | requests per second (0 when none) |
//! | `health_check_failing` | any of its health checks' `probe_success` is 0 (or the `check` named) | — |
//!
//! Rates are over `window` (default 5m). The alert carries `service` (and `client`, `server`
//! for an edge, `check` for a health check) and, unless given, `severity="warning"` and a
//! `summary` annotation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::parse_prometheus_duration;
use crate::health::stats::{
    CALLS, DURATION_BUCKET, EDGE_CLIENT_BUCKET, EDGE_FAILED, EDGE_REQUESTS, ENTRY_KINDS,
    ERROR_STATUS,
};

/// The window rates are taken over when a quick rule gives none.
pub const DEFAULT_WINDOW: &str = "5m";

/// What a quick rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuickKind {
    /// Failed requests above `threshold` percent.
    ErrorRatioAbove,
    /// The `percentile` latency above `threshold` milliseconds.
    LatencyAbove,
    /// Fewer than `threshold` requests per second.
    RequestRateBelow,
    /// A health check failing.
    HealthCheckFailing,
}

/// A quick health rule as the API writes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuickRule {
    /// What it watches for.
    pub kind: QuickKind,
    /// The service watched (not with `client`/`server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The calling side of the watched edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The called side of the watched edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The health check watched (`health_check_failing` only; instead of or with `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Percent for `error_ratio_above`, milliseconds for `latency_above`, requests per second
    /// for `request_rate_below`; unused by `health_check_failing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The latency percentile for `latency_above` (above 0, below 100; default 95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
    /// The window rates are taken over (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

/// What a quick rule is about.
enum Subject<'a> {
    Service(&'a str),
    Edge {
        client: &'a str,
        server: &'a str,
    },
    /// Health checks: those of a service, or one by name (possibly both).
    Check {
        service: Option<&'a str>,
        check: Option<&'a str>,
    },
}

impl QuickRule {
    fn subject(&self, problems: &mut Vec<String>) -> Option<Subject<'_>> {
        fn named(value: &Option<String>) -> Option<&str> {
            value.as_deref().filter(|text| !text.is_empty())
        }
        match (
            named(&self.service),
            named(&self.client),
            named(&self.server),
            named(&self.check),
        ) {
            (service, None, None, Some(check)) if self.kind == QuickKind::HealthCheckFailing => {
                Some(Subject::Check {
                    service,
                    check: Some(check),
                })
            }
            (Some(service), None, None, None) if self.kind == QuickKind::HealthCheckFailing => {
                Some(Subject::Check {
                    service: Some(service),
                    check: None,
                })
            }
            (Some(_), None, None, Some(_)) | (None, _, _, Some(_)) => {
                problems.push("check: only health_check_failing names a check".to_string());
                None
            }
            (Some(service), None, None, None) => Some(Subject::Service(service)),
            (None, Some(client), Some(server), None) => {
                if self.kind == QuickKind::HealthCheckFailing {
                    problems.push(
                        "client: health_check_failing watches a service or a check, not an edge"
                            .to_string(),
                    );
                    return None;
                }
                Some(Subject::Edge { client, server })
            }
            _ => {
                problems.push(
                    "service: give a service, or both client and server for an edge".to_string(),
                );
                None
            }
        }
    }

    /// The PromQL expression the rule stands for.
    ///
    /// # Errors
    /// One line per problem, each naming its field.
    pub fn to_promql(&self) -> Result<String, Vec<String>> {
        let mut problems = Vec::new();
        let subject = self.subject(&mut problems);
        let window = self.window.as_deref().unwrap_or(DEFAULT_WINDOW);
        match parse_prometheus_duration(window) {
            Ok(duration) if duration.as_secs() >= 1 => {}
            Ok(_) => problems.push("window: must be at least 1s".to_string()),
            Err(message) => problems.push(format!("window: {message}")),
        }
        let threshold = match (self.kind, self.threshold) {
            (QuickKind::HealthCheckFailing, None) => 0.0,
            (QuickKind::HealthCheckFailing, Some(_)) => {
                problems.push("threshold: health_check_failing takes no threshold".to_string());
                0.0
            }
            (_, None) => {
                problems.push("threshold: is required".to_string());
                0.0
            }
            (_, Some(value)) if !value.is_finite() || value < 0.0 => {
                problems.push(format!("threshold: {value} must be a number of at least 0"));
                0.0
            }
            (_, Some(value)) => value,
        };
        let percentile = self.percentile.unwrap_or(95.0);
        if self.percentile.is_some() && self.kind != QuickKind::LatencyAbove {
            problems.push("percentile: only latency_above takes a percentile".to_string());
        }
        if !(percentile > 0.0 && percentile < 100.0) {
            problems.push(format!(
                "percentile: {percentile} must be above 0 and below 100"
            ));
        }
        let Some(subject) = subject.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        Ok(expression(
            self.kind, &subject, window, threshold, percentile,
        ))
    }

    /// Adds the labels and annotations a quick rule's alerts carry unless the user gave them.
    pub fn add_default_labels(
        &self,
        labels: &mut BTreeMap<String, String>,
        annotations: &mut BTreeMap<String, String>,
    ) {
        labels
            .entry("severity".to_string())
            .or_insert_with(|| "warning".to_string());
        let mut problems = Vec::new();
        let subject = match self.subject(&mut problems) {
            Some(Subject::Service(service)) => service.to_string(),
            Some(Subject::Edge { client, server }) => format!("{client} → {server}"),
            Some(Subject::Check { service, check }) => {
                check.or(service).unwrap_or_default().to_string()
            }
            None => return,
        };
        let threshold = self.threshold.unwrap_or(0.0);
        let summary = match self.kind {
            QuickKind::ErrorRatioAbove => format!(
                "{subject}: error ratio {{{{ $value | humanizePercentage }}}} is above {threshold}%"
            ),
            QuickKind::LatencyAbove => format!(
                "{subject}: p{} latency {{{{ $value | humanizeDuration }}}} is above {threshold} ms",
                self.percentile.unwrap_or(95.0)
            ),
            QuickKind::RequestRateBelow => format!(
                "{subject}: {{{{ $value | humanize }}}} requests/s is below {threshold}/s"
            ),
            QuickKind::HealthCheckFailing => {
                "{{ $labels.service }}: health check {{ $labels.check }} is failing".to_string()
            }
        };
        annotations.entry("summary".to_string()).or_insert(summary);
    }
}

/// Builds the expression.
fn expression(
    kind: QuickKind,
    subject: &Subject<'_>,
    window: &str,
    threshold: f64,
    percentile: f64,
) -> String {
    let entry_kinds = ENTRY_KINDS.join("|");
    let (selector, by) = match subject {
        Subject::Service(service) => (
            format!(
                "service=\"{}\",span_kind=~\"{entry_kinds}\"",
                escape(service)
            ),
            "service",
        ),
        Subject::Edge { client, server } => (
            format!(
                "client=\"{}\",server=\"{}\"",
                escape(client),
                escape(server)
            ),
            "client, server",
        ),
        Subject::Check { service, check } => {
            let mut selector = String::from("job=\"health_check\"");
            if let Some(check) = check {
                selector.push_str(&format!(",check=\"{}\"", escape(check)));
            }
            if let Some(service) = service {
                selector.push_str(&format!(",service=\"{}\"", escape(service)));
            }
            return format!("probe_success{{{selector}}} == 0");
        }
    };
    let edge = matches!(subject, Subject::Edge { .. });
    let (requests, failed, buckets) = if edge {
        (
            format!("{EDGE_REQUESTS}{{{selector}}}"),
            format!("{EDGE_FAILED}{{{selector}}}"),
            format!("{EDGE_CLIENT_BUCKET}{{{selector}}}"),
        )
    } else {
        (
            format!("{CALLS}{{{selector}}}"),
            format!("{CALLS}{{{selector},status_code=\"{ERROR_STATUS}\"}}"),
            format!("{DURATION_BUCKET}{{{selector}}}"),
        )
    };
    match kind {
        QuickKind::ErrorRatioAbove => format!(
            "sum by ({by}) (rate({failed}[{window}])) / sum by ({by}) (rate({requests}[{window}])) > {}",
            threshold / 100.0
        ),
        QuickKind::LatencyAbove => format!(
            "histogram_quantile({}, sum by ({by}, le) (rate({buckets}[{window}]))) > {}",
            percentile / 100.0,
            threshold / 1000.0
        ),
        QuickKind::RequestRateBelow => {
            // With no requests at all the rate has no series; `or` supplies a zero carrying
            // the subject's labels so that silence alerts too.
            let zero = match subject {
                Subject::Edge { client, server } => format!(
                    "label_replace(label_replace(vector(0), \"client\", \"{}\", \"\", \"\"), \"server\", \"{}\", \"\", \"\")",
                    escape(client),
                    escape(server)
                ),
                Subject::Service(service) => format!(
                    "label_replace(vector(0), \"service\", \"{}\", \"\", \"\")",
                    escape(service)
                ),
                Subject::Check { .. } => "vector(0)".to_string(),
            };
            format!("(sum by ({by}) (rate({requests}[{window}])) or {zero}) < {threshold}")
        }
        // A health-check rule always has a `Subject::Check` (see `QuickRule::subject`), answered
        // above; this arm only completes the match.
        QuickKind::HealthCheckFailing => format!("{requests} < 0"),
    }
}

/// Escapes a label value for a PromQL string literal.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::engine::parse_query;

    fn quick(json: &str) -> QuickRule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn service_rules_read_entry_spans() {
        let expr = quick(r#"{"kind": "error_ratio_above", "service": "cart", "threshold": 5}"#)
            .to_promql()
            .unwrap();
        assert_eq!(
            expr,
            "sum by (service) (rate(traces_span_metrics_calls_total{service=\"cart\",span_kind=~\"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER\",status_code=\"STATUS_CODE_ERROR\"}[5m])) / sum by (service) (rate(traces_span_metrics_calls_total{service=\"cart\",span_kind=~\"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER\"}[5m])) > 0.05"
        );
        let latency = quick(
            r#"{"kind": "latency_above", "service": "cart", "threshold": 300, "percentile": 99, "window": "1m"}"#,
        )
        .to_promql()
        .unwrap();
        assert!(latency.starts_with("histogram_quantile(0.99, sum by (service, le) (rate(traces_span_metrics_duration_seconds_bucket{"));
        assert!(latency.ends_with("[1m]))) > 0.3"), "{latency}");
        let health = quick(r#"{"kind": "health_check_failing", "service": "cart"}"#)
            .to_promql()
            .unwrap();
        assert_eq!(
            health,
            "probe_success{job=\"health_check\",service=\"cart\"} == 0"
        );
        for expr in [expr, latency, health] {
            parse_query(&expr).unwrap();
        }
    }

    #[test]
    fn edge_rules_read_the_service_graph() {
        let rate = quick(
            r#"{"kind": "request_rate_below", "client": "web", "server": "cart\"x", "threshold": 1}"#,
        )
        .to_promql()
        .unwrap();
        assert_eq!(
            rate,
            "(sum by (client, server) (rate(traces_service_graph_request_total{client=\"web\",server=\"cart\\\"x\"}[5m])) or label_replace(label_replace(vector(0), \"client\", \"web\", \"\", \"\"), \"server\", \"cart\\\"x\", \"\", \"\")) < 1"
        );
        parse_query(&rate).unwrap();
        let check = quick(r#"{"kind": "health_check_failing", "check": "web-home"}"#)
            .to_promql()
            .unwrap();
        assert_eq!(
            check,
            "probe_success{job=\"health_check\",check=\"web-home\"} == 0"
        );
    }

    #[test]
    fn problems_name_fields() {
        let problems = quick(r#"{"kind": "latency_above", "client": "web", "window": "5"}"#)
            .to_promql()
            .unwrap_err();
        assert_eq!(
            problems,
            [
                "service: give a service, or both client and server for an edge",
                "window: \"5\" is not a duration such as \"30s\", \"5m\" or \"1h30m\"",
                "threshold: is required",
            ]
        );
        let edge_check = quick(r#"{"kind": "health_check_failing", "client": "a", "server": "b"}"#)
            .to_promql()
            .unwrap_err();
        assert_eq!(edge_check.len(), 1);
        assert!(serde_json::from_str::<QuickRule>(r#"{"kind": "cpu_above"}"#).is_err());
    }

    #[test]
    fn defaults_fill_severity_and_summary() {
        let rule = quick(r#"{"kind": "error_ratio_above", "service": "cart", "threshold": 5}"#);
        let mut labels = BTreeMap::from([("severity".to_string(), "page".to_string())]);
        let mut annotations = BTreeMap::new();
        rule.add_default_labels(&mut labels, &mut annotations);
        assert_eq!(labels["severity"], "page");
        assert_eq!(
            annotations["summary"],
            "cart: error ratio {{ $value | humanizePercentage }} is above 5%"
        );
    }
}
