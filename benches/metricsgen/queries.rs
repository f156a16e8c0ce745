//! The PromQL queries every target answers, their timing, and the comparison of answers.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

/// A timed `query_range`.
pub struct RangeQuery {
    /// Short name in tables and JSON.
    pub name: &'static str,
    pub promql: &'static str,
}

/// The timed queries (over 24 h, with the step given on the command line).
pub const RANGE_QUERIES: [RangeQuery; 3] = [
    RangeQuery {
        name: "rate",
        promql: "sum by (job) (rate(bench_requests_total[5m]))",
    },
    RangeQuery {
        name: "histogram_quantile",
        promql:
            "histogram_quantile(0.99, sum by (job, le) (rate(bench_latency_seconds_bucket[5m])))",
    },
    RangeQuery {
        name: "gauge_avg",
        promql: "avg by (job) (bench_temperature_celsius)",
    },
];

/// One query's outcome on one target.
#[derive(Default)]
pub struct QueryOutcome {
    /// Milliseconds of each timed run (after one untimed warm-up).
    pub millis: Vec<f64>,
    /// `data.result` of the last successful run.
    pub result: Option<Value>,
    /// The first failure (status and body), if any run failed.
    pub error: Option<String>,
}

impl QueryOutcome {
    /// (median, p99) in ms; p99 is the slowest run when there are fewer than 100.
    pub fn median_p99(&self) -> Option<(f64, f64)> {
        if self.millis.is_empty() {
            return None;
        }
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |fraction: f64| sorted[((sorted.len() - 1) as f64 * fraction).round() as usize];
        Some((at(0.5), at(0.99)))
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Runs one GET against the Prometheus-compatible API; `Ok(data)` or `Err(description)`.
pub async fn get_api(
    client: &reqwest::Client,
    url: &str,
    params: &[(&str, String)],
) -> Result<Value, String> {
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect();
    let response = client
        .get(format!("{url}?{}", query.join("&")))
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("{url}: reading the body: {error}"))?;
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    match parsed {
        Ok(value) if status.is_success() && value["status"] == "success" => {
            Ok(value["data"].clone())
        }
        _ => Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(400)])
        )),
    }
}

/// Times `runs` runs of a range query (after one warm-up run).
pub async fn time_range_query(
    client: &reqwest::Client,
    api_url: &str,
    promql: &str,
    range: (i64, i64, i64),
    runs: usize,
) -> QueryOutcome {
    let (start, end, step) = range;
    let params = [
        ("query", promql.to_string()),
        ("start", start.to_string()),
        ("end", end.to_string()),
        ("step", step.to_string()),
    ];
    let url = format!("{api_url}/query_range");
    let mut outcome = QueryOutcome::default();
    for run in 0..=runs {
        let started = Instant::now();
        let answer = get_api(client, &url, &params).await;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        match answer {
            Ok(data) => {
                if run > 0 {
                    outcome.millis.push(elapsed);
                }
                outcome.result = Some(data["result"].clone());
            }
            Err(error) => {
                outcome.error.get_or_insert(error);
                break;
            }
        }
    }
    outcome
}

/// How one target's answer compares with the reference's.
#[derive(Debug, Default)]
pub struct Comparison {
    pub reference_series: usize,
    pub series: usize,
    /// Series in only one of the two answers.
    pub unmatched_series: usize,
    pub points_compared: usize,
    /// Timestamps present in only one of the two answers (in matched series).
    pub unmatched_points: usize,
    /// Points whose values differ beyond the tolerance.
    pub mismatches: usize,
    pub max_relative_difference: f64,
    /// The first differing point, as text.
    pub example: Option<String>,
}

impl Comparison {
    /// True when the answers agree within the tolerance.
    pub fn agrees(&self) -> bool {
        self.unmatched_series == 0 && self.unmatched_points == 0 && self.mismatches == 0
    }
}

/// Relative tolerance of value comparisons (float sums in a different order).
pub const RELATIVE_TOLERANCE: f64 = 1e-6;

fn series_key(metric: &Value) -> String {
    let labels: BTreeMap<String, String> = metric
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    format!("{labels:?}")
}

fn parse_value(value: &Value) -> f64 {
    match value.as_str().unwrap_or("") {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        text => text.parse().unwrap_or(f64::NAN),
    }
}

/// `{series key: {timestamp ms: value}}` of a matrix result.
fn matrix_points(result: &Value) -> BTreeMap<String, BTreeMap<i64, f64>> {
    let mut out = BTreeMap::new();
    for series in result.as_array().into_iter().flatten() {
        let points: BTreeMap<i64, f64> = series["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| {
                let time = pair.get(0)?.as_f64()?;
                Some(((time * 1000.0).round() as i64, parse_value(pair.get(1)?)))
            })
            .collect();
        out.insert(series_key(&series["metric"]), points);
    }
    out
}

/// Compares two `query_range` results point by point.
pub fn compare(reference: &Value, other: &Value) -> Comparison {
    let reference = matrix_points(reference);
    let other = matrix_points(other);
    let mut comparison = Comparison {
        reference_series: reference.len(),
        series: other.len(),
        ..Comparison::default()
    };
    comparison.unmatched_series = reference
        .keys()
        .filter(|key| !other.contains_key(*key))
        .count()
        + other
            .keys()
            .filter(|key| !reference.contains_key(*key))
            .count();
    for (key, expected_points) in &reference {
        let Some(actual_points) = other.get(key) else {
            continue;
        };
        comparison.unmatched_points += expected_points
            .keys()
            .filter(|time| !actual_points.contains_key(*time))
            .count()
            + actual_points
                .keys()
                .filter(|time| !expected_points.contains_key(*time))
                .count();
        for (time, expected) in expected_points {
            let Some(actual) = actual_points.get(time) else {
                continue;
            };
            comparison.points_compared += 1;
            if expected.is_nan() && actual.is_nan() || expected == actual {
                continue;
            }
            let scale = expected.abs().max(actual.abs());
            let difference = (expected - actual).abs();
            let relative = if scale > 0.0 { difference / scale } else { 0.0 };
            if relative.is_finite() {
                comparison.max_relative_difference =
                    comparison.max_relative_difference.max(relative);
            }
            if difference.is_nan() || difference > 1e-9 + RELATIVE_TOLERANCE * scale {
                comparison.mismatches += 1;
                comparison.example.get_or_insert_with(|| {
                    format!("{key} at {time} ms: reference {expected}, got {actual}")
                });
            }
        }
    }
    if comparison.example.is_none() && comparison.unmatched_series > 0 {
        let missing = reference.keys().find(|key| !other.contains_key(*key));
        let extra = other.keys().find(|key| !reference.contains_key(*key));
        comparison.example = Some(format!(
            "first missing series: {missing:?}; first extra series: {extra:?}"
        ));
    }
    comparison
}
