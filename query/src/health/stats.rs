//! The figures behind the health API: requests, errors and latency buckets per service,
//! operation or edge ([`Red`]) counted from the span-metric and service-graph series, and
//! RED time series. Every function reads through a [`SeriesSource`], so the same code runs over
//! the metric store and over [`crate::promql::InMemorySeries`] in tests.

use std::collections::BTreeMap;

use promql_parser::parser::Expr;

use super::parallel::join;
use crate::promql::engine::parse_query;
use crate::promql::value::METRIC_NAME_LABEL;
use crate::promql::{
    bucket_quantile, Engine, Error, Labels, MatchOp, Matcher, Matrix, SeriesSource, Value, Vector,
};

/// The span-metrics call counter.
pub const CALLS: &str = "traces_span_metrics_calls_total";
/// The span-metrics duration buckets.
pub const DURATION_BUCKET: &str = "traces_span_metrics_duration_seconds_bucket";
/// The service-graph request counter.
pub const EDGE_REQUESTS: &str = "traces_service_graph_request_total";
/// The service-graph failed-request counter.
pub const EDGE_FAILED: &str = "traces_service_graph_request_failed_total";
/// The service-graph server-side duration buckets.
pub const EDGE_SERVER_BUCKET: &str = "traces_service_graph_request_server_seconds_bucket";
/// The service-graph client-side duration buckets.
pub const EDGE_CLIENT_BUCKET: &str = "traces_service_graph_request_client_seconds_bucket";

/// The span kinds on which a service serves a caller.
pub const ENTRY_KINDS: [&str; 2] = ["SPAN_KIND_SERVER", "SPAN_KIND_CONSUMER"];
/// The `status_code` of failed spans.
pub const ERROR_STATUS: &str = "STATUS_CODE_ERROR";

/// Requests, errors and the latency distribution of something (a service, an operation, an
/// edge) over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Red {
    /// Requests counted.
    pub requests: f64,
    /// Of which failed.
    pub errors: f64,
    /// Cumulative latency buckets `(upper bound in seconds, count)`, possibly repeated per
    /// bound (they add up).
    pub buckets: Vec<(f64, f64)>,
}

impl Red {
    /// Failed requests over requests; `None` without requests.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }

    /// The `q`-quantile of the latency in seconds, as `histogram_quantile` computes it;
    /// `None` without observations.
    pub fn quantile_seconds(&self, q: f64) -> Option<f64> {
        if self.buckets.is_empty() {
            return None;
        }
        Some(bucket_quantile(q, self.buckets.clone())).filter(|value| value.is_finite())
    }

    /// Adds another's counts and buckets.
    pub fn merge(&mut self, other: &Red) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.buckets.extend_from_slice(&other.buckets);
    }
}

/// A group's figures on its entry spans (`SERVER`, `CONSUMER`) and on all its spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindRed {
    /// Over entry spans.
    pub entry: Red,
    /// Over spans of every kind.
    pub all: Red,
}

impl KindRed {
    /// Whether the group served callers in the window.
    pub fn has_entry_spans(&self) -> bool {
        self.entry.requests > 0.0
    }

    /// The figures the group is judged on: entry spans when it has some, else all spans.
    pub fn measured(&self) -> &Red {
        if self.has_entry_spans() {
            &self.entry
        } else {
            &self.all
        }
    }

    fn add(&mut self, span_kind: &str, f: impl Fn(&mut Red)) {
        if ENTRY_KINDS.contains(&span_kind) {
            f(&mut self.entry);
        }
        f(&mut self.all);
    }
}

/// Quotes `value` as a PromQL string literal.
pub fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// One matcher, `a="x"`.
pub fn matcher(label: &str, op: &str, value: &str) -> String {
    format!("{label}{op}{}", promql_string(value))
}

/// A selector's matchers, `{a="x",b=~"y"}`, from `(label, op, value)` triples.
pub fn matchers(pairs: &[(&str, &str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(label, op, value)| matcher(label, op, value))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Evaluates `query` at `time_ms` and returns its vector.
///
/// # Errors
/// The engine's errors; [`Error::Execution`] if the query is not an instant vector.
pub fn instant_vector(
    engine: &Engine,
    source: &dyn SeriesSource,
    query: &str,
    time_ms: i64,
) -> Result<Vector, Error> {
    match engine.instant_query(source, query, time_ms)? {
        Value::Vector(vector) => Ok(vector),
        other => Err(Error::Execution {
            message: format!("{query} gave a {}, not a vector", other.type_name()),
        }),
    }
}

/// One instant of the window a health question asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Where the window ends (ms since the epoch).
    pub end_ms: i64,
    /// Its length in ms (at least 1).
    pub length_ms: i64,
}

impl Window {
    /// The PromQL range, `[…ms]`.
    pub(crate) fn range(&self) -> String {
        format!("[{}ms]", self.length_ms.max(1))
    }

    /// Its length in seconds.
    pub fn seconds(&self) -> f64 {
        self.length_ms as f64 / 1000.0
    }
}

/// How far before a window's start a counter's last sample is looked for, as the baseline
/// its increase is counted from (PromQL's default lookback delta).
const BASELINE_LOOKBACK_MS: i64 = 5 * 60_000;

/// The matchers of `metric{selector}`, where `selector` is matchers text (`{a="x"}`) or
/// empty.
fn selector_matchers(metric: &str, selector: &str) -> Result<Vec<Matcher>, Error> {
    let text = format!("{metric}{selector}");
    let Expr::VectorSelector(parsed) = parse_query(&text)? else {
        return Err(Error::Execution {
            message: format!("{text} is not a vector selector"),
        });
    };
    if !parsed.matchers.or_matchers.is_empty() {
        return Err(Error::Execution {
            message: format!("{text}: `or` matchers are not supported here"),
        });
    }
    let mut matchers = parsed.matchers.matchers;
    matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, metric));
    Ok(matchers)
}

/// Each counter series of `metric{selector}` with what it counted in `window`: the sum of its
/// rises from the last sample at or before the window's start (within
/// [`BASELINE_LOOKBACK_MS`]; else from its first sample in the window), a fall counting as
/// a reset to zero. Unlike PromQL's `increase`, nothing is extrapolated to the window's
/// edges, so the counts are the whole numbers that were counted (the derived series start
/// at zero, so a series born in the window counts from zero). The source may answer from
/// summaries ([`SeriesSource::counted_in_window`]): the metric store reads a long window's
/// whole parts as per-series rollups.
///
/// # Errors
/// A bad selector; the source's errors.
pub fn counted_in_window(
    source: &dyn SeriesSource,
    metric: &str,
    selector: &str,
    window: Window,
) -> Result<Vec<(Labels, f64)>, Error> {
    source.check_interrupted()?;
    let matchers = selector_matchers(metric, selector)?;
    let start_ms = window.end_ms.saturating_sub(window.length_ms);
    source.counted_in_window(&matchers, start_ms, window.end_ms, BASELINE_LOOKBACK_MS)
}

/// The value of label `name` of `sample` (empty when absent).
pub(crate) fn label<'a>(sample: &'a crate::promql::Sample, name: &str) -> &'a str {
    sample.labels.get(name).unwrap_or_default()
}

fn label_of<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels.get(name).unwrap_or_default()
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => text.parse().ok(),
    }
}

/// Span-metric figures counted in `window` (see [`counted_in_window`]), grouped by the values of `group_by` (for example
/// `["service"]` or `["span_name", "span_kind"]`), for the series `selector` picks (matchers
/// text such as `{service="cart"}`, or empty).
///
/// # Errors
/// The engine's errors.
pub fn span_red(
    source: &dyn SeriesSource,
    window: Window,
    group_by: &[&str],
    selector: &str,
) -> Result<BTreeMap<Vec<String>, KindRed>, Error> {
    let key = |labels: &Labels| -> Vec<String> {
        group_by
            .iter()
            .map(|name| label_of(labels, name).to_string())
            .collect()
    };
    let mut out: BTreeMap<Vec<String>, KindRed> = BTreeMap::new();
    let (calls, buckets) = join(
        || counted_in_window(source, CALLS, selector, window),
        || counted_in_window(source, DURATION_BUCKET, selector, window),
    );
    for (labels, counted) in calls? {
        let failed = label_of(&labels, "status_code") == ERROR_STATUS;
        out.entry(key(&labels))
            .or_default()
            .add(label_of(&labels, "span_kind"), |red| {
                red.requests += counted;
                if failed {
                    red.errors += counted;
                }
            });
    }
    for (labels, counted) in buckets? {
        let Some(le) = parse_le(label_of(&labels, "le")) else {
            continue;
        };
        out.entry(key(&labels))
            .or_default()
            .add(label_of(&labels, "span_kind"), |red| {
                red.buckets.push((le, counted))
            });
    }
    Ok(out)
}

/// An edge of the service graph: `(client, server, connection_type)`.
pub type EdgeKey = (String, String, String);

/// An edge's figures: requests and failures, the server side's latency in
/// [`Red::buckets`], and the client side's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgeRed {
    /// Requests, failures, server-side latency.
    pub red: Red,
    /// Client-side latency buckets.
    pub client_buckets: Vec<(f64, f64)>,
}

impl EdgeRed {
    /// The latency the edge is shown with: the server side's when the server is instrumented,
    /// else the client side's (databases and external APIs have only that).
    pub fn latency(&self) -> Red {
        if self.red.buckets.iter().any(|(_, count)| *count > 0.0) {
            self.red.clone()
        } else {
            Red {
                buckets: self.client_buckets.clone(),
                ..self.red.clone()
            }
        }
    }
}

/// Service-graph figures counted in `window` per edge, for the series any of `selectors`
/// picks (matchers text, `{client="x"}`; none picks every edge).
///
/// # Errors
/// The engine's errors.
pub fn edge_red(
    source: &dyn SeriesSource,
    window: Window,
    selectors: &[String],
) -> Result<BTreeMap<EdgeKey, EdgeRed>, Error> {
    let selectors: Vec<&str> = if selectors.is_empty() {
        vec![""]
    } else {
        selectors.iter().map(String::as_str).collect()
    };
    let key = |labels: &Labels| -> EdgeKey {
        (
            label_of(labels, "client").to_string(),
            label_of(labels, "server").to_string(),
            label_of(labels, "connection_type").to_string(),
        )
    };
    // A series two selectors both pick (a self-call) counts once.
    let mut seen: std::collections::HashSet<Labels> = std::collections::HashSet::new();
    let mut out: BTreeMap<EdgeKey, EdgeRed> = BTreeMap::new();
    let count_pair = |(first, second): (&'static str, &'static str), selector: &str| {
        join(
            || counted_in_window(source, first, selector, window),
            || counted_in_window(source, second, selector, window),
        )
    };
    for selector in selectors {
        // The counters on one thread and the buckets (more series) on another, then both
        // pairs in a fixed order.
        let ((requests, failed), (server, client)) = join(
            || count_pair((EDGE_REQUESTS, EDGE_FAILED), selector),
            || count_pair((EDGE_SERVER_BUCKET, EDGE_CLIENT_BUCKET), selector),
        );
        for (metric, counted) in [
            (EDGE_REQUESTS, requests),
            (EDGE_FAILED, failed),
            (EDGE_SERVER_BUCKET, server),
            (EDGE_CLIENT_BUCKET, client),
        ] {
            for (labels, counted) in counted? {
                if !seen.insert(labels.clone()) {
                    continue;
                }
                let edge = out.entry(key(&labels)).or_default();
                let le = parse_le(label_of(&labels, "le"));
                match (metric, le) {
                    (EDGE_REQUESTS, _) => edge.red.requests += counted,
                    (EDGE_FAILED, _) => edge.red.errors += counted,
                    (EDGE_SERVER_BUCKET, Some(le)) => edge.red.buckets.push((le, counted)),
                    (EDGE_CLIENT_BUCKET, Some(le)) => edge.client_buckets.push((le, counted)),
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

/// Requests counted in `window` per `(client, server)` pair, whatever the connection type.
///
/// # Errors
/// The engine's errors.
pub fn edge_calls(
    source: &dyn SeriesSource,
    window: Window,
) -> Result<BTreeMap<(String, String), f64>, Error> {
    let mut out: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (labels, counted) in counted_in_window(source, EDGE_REQUESTS, "", window)? {
        let pair = (
            label_of(&labels, "client").to_string(),
            label_of(&labels, "server").to_string(),
        );
        *out.entry(pair).or_default() += counted;
    }
    Ok(out)
}

/// A service's rate, error ratio and latency quantiles over time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedSeries {
    /// Requests per second.
    pub rate: Vec<(i64, f64)>,
    /// Failed over all requests (steps without requests are left out).
    pub error_ratio: Vec<(i64, f64)>,
    /// Latency quantiles in seconds: p50, p95, p99.
    pub quantiles: [Vec<(i64, f64)>; 3],
}

/// The quantiles [`RedSeries::quantiles`] holds.
pub const SERIES_QUANTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// Rate, error ratio and latency quantiles of the span-metric series `selector` picks, from
/// `start_ms` to `end_ms` every `step_ms`, with `rate` over `rate_window_ms`.
///
/// # Errors
/// The engine's errors.
pub fn red_series(
    engine: &Engine,
    source: &dyn SeriesSource,
    selector: &str,
    (start_ms, end_ms, step_ms): (i64, i64, i64),
    rate_window_ms: i64,
) -> Result<RedSeries, Error> {
    let range = format!("[{rate_window_ms}ms]");
    let calls: Matrix = engine.range_query(
        source,
        &format!("sum by (status_code) (rate({CALLS}{selector}{range}))"),
        start_ms,
        end_ms,
        step_ms,
    )?;
    let mut totals: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for series in &calls {
        let failed = series.labels.get("status_code") == Some(ERROR_STATUS);
        for &(at, value) in &series.points {
            let entry = totals.entry(at).or_default();
            entry.0 += value;
            if failed {
                entry.1 += value;
            }
        }
    }
    let mut out = RedSeries::default();
    for (&at, &(rate, errors)) in &totals {
        out.rate.push((at, rate));
        if rate > 0.0 {
            out.error_ratio.push((at, errors / rate));
        }
    }
    let buckets: Matrix = engine.range_query(
        source,
        &format!("sum by (le) (rate({DURATION_BUCKET}{selector}{range}))"),
        start_ms,
        end_ms,
        step_ms,
    )?;
    let mut per_step: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for series in &buckets {
        let Some(le) = series.labels.get("le").and_then(parse_le) else {
            continue;
        };
        for &(at, value) in &series.points {
            per_step.entry(at).or_default().push((le, value));
        }
    }
    for (at, buckets) in per_step {
        let red = Red {
            buckets,
            ..Red::default()
        };
        for (slot, q) in out.quantiles.iter_mut().zip(SERIES_QUANTILES) {
            if let Some(value) = red.quantile_seconds(q) {
                slot.push((at, value));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
