//! The derived series of a day of traffic among `services` services, as Sightline's
//! span-metrics and service-graph processors write them, pre-encoded as remote write
//! requests (one request = one service's series over [`STEPS_PER_REQUEST`] steps).
//!
//! Each service has four server operations (each with an `UNSET` and an `ERROR` stream, the
//! latter at 1% of the rate) and two client operations; it calls services `i+1` and `i+7`,
//! every fifth service also a database, and the first five are called by `user`. Every
//! stream counts at its own rate (0.5–20 req/s) with a daily cycle, and its duration buckets
//! hold a fixed log-logistic share of its calls. Counters are whole numbers computed from the
//! rate's integral, so the truth over any window is known exactly ([`Workload::calls`]).

use std::f64::consts::TAU;

use crate::ingest::EncodedRequest;
use crate::prompb::{Label, Sample, TimeSeries, WriteRequest};

/// Seconds between samples, as the processors' default flush interval.
pub const STEP_MILLIS: i64 = 15_000;
/// Steps per request.
const STEPS_PER_REQUEST: usize = 10;
const DAY_MILLIS: f64 = 86_400_000.0;
/// The processors' default bucket bounds, `+Inf` last.
const BOUNDS: [f64; 13] = [
    0.002,
    0.004,
    0.008,
    0.016,
    0.032,
    0.064,
    0.128,
    0.256,
    0.512,
    1.024,
    2.048,
    4.096,
    f64::INFINITY,
];
const CALLS: &str = "traces_span_metrics_calls_total";
const DURATION_BUCKET: &str = "traces_span_metrics_duration_seconds_bucket";
const EDGE_REQUESTS: &str = "traces_service_graph_request_total";
const EDGE_FAILED: &str = "traces_service_graph_request_failed_total";
const EDGE_SERVER_BUCKET: &str = "traces_service_graph_request_server_seconds_bucket";
const EDGE_CLIENT_BUCKET: &str = "traces_service_graph_request_client_seconds_bucket";
const ERROR_SHARE: f64 = 0.01;

/// A counting stream: its rate and its latency median.
#[derive(Clone, Copy, Debug)]
struct Stream {
    /// Mean requests per second.
    rate: f64,
    /// Median latency in seconds.
    median: f64,
}

impl Stream {
    /// Requests counted from `start_ms` to `at_ms`: the integral of `rate × (1 + ½ sin)`.
    fn counted(&self, start_ms: i64, at_ms: i64) -> f64 {
        let phase = |ms: i64| TAU * ms as f64 / DAY_MILLIS;
        let seconds = (at_ms - start_ms) as f64 / 1000.0;
        let wave = 0.5 * DAY_MILLIS / 1000.0 / TAU * (phase(start_ms).cos() - phase(at_ms).cos());
        (self.rate * (seconds + wave)).max(0.0)
    }

    /// The share of requests at most `bound` seconds (log-logistic, shape 3).
    fn share_below(&self, bound: f64) -> f64 {
        if bound.is_infinite() {
            return 1.0;
        }
        let x = (bound / self.median).powi(3);
        x / (1.0 + x)
    }
}

/// One series: its labels and what it counts.
struct Series {
    labels: Vec<Label>,
    stream: Stream,
    /// The share of the stream's requests it counts (1, the error share, or a bucket's).
    share: f64,
}

/// Every series of the day, grouped by service.
pub struct Workload {
    /// Series per service.
    groups: Vec<Vec<Series>>,
    /// First sample (ms); every counter is 0 there.
    pub start_ms: i64,
    /// Samples per series.
    pub steps: usize,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut labels: Vec<Label> = pairs
        .iter()
        .map(|(name, value)| Label {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// A deterministic value in `[0, 1)` from a seed.
fn unit(seed: u64) -> f64 {
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The name of service `index`.
pub fn service_name(index: usize) -> String {
    format!("svc-{index:02}")
}

impl Workload {
    /// A day (or `hours`) of series for `services` services, ending at `end_ms`.
    pub fn new(services: usize, hours: i64, end_ms: i64) -> Self {
        let steps = (hours * 3_600_000 / STEP_MILLIS) as usize + 1;
        let start_ms = end_ms - (steps as i64 - 1) * STEP_MILLIS;
        let groups = (0..services)
            .map(|index| service_series(index, services))
            .collect();
        Self {
            groups,
            start_ms,
            steps,
        }
    }

    /// Series in all.
    pub fn series(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }

    /// Edges in all.
    pub fn edges(&self) -> usize {
        self.groups
            .iter()
            .flatten()
            .filter(|series| series.labels.iter().any(|l| l.value == EDGE_REQUESTS))
            .count()
    }

    /// The last sample's time (ms).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + (self.steps as i64 - 1) * STEP_MILLIS
    }

    /// What the `traces_span_metrics_calls_total` series of `service`'s SERVER spans
    /// counted in all: the truth `/api/v1/services` must report for the whole day.
    pub fn calls(&self, service: &str) -> f64 {
        self.groups
            .iter()
            .flatten()
            .filter(|series| {
                let has = |name: &str, value: &str| {
                    series
                        .labels
                        .iter()
                        .any(|label| label.name == name && label.value == value)
                };
                has("__name__", CALLS)
                    && has("service", service)
                    && has("span_kind", "SPAN_KIND_SERVER")
            })
            .map(|series| self.value(series, self.end_ms()))
            .sum()
    }

    fn value(&self, series: &Series, at_ms: i64) -> f64 {
        (series.stream.counted(self.start_ms, at_ms) * series.share).floor()
    }

    /// Encodes every request, `[service][slice]`.
    pub fn encode(&self) -> Vec<Vec<EncodedRequest>> {
        let mut encoder = snap::raw::Encoder::new();
        self.groups
            .iter()
            .map(|group| {
                (0..self.steps)
                    .step_by(STEPS_PER_REQUEST)
                    .map(|first| {
                        let last = (first + STEPS_PER_REQUEST).min(self.steps);
                        let timeseries: Vec<TimeSeries> = group
                            .iter()
                            .map(|series| TimeSeries {
                                labels: series.labels.clone(),
                                samples: (first..last)
                                    .map(|step| {
                                        let timestamp = self.start_ms + step as i64 * STEP_MILLIS;
                                        Sample {
                                            value: self.value(series, timestamp),
                                            timestamp,
                                        }
                                    })
                                    .collect(),
                            })
                            .collect();
                        let samples = timeseries.iter().map(|s| s.samples.len() as u64).sum();
                        let protobuf = prost::Message::encode_to_vec(&WriteRequest { timeseries });
                        let body = encoder
                            .compress_vec(&protobuf)
                            .expect("snappy compresses any buffer under 4 GiB");
                        EncodedRequest {
                            body: body.leak(),
                            samples,
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// A bucket bound as the `le` label writes it.
fn le_text(bound: f64) -> String {
    if bound.is_infinite() {
        "+Inf".to_string()
    } else {
        bound.to_string()
    }
}

/// Service `index`'s span metrics and its outgoing (and, for front ends, incoming) edges.
fn service_series(index: usize, services: usize) -> Vec<Series> {
    let service = service_name(index);
    let job = service.clone();
    let instance = format!("{service}-0");
    let seed = index as u64 * 1000;
    let stream = |salt: u64| Stream {
        rate: 0.5 * 40f64.powf(unit(seed + salt)),
        median: 0.005 * 100f64.powf(unit(seed + salt + 500)),
    };
    let mut out = Vec::new();
    let mut span_series = |name: String, kind: &str, status: &str, stream: Stream, share: f64| {
        let base = [
            ("instance", instance.as_str()),
            ("job", job.as_str()),
            ("service", service.as_str()),
            ("span_kind", kind),
            ("span_name", name.as_str()),
            ("status_code", status),
        ];
        let mut pairs = base.to_vec();
        pairs.push(("__name__", CALLS));
        out.push(Series {
            labels: labels(&pairs),
            stream,
            share,
        });
        for bound in BOUNDS {
            let le = le_text(bound);
            let mut pairs = base.to_vec();
            pairs.push(("__name__", DURATION_BUCKET));
            pairs.push(("le", le.as_str()));
            out.push(Series {
                labels: labels(&pairs),
                stream,
                share: share * stream.share_below(bound),
            });
        }
    };
    for op in 0..4 {
        let name = format!("GET /api/{op}");
        let op_stream = stream(op);
        span_series(
            name.clone(),
            "SPAN_KIND_SERVER",
            "STATUS_CODE_UNSET",
            op_stream,
            1.0 - ERROR_SHARE,
        );
        span_series(
            name,
            "SPAN_KIND_SERVER",
            "STATUS_CODE_ERROR",
            op_stream,
            ERROR_SHARE,
        );
    }
    for op in 0..2 {
        span_series(
            format!("call {op}"),
            "SPAN_KIND_CLIENT",
            "STATUS_CODE_UNSET",
            stream(10 + op),
            1.0,
        );
    }

    let mut edge = |client: &str, server: &str, kind: &str, stream: Stream, sides: (bool, bool)| {
        let base = [
            ("client", client),
            ("connection_type", kind),
            ("server", server),
        ];
        for (name, share) in [(EDGE_REQUESTS, 1.0), (EDGE_FAILED, ERROR_SHARE)] {
            let mut pairs = base.to_vec();
            pairs.push(("__name__", name));
            out.push(Series {
                labels: labels(&pairs),
                stream,
                share,
            });
        }
        for (name, wanted) in [(EDGE_SERVER_BUCKET, sides.0), (EDGE_CLIENT_BUCKET, sides.1)] {
            if !wanted {
                continue;
            }
            for bound in BOUNDS {
                let le = le_text(bound);
                let mut pairs = base.to_vec();
                pairs.push(("__name__", name));
                pairs.push(("le", le.as_str()));
                out.push(Series {
                    labels: labels(&pairs),
                    stream,
                    share: stream.share_below(bound),
                });
            }
        }
    };
    for (n, step) in [1, 7].into_iter().enumerate() {
        let callee = service_name((index + step) % services);
        if callee != service {
            edge(&service, &callee, "", stream(20 + n as u64), (true, true));
        }
    }
    if index.is_multiple_of(5) {
        let database = format!("postgres-{}", index / 5);
        edge(&service, &database, "database", stream(30), (false, true));
    }
    if index < 5 {
        edge("user", &service, "virtual_node", stream(40), (true, false));
    }
    out
}
