//! Reading the server back: its memory from `/proc`, its self-metrics from `/metrics`, and the
//! acknowledged data through the query APIs, each acknowledged item looked up exactly (span
//! ids in the OTLP protobuf of their trace, log tokens over every page of the native log
//! API, metric points in the raw samples of a PromQL range selector).

use std::collections::{BTreeSet, HashMap, HashSet};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde_json::Value as Json;

use super::ledger::{body_token, SpanKey, TickPoint};
use crate::server::TestServer;

/// Threads looking traces up at once.
const TRACE_LOOKUP_THREADS: usize = 4;
/// Records per page of the native log API (its largest limit).
const LOG_PAGE: &str = "5000";

/// A `/proc/<pid>/status` field in bytes (`VmRSS`, `VmHWM`), 0 when unreadable.
pub fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The server's `/metrics`, as `name{labels}` → value.
pub struct ServerMetrics(HashMap<String, f64>);

impl ServerMetrics {
    pub fn scrape(server: &TestServer) -> Self {
        let text = reqwest::blocking::get(server.url("/metrics"))
            .unwrap()
            .text()
            .unwrap();
        Self(
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(|line| {
                    let (series, value) = line.rsplit_once(' ')?;
                    Some((series.to_string(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    /// The sum over the series of `name` that carry every label of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                series.split('{').next() == Some(name)
                    && labels
                        .iter()
                        .all(|(key, value)| series.contains(&format!("{key}=\"{value}\"")))
            })
            .fold(0.0, |total, (_, value)| total + value)
    }

    /// `sightline_collector_requests_total` by outcome, over both protocols.
    pub fn answers(&self, outcome: &str) -> f64 {
        self.sum(
            "sightline_collector_requests_total",
            &[("outcome", outcome)],
        )
    }

    /// Every outcome of `sightline_collector_requests_total` other than `allowed`, with its
    /// count.
    pub fn other_outcomes(&self, allowed: &[&str]) -> Vec<(String, f64)> {
        self.0
            .iter()
            .filter(|(series, value)| {
                series.starts_with("sightline_collector_requests_total{")
                    && **value > 0.0
                    && !allowed
                        .iter()
                        .any(|outcome| series.contains(&format!("outcome=\"{outcome}\"")))
            })
            .map(|(series, value)| (series.clone(), *value))
            .collect()
    }
}

/// Span ids of one stored trace, read as OTLP protobuf.
fn stored_span_ids(
    client: &reqwest::blocking::Client,
    server: &TestServer,
    tenant: &str,
    trace_id: TraceId,
) -> Result<HashSet<SpanId>, String> {
    let response = client
        .get(server.url(&format!("/api/v1/traces/{trace_id}?format=protobuf")))
        .header("x-scope-orgid", tenant)
        .send()
        .map_err(|error| format!("trace {trace_id}: {error}"))?;
    if response.status() != 200 {
        return Err(format!("trace {trace_id}: status {}", response.status()));
    }
    let body = response.bytes().unwrap();
    let traces = TracesData::decode(body.as_ref()).map_err(|error| error.to_string())?;
    Ok(traces
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .filter_map(|span| Some(SpanId::from_bytes(span.span_id.as_slice().try_into().ok()?)))
        .collect())
}

/// What the span lookups found wrong.
#[derive(Debug, Default)]
pub struct SpanFindings {
    pub traces_read: usize,
    /// Acknowledged spans the server does not return (or the lookup error of their trace).
    pub missing: Vec<String>,
    /// Spans the server returns in these traces that no client ever exported.
    pub unknown: Vec<String>,
}

/// Looks up every trace with an acknowledged span of `tenant` and checks that each
/// acknowledged span is in it, and nothing that was never exported.
pub fn check_spans(
    server: &TestServer,
    tenant: &str,
    acknowledged: &[SpanKey],
    exported: &HashSet<SpanKey>,
) -> SpanFindings {
    let mut by_trace: HashMap<TraceId, Vec<SpanId>> = HashMap::new();
    for (trace_id, span_id) in acknowledged {
        by_trace.entry(*trace_id).or_default().push(*span_id);
    }
    let traces: Vec<(TraceId, Vec<SpanId>)> = by_trace.into_iter().collect();
    let chunk = traces.len().div_ceil(TRACE_LOOKUP_THREADS).max(1);
    let findings: Vec<SpanFindings> = std::thread::scope(|scope| {
        let workers: Vec<_> = traces
            .chunks(chunk)
            .map(|traces| {
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut findings = SpanFindings::default();
                    for (trace_id, span_ids) in traces {
                        findings.traces_read += 1;
                        match stored_span_ids(&client, server, tenant, *trace_id) {
                            Ok(stored) => {
                                findings.missing.extend(
                                    span_ids
                                        .iter()
                                        .filter(|span_id| !stored.contains(span_id))
                                        .map(|span_id| format!("{trace_id}/{span_id}")),
                                );
                                findings.unknown.extend(
                                    stored
                                        .iter()
                                        .filter(|span_id| {
                                            !exported.contains(&(*trace_id, **span_id))
                                        })
                                        .map(|span_id| format!("{trace_id}/{span_id}")),
                                );
                            }
                            Err(error) => findings.missing.push(error),
                        }
                    }
                    findings
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect()
    });
    findings
        .into_iter()
        .fold(SpanFindings::default(), |mut total, part| {
            total.traces_read += part.traces_read;
            total.missing.extend(part.missing);
            total.unknown.extend(part.unknown);
            total
        })
}

/// Every log record token `tenant` has between `start_unix_nano` and `end_unix_nano`, read
/// page by page; and how many records there were.
pub fn stored_log_tokens(
    server: &TestServer,
    tenant: &str,
    start_unix_nano: u64,
    end_unix_nano: u64,
) -> (HashSet<String>, usize) {
    let client = reqwest::blocking::Client::new();
    let (start, end) = (start_unix_nano.to_string(), end_unix_nano.to_string());
    let mut tokens = HashSet::new();
    let mut records = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("limit", LOG_PAGE),
        ];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let response = client
            .get(server.url("/api/v1/logs"))
            .header("x-scope-orgid", tenant)
            .query(&query)
            .send()
            .unwrap();
        let status = response.status();
        let page: Json = response.json().unwrap();
        assert_eq!(status, 200, "log page of {tenant}: {page}");
        for record in page["records"].as_array().unwrap() {
            records += 1;
            let body = record["body"].as_str().unwrap_or_default();
            if let Some(token) = body_token(body) {
                tokens.insert(token.to_string());
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (tokens, records),
        }
    }
}

/// The raw samples of the soak counter of metrics client `client` over the last
/// `range_seconds`, as (unix milliseconds, value).
pub fn stored_tick_points(
    server: &TestServer,
    tenant: &str,
    client: &str,
    range_seconds: u64,
) -> BTreeSet<TickPoint> {
    let query = format!("soak_ticks_total{{client=\"{client}\"}}[{range_seconds}s]");
    let body: Json = reqwest::blocking::Client::new()
        .get(server.url("/prometheus/api/v1/query"))
        .header("x-scope-orgid", tenant)
        .query(&[("query", query.as_str())])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["status"], "success", "{query}: {body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| series["values"].as_array().unwrap())
        .map(|sample| {
            let seconds = sample[0].as_f64().unwrap();
            let value: f64 = sample[1].as_str().unwrap().parse().unwrap();
            ((seconds * 1000.0).round() as i64, value as u64)
        })
        .collect()
}
