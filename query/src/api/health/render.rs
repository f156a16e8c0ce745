//! The health API's JSON: services, nodes and edges with their figures; series as
//! `[ms, value]` pairs. Latencies are in milliseconds, rates per second, ratios 0 to 1;
//! a figure that cannot be known (no requests, no observations) is `null`.

use serde::Serialize;

use crate::health::alerts::FiringAlert;
use crate::health::graph::{Node, NodeKind};
use crate::health::probes::ProbeState;
use crate::health::services::ServiceHealth;
use crate::health::sparklines::Sparkline;
use crate::health::stats::{EdgeKey, EdgeRed, Red, RedSeries};
use crate::health::HealthStatus;

/// Latency quantiles in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct LatencyJson {
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

impl LatencyJson {
    fn from_red(red: &Red) -> Self {
        let ms = |q| red.quantile_seconds(q).map(|seconds| seconds * 1000.0);
        Self {
            p50: ms(0.5),
            p95: ms(0.95),
            p99: ms(0.99),
        }
    }
}

/// Requests, rate, errors, error ratio and latency of something over the window.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FiguresJson {
    requests: f64,
    rate: f64,
    errors: f64,
    error_ratio: Option<f64>,
    latency_ms: LatencyJson,
}

impl FiguresJson {
    pub(crate) fn new(red: &Red, window_seconds: f64) -> Self {
        Self {
            requests: red.requests,
            rate: if window_seconds > 0.0 {
                red.requests / window_seconds
            } else {
                0.0
            },
            errors: red.errors,
            error_ratio: red.error_ratio(),
            latency_ms: LatencyJson::from_red(red),
        }
    }

    /// The requests counted.
    pub(crate) fn requests(&self) -> f64 {
        self.requests
    }
}

/// A health check's state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckJson {
    name: String,
    probe: String,
    instance: String,
    up: Option<bool>,
    availability: Option<f64>,
    duration_ms: Option<f64>,
}

impl From<&ProbeState> for CheckJson {
    fn from(state: &ProbeState) -> Self {
        Self {
            name: state.check.clone(),
            probe: state.probe.clone(),
            instance: state.instance.clone(),
            up: state.up,
            availability: state.availability,
            duration_ms: state.duration_seconds.map(|seconds| seconds * 1000.0),
        }
    }
}

/// A firing alert.
#[derive(Debug, Serialize)]
pub(crate) struct AlertJson {
    name: String,
    severity: String,
}

impl From<&FiringAlert> for AlertJson {
    fn from(alert: &FiringAlert) -> Self {
        Self {
            name: alert.name.clone(),
            severity: alert.severity.clone(),
        }
    }
}

/// One service of `GET /api/v1/services`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceJson {
    name: String,
    status: HealthStatus,
    reasons: Vec<String>,
    /// `entry_spans` (SERVER and CONSUMER) or `all_spans` (the service has no entry spans).
    measured_on: &'static str,
    #[serde(flatten)]
    figures: FiguresJson,
    checks: Vec<CheckJson>,
    alerts: Vec<AlertJson>,
    /// Compact series for the health table, when the request asked for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    sparkline: Option<SparklineJson>,
}

impl ServiceJson {
    pub(crate) fn new(service: &ServiceHealth, window_seconds: f64) -> Self {
        Self {
            name: service.name.clone(),
            status: service.status,
            reasons: service.reasons.clone(),
            measured_on: if service.entry_spans_only {
                "entry_spans"
            } else {
                "all_spans"
            },
            figures: FiguresJson::new(&service.red, window_seconds),
            checks: service.checks.iter().map(CheckJson::from).collect(),
            alerts: service.alerts.iter().map(AlertJson::from).collect(),
            sparkline: None,
        }
    }

    /// The service's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Adds the service's compact series.
    pub(crate) fn with_sparkline(mut self, sparkline: Sparkline) -> Self {
        self.sparkline = Some(SparklineJson {
            rate: sparkline.rate,
            error_ratio: sparkline.error_ratio,
        });
        self
    }
}

/// A service's compact series in the health table: requests per second and the error ratio
/// as `[ms, value]` pairs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SparklineJson {
    rate: Vec<(i64, f64)>,
    error_ratio: Vec<(i64, f64)>,
}

/// One operation of a service page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationJson {
    pub(crate) name: String,
    pub(crate) span_kind: String,
    #[serde(flatten)]
    pub(crate) figures: FiguresJson,
}

/// An edge of the dependency graph.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EdgeJson {
    client: String,
    server: String,
    /// The service graph's `connection_type`: empty for a direct call, `database`,
    /// `messaging_system` or `virtual_node`.
    connection_type: String,
    #[serde(flatten)]
    figures: FiguresJson,
}

impl EdgeJson {
    pub(crate) fn new(
        (client, server, connection_type): &EdgeKey,
        edge: &EdgeRed,
        window_seconds: f64,
    ) -> Self {
        Self {
            client: client.clone(),
            server: server.clone(),
            connection_type: connection_type.clone(),
            figures: FiguresJson::new(&edge.latency(), window_seconds),
        }
    }
}

/// A node of the dependency graph.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeJson {
    name: String,
    kind: NodeKind,
    status: HealthStatus,
    reasons: Vec<String>,
    #[serde(flatten)]
    figures: FiguresJson,
}

impl NodeJson {
    pub(crate) fn new(node: &Node, window_seconds: f64) -> Self {
        Self {
            name: node.name.clone(),
            kind: node.kind,
            status: node.status,
            reasons: node.reasons.clone(),
            figures: FiguresJson::new(&node.red, window_seconds),
        }
    }
}

/// A service's RED time series.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeriesJson {
    rate: Vec<(i64, f64)>,
    error_ratio: Vec<(i64, f64)>,
    latency_ms: SeriesLatencyJson,
}

/// Latency quantile series in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct SeriesLatencyJson {
    p50: Vec<(i64, f64)>,
    p95: Vec<(i64, f64)>,
    p99: Vec<(i64, f64)>,
}

impl From<RedSeries> for SeriesJson {
    fn from(series: RedSeries) -> Self {
        let [p50, p95, p99] = series.quantiles.map(|points| {
            points
                .into_iter()
                .map(|(at, seconds)| (at, seconds * 1000.0))
                .collect()
        });
        Self {
            rate: series.rate,
            error_ratio: series.error_ratio,
            latency_ms: SeriesLatencyJson { p50, p95, p99 },
        }
    }
}
