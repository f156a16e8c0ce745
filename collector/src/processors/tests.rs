//! Unit tests of both processors with known spans: calls, errors, durations in the right
//! buckets, dimensions, pairing across exports, virtual nodes, expiry, limits, staleness.

use std::time::{Duration, Instant};

use sightline_model::{
    AnyValue, KeyValue, MetricBatch, Resource, ResourceSpans, ScopeSpans, Span, SpanBatch, SpanId,
    SpanKind, StatusCode, TenantId, TraceId,
};
use sightline_store::otlp::metrics::STALE_NAN_BITS;

use super::service_graph::{CLIENT_SECONDS, FAILED, REQUESTS, SERVER_SECONDS};
use super::span_metrics::{CALLS, DURATION};
use super::*;

const NOW_MS: i64 = 1_700_000_000_000;
const MS: u64 = 1_000_000;

fn settings() -> ProcessorSettings {
    ProcessorSettings::from_config(&CollectorConfig {
        service_graph_max_items: 100,
        ..CollectorConfig::default()
    })
}

fn processors(settings: ProcessorSettings) -> Processors {
    Processors::new(settings).unwrap()
}

fn tenant() -> TenantId {
    TenantId::default_tenant()
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue::new(key, AnyValue::String(value.to_string()))
}

/// A span of trace `trace`, id `id`, `duration_ms` long.
fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    kind: SpanKind,
    name: &str,
    duration_ms: u64,
) -> Span {
    let start = 1_700_000_000_000 * MS;
    Span {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|parent| SpanId([parent; 8])),
        name: name.to_string(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration_ms * MS,
        ..Span::default()
    }
}

fn failed(mut span: Span) -> Span {
    span.status_code = StatusCode::Error;
    span
}

fn with(mut span: Span, attributes: Vec<KeyValue>) -> Span {
    span.attributes = attributes;
    span
}

fn batch(resource: Vec<KeyValue>, spans: Vec<Span>) -> SpanBatch {
    SpanBatch {
        resources: vec![ResourceSpans {
            resource: Resource {
                attributes: resource,
                ..Resource::default()
            },
            scopes: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
        }],
    }
}

fn service(name: &str) -> Vec<KeyValue> {
    vec![text("service.name", name)]
}

fn ingest(processors: &Processors, batch: &SpanBatch, now: Instant) {
    processors.commit(&tenant(), processors.prepare(batch), now);
}

fn collect(processors: &Processors, now: Instant, now_ms: i64) -> MetricBatch {
    let mut batches = processors.collect(now, now_ms);
    match batches.len() {
        0 => MetricBatch::default(),
        1 => batches.remove(0).1,
        _ => panic!("one tenant expected"),
    }
}

/// The newest sample of the one series named `name` with `labels` (others may exist).
fn value(batch: &MetricBatch, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<_> = batch
        .series
        .iter()
        .filter(|series| {
            series.labels.metric_name() == Some(name)
                && labels
                    .iter()
                    .all(|(label, value)| series.labels.get(label).unwrap_or("") == *value)
        })
        .collect();
    assert!(found.len() <= 1, "{name}{labels:?} matches {found:#?}");
    found
        .first()
        .map(|series| series.samples.last().unwrap().value)
}

fn names(batch: &MetricBatch) -> Vec<String> {
    let mut names: Vec<String> = batch
        .series
        .iter()
        .filter_map(|series| series.labels.metric_name().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

const OK_SERVER: [(&str, &str); 4] = [
    ("service", "checkout"),
    ("span_name", "GET /cart"),
    ("span_kind", "SPAN_KIND_SERVER"),
    ("status_code", "STATUS_CODE_UNSET"),
];

#[test]
fn span_metrics_count_calls_errors_and_durations_into_buckets() {
    let processors = processors(settings());
    let now = Instant::now();
    let spans = vec![
        span(1, 1, None, SpanKind::Server, "GET /cart", 1),
        span(2, 2, None, SpanKind::Server, "GET /cart", 3),
        span(3, 3, None, SpanKind::Server, "GET /cart", 5_000),
        failed(span(4, 4, None, SpanKind::Server, "GET /cart", 20)),
        span(4, 5, Some(4), SpanKind::Internal, "render", 2),
    ];
    ingest(&processors, &batch(service("checkout"), spans), now);
    let flushed = collect(&processors, now, NOW_MS);
    assert_eq!(value(&flushed, CALLS, &OK_SERVER), Some(3.0));
    let bucket = format!("{DURATION}_bucket");
    let le = |le: &'static str| {
        let mut labels = OK_SERVER.to_vec();
        labels.push(("le", le));
        value(&flushed, &bucket, &labels)
    };
    assert_eq!(le("0.002"), Some(1.0));
    assert_eq!(le("0.004"), Some(2.0));
    assert_eq!(le("4.096"), Some(2.0));
    assert_eq!(le("+Inf"), Some(3.0));
    let sum = value(&flushed, &format!("{DURATION}_sum"), &OK_SERVER).unwrap();
    assert!((sum - 5.004).abs() < 1e-9, "{sum}");
    assert_eq!(
        value(&flushed, &format!("{DURATION}_count"), &OK_SERVER),
        Some(3.0)
    );
    let error = [
        ("service", "checkout"),
        ("span_name", "GET /cart"),
        ("status_code", "STATUS_CODE_ERROR"),
    ];
    assert_eq!(value(&flushed, CALLS, &error), Some(1.0));
    let internal = [("span_name", "render"), ("span_kind", "SPAN_KIND_INTERNAL")];
    assert_eq!(value(&flushed, CALLS, &internal), Some(1.0));
    // The 5 s span's exemplar sits on the +Inf bucket, with its trace id.
    let inf = flushed
        .series
        .iter()
        .find(|series| {
            // The server span's series: the internal span's +Inf bucket has no exemplar, and
            // series come out in no fixed order.
            series.labels.get("le") == Some("+Inf")
                && OK_SERVER
                    .iter()
                    .all(|(name, value)| series.labels.get(name) == Some(*value))
        })
        .unwrap();
    assert_eq!(inf.exemplars.len(), 1);
    assert_eq!(inf.exemplars[0].trace_id, Some(TraceId([3; 16])));
    assert_eq!(
        inf.exemplars[0].labels.get("trace_id"),
        Some("03".repeat(16).as_str())
    );
    assert_eq!(inf.exemplars[0].value, 5.0);
    assert!(flushed
        .metadata
        .iter()
        .any(|metadata| metadata.metric_family == DURATION && metadata.unit == "seconds"));
}

#[test]
fn dimensions_come_from_the_span_then_the_resource_and_job_instance_from_the_resource() {
    let processors = processors(ProcessorSettings {
        dimensions: vec![
            "http.route".into(),
            "deployment.environment".into(),
            "http.status".into(),
        ],
        ..settings()
    });
    let now = Instant::now();
    let resource = vec![
        text("service.name", "cart"),
        text("service.namespace", "shop"),
        text("service.instance.id", "pod-7"),
        text("deployment.environment", "prod"),
    ];
    let spans = vec![
        with(
            span(1, 1, None, SpanKind::Server, "GET", 1),
            vec![
                text("http.route", "/a"),
                KeyValue::new("http.status", AnyValue::Int(200)),
            ],
        ),
        with(
            span(1, 2, None, SpanKind::Server, "GET", 1),
            vec![text("deployment.environment", "canary")],
        ),
    ];
    ingest(&processors, &batch(resource, spans), now);
    let flushed = collect(&processors, now, NOW_MS);
    let first = [
        ("job", "shop/cart"),
        ("instance", "pod-7"),
        ("http_route", "/a"),
        ("deployment_environment", "prod"),
        ("http_status", "200"),
    ];
    assert_eq!(value(&flushed, CALLS, &first), Some(1.0));
    let second = [
        ("http_route", ""),
        ("deployment_environment", "canary"),
        ("http_status", ""),
    ];
    assert_eq!(value(&flushed, CALLS, &second), Some(1.0));
}

#[test]
fn counters_stay_cumulative_start_with_a_zero_and_end_with_a_staleness_marker() {
    let processors = processors(ProcessorSettings {
        service_graph: false,
        series_idle: Duration::from_secs(60),
        ..settings()
    });
    let start = Instant::now();
    let one = batch(
        service("checkout"),
        vec![span(1, 1, None, SpanKind::Server, "GET /cart", 1)],
    );
    ingest(&processors, &one, start);
    let first = collect(&processors, start, NOW_MS);
    let calls = first
        .series
        .iter()
        .find(|series| series.labels.metric_name() == Some(CALLS))
        .unwrap();
    // A zero before the first value, at the previous flush (here: the tenant's first spans), so that
    // `increase` counts the first span.
    assert_eq!(calls.samples.len(), 2);
    assert_eq!(calls.samples[0].value, 0.0);
    assert!(calls.samples[0].timestamp_ms < NOW_MS);
    assert_eq!(calls.samples[1].value, 1.0);
    assert_eq!(calls.samples[1].timestamp_ms, NOW_MS);

    ingest(&processors, &one, start + Duration::from_secs(10));
    let second = collect(
        &processors,
        start + Duration::from_secs(15),
        NOW_MS + 15_000,
    );
    let calls = second
        .series
        .iter()
        .find(|series| series.labels.metric_name() == Some(CALLS))
        .unwrap();
    assert_eq!(calls.samples.len(), 1);
    assert_eq!(calls.samples[0].value, 2.0);
    // Exemplars are written once: the second flush has only the new span's.
    let with_exemplars: usize = second
        .series
        .iter()
        .map(|series| series.exemplars.len())
        .sum();
    assert_eq!(with_exemplars, 1);

    // Unchanged series are written again with their totals at every flush.
    let third = collect(
        &processors,
        start + Duration::from_secs(30),
        NOW_MS + 30_000,
    );
    assert_eq!(value(&third, CALLS, &OK_SERVER), Some(2.0));

    // A minute without spans: every series of the family gets one staleness marker, then
    // nothing more is written.
    let stale = collect(
        &processors,
        start + Duration::from_secs(71),
        NOW_MS + 71_000,
    );
    assert_eq!(stale.series.len(), 1 + 13 + 2);
    assert!(stale
        .series
        .iter()
        .all(|series| series.samples.len() == 1
            && series.samples[0].value.to_bits() == STALE_NAN_BITS));
    assert!(collect(
        &processors,
        start + Duration::from_secs(90),
        NOW_MS + 90_000
    )
    .series
    .is_empty());
}

#[test]
fn prepared_spans_count_only_once_committed() {
    let processors = processors(settings());
    let now = Instant::now();
    let spans = batch(
        service("a"),
        vec![span(1, 1, None, SpanKind::Server, "x", 1)],
    );
    // A failed append: prepared, never committed.
    drop(processors.prepare(&spans));
    assert!(collect(&processors, now, NOW_MS).series.is_empty());
    // An exporter's retry after a lost answer is stored twice and counted twice.
    ingest(&processors, &spans, now);
    ingest(&processors, &spans, now);
    let flushed = collect(&processors, now, NOW_MS);
    assert_eq!(value(&flushed, CALLS, &[("service", "a")]), Some(2.0));
}

#[test]
fn series_over_the_tenant_limit_are_refused_and_the_others_kept() {
    let one_span_series = 1 + 13 + 2;
    let processors = processors(ProcessorSettings {
        service_graph: false,
        max_series_per_tenant: 2 * one_span_series,
        ..settings()
    });
    let now = Instant::now();
    // One export per span, so that which series come first is known.
    for (i, name) in ["a", "b", "c", "a"].iter().enumerate() {
        let spans = vec![span(1, i as u8 + 1, None, SpanKind::Server, name, 1)];
        ingest(&processors, &batch(service("s"), spans), now);
    }
    let flushed = collect(&processors, now, NOW_MS);
    let calls: Vec<_> = flushed
        .series
        .iter()
        .filter(|series| series.labels.metric_name() == Some(CALLS))
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(value(&flushed, CALLS, &[("span_name", "a")]), Some(2.0));
    assert_eq!(value(&flushed, CALLS, &[("span_name", "c")]), None);
    let again = batch(
        service("s"),
        vec![span(2, 9, None, SpanKind::Server, "c", 1)],
    );
    // Another tenant has a budget of its own.
    let other = TenantId::new("other").unwrap();
    processors.commit(&other, processors.prepare(&again), now);
    assert_eq!(processors.collect(now, NOW_MS).len(), 2);
}

const FRONT_TO_CART: [(&str, &str); 3] = [
    ("client", "frontend"),
    ("server", "cart"),
    ("connection_type", ""),
];

#[test]
fn client_and_server_halves_pair_across_exports_in_either_order() {
    let processors = processors(settings());
    let now = Instant::now();
    // Trace 1: the client half first (the frontend's exporter), the server half later (the
    // cart's exporter). Trace 2: the other way round, with a failed server.
    ingest(
        &processors,
        &batch(
            service("frontend"),
            vec![span(1, 10, Some(1), SpanKind::Client, "GET /cart", 30)],
        ),
        now,
    );
    ingest(
        &processors,
        &batch(
            service("cart"),
            vec![
                span(1, 11, Some(10), SpanKind::Server, "GET /cart", 20),
                failed(span(2, 21, Some(20), SpanKind::Server, "GET /cart", 3)),
            ],
        ),
        now,
    );
    ingest(
        &processors,
        &batch(
            service("frontend"),
            vec![span(2, 20, Some(2), SpanKind::Client, "GET /cart", 5)],
        ),
        now + Duration::from_secs(1),
    );
    let flushed = collect(&processors, now + Duration::from_secs(2), NOW_MS);
    assert_eq!(value(&flushed, REQUESTS, &FRONT_TO_CART), Some(2.0));
    assert_eq!(value(&flushed, FAILED, &FRONT_TO_CART), Some(1.0));
    let client_le = |le| {
        let mut labels = FRONT_TO_CART.to_vec();
        labels.push(("le", le));
        value(&flushed, &format!("{CLIENT_SECONDS}_bucket"), &labels)
    };
    assert_eq!(client_le("0.008"), Some(1.0));
    assert_eq!(client_le("0.032"), Some(2.0));
    let server_sum = value(&flushed, &format!("{SERVER_SECONDS}_sum"), &FRONT_TO_CART).unwrap();
    assert!((server_sum - 0.023).abs() < 1e-9, "{server_sum}");
    let state = processors.tenant_state(&tenant());
    assert_eq!(state.lock().unwrap().graph.unpaired(), 0);
}

#[test]
fn a_retried_half_pairs_once() {
    let processors = processors(settings());
    let now = Instant::now();
    let client = batch(
        service("frontend"),
        vec![span(1, 10, Some(1), SpanKind::Client, "c", 3)],
    );
    let server = batch(
        service("cart"),
        vec![span(1, 11, Some(10), SpanKind::Server, "s", 2)],
    );
    ingest(&processors, &client, now);
    ingest(&processors, &client, now);
    ingest(&processors, &server, now);
    ingest(&processors, &server, now);
    let flushed = collect(&processors, now, NOW_MS);
    assert_eq!(value(&flushed, REQUESTS, &FRONT_TO_CART), Some(1.0));
    // The late copy of the server half waits alone, and expires without an edge.
    let later = collect(&processors, now + Duration::from_secs(11), NOW_MS + 11_000);
    assert_eq!(value(&later, REQUESTS, &FRONT_TO_CART), Some(1.0));
    let edges = later
        .series
        .iter()
        .filter(|series| series.labels.metric_name() == Some(REQUESTS))
        .count();
    assert_eq!(edges, 1);
}

#[test]
fn producer_consumer_pairs_are_messaging_edges() {
    let processors = processors(settings());
    let now = Instant::now();
    let producer = with(
        span(1, 10, Some(1), SpanKind::Producer, "orders publish", 2),
        vec![text("messaging.system", "kafka")],
    );
    ingest(
        &processors,
        &batch(service("checkout"), vec![producer]),
        now,
    );
    let consumer = span(1, 11, Some(10), SpanKind::Consumer, "orders process", 40);
    ingest(
        &processors,
        &batch(service("shipping"), vec![consumer]),
        now,
    );
    let flushed = collect(&processors, now, NOW_MS);
    let edge = [
        ("client", "checkout"),
        ("server", "shipping"),
        ("connection_type", "messaging_system"),
    ];
    assert_eq!(value(&flushed, REQUESTS, &edge), Some(1.0));
}

#[test]
fn database_calls_and_outside_requests_are_edges_at_once() {
    let processors = processors(settings());
    let now = Instant::now();
    let spans = vec![
        failed(with(
            span(1, 10, Some(1), SpanKind::Client, "SELECT", 4),
            vec![text("db.system", "postgresql"), text("db.name", "orders")],
        )),
        with(
            span(1, 11, Some(1), SpanKind::Client, "GET", 4),
            vec![text("db.system", "redis")],
        ),
        span(1, 1, None, SpanKind::Server, "POST /checkout", 9),
    ];
    ingest(&processors, &batch(service("checkout"), spans), now);
    let flushed = collect(&processors, now, NOW_MS);
    let orders = [
        ("client", "checkout"),
        ("server", "orders"),
        ("connection_type", "database"),
    ];
    assert_eq!(value(&flushed, REQUESTS, &orders), Some(1.0));
    assert_eq!(value(&flushed, FAILED, &orders), Some(1.0));
    let redis = [
        ("client", "checkout"),
        ("server", "redis"),
        ("connection_type", "database"),
    ];
    assert_eq!(value(&flushed, REQUESTS, &redis), Some(1.0));
    // Only the client side is known: no server histogram for a database edge.
    assert_eq!(
        value(&flushed, &format!("{SERVER_SECONDS}_count"), &orders),
        None
    );
    assert_eq!(
        value(&flushed, &format!("{CLIENT_SECONDS}_count"), &orders),
        Some(1.0)
    );
    let user = [
        ("client", "user"),
        ("server", "checkout"),
        ("connection_type", "virtual_node"),
    ];
    assert_eq!(value(&flushed, REQUESTS, &user), Some(1.0));
    assert_eq!(
        value(&flushed, &format!("{SERVER_SECONDS}_count"), &user),
        Some(1.0)
    );
    assert_eq!(
        value(&flushed, &format!("{CLIENT_SECONDS}_count"), &user),
        None
    );
    let state = processors.tenant_state(&tenant());
    assert_eq!(state.lock().unwrap().graph.unpaired(), 0);
}

#[test]
fn unpaired_clients_naming_a_peer_become_virtual_nodes_when_they_expire() {
    let processors = processors(settings());
    let now = Instant::now();
    let spans = vec![
        with(
            span(1, 10, Some(1), SpanKind::Client, "charge", 100),
            vec![
                text("peer.service", "payments-api"),
                text("server.address", "pay.example"),
            ],
        ),
        with(
            span(1, 11, Some(1), SpanKind::Client, "GET", 50),
            vec![text("server.address", "api.github.com")],
        ),
        // No peer attributes: expires without an edge.
        span(1, 12, Some(1), SpanKind::Client, "mystery", 5),
        // A server whose client never shows up: expires without an edge.
        span(1, 13, Some(99), SpanKind::Server, "orphan", 5),
    ];
    ingest(&processors, &batch(service("checkout"), spans), now);
    let early = collect(&processors, now + Duration::from_secs(9), NOW_MS);
    assert!(names(&early)
        .iter()
        .all(|name| !name.starts_with("traces_service_graph")));
    let mut budget = processors.budget(&processors.tenant_state(&tenant()).lock().unwrap());
    let graph = processors.service_graph.as_ref().unwrap();
    let state = processors.tenant_state(&tenant());
    let counts = graph.expire(
        &processors.hasher,
        &mut state.lock().unwrap().graph,
        &mut budget,
        now + Duration::from_secs(10),
    );
    assert_eq!(counts.expired, 4);
    let flushed = collect(&processors, now + Duration::from_secs(10), NOW_MS + 10_000);
    let payments = [
        ("client", "checkout"),
        ("server", "payments-api"),
        ("connection_type", "virtual_node"),
    ];
    assert_eq!(value(&flushed, REQUESTS, &payments), Some(1.0));
    let github = [
        ("server", "api.github.com"),
        ("connection_type", "virtual_node"),
    ];
    assert_eq!(value(&flushed, REQUESTS, &github), Some(1.0));
    let edges = flushed
        .series
        .iter()
        .filter(|series| series.labels.metric_name() == Some(REQUESTS))
        .count();
    assert_eq!(edges, 2);
}

#[test]
fn the_unpaired_store_is_bounded_and_refuses_new_halves_when_full() {
    let processors = processors(ProcessorSettings {
        max_items: 2,
        ..settings()
    });
    let now = Instant::now();
    let clients = (1..=3)
        .map(|i| span(i, 10, Some(1), SpanKind::Client, "call", 1))
        .collect();
    let prepared = processors.prepare(&batch(service("a"), clients));
    let graph = processors.service_graph.as_ref().unwrap();
    let state = processors.tenant_state(&tenant());
    let mut state = state.lock().unwrap();
    let mut budget = processors.budget(&state);
    let counts = graph.commit(
        &processors.hasher,
        &mut state.graph,
        &mut budget,
        prepared.edges.unwrap(),
        now,
    );
    assert_eq!(counts.dropped, 1);
    assert_eq!(state.graph.unpaired(), 2);
    let counts = graph.expire(
        &processors.hasher,
        &mut state.graph,
        &mut budget,
        now + Duration::from_secs(10),
    );
    assert_eq!(counts.expired, 2);
    assert_eq!(state.graph.unpaired(), 0);
}

#[test]
fn processors_off_means_none() {
    let off = ProcessorSettings {
        span_metrics: false,
        service_graph: false,
        ..settings()
    };
    assert!(Processors::new(off).is_none());
}

#[test]
fn invalid_settings_fall_back_to_the_defaults() {
    let settings = ProcessorSettings::from_config(&CollectorConfig {
        histogram_buckets: vec![1.0, f64::INFINITY],
        flush_interval_seconds: 0,
        span_metrics_dimensions: vec!["http.route".into(), "service".into(), "http.route".into()],
        ..CollectorConfig::default()
    });
    assert_eq!(settings.bounds.len(), 12);
    assert_eq!(settings.flush_interval, Duration::from_secs(15));
    assert_eq!(settings.dimensions, vec!["http.route".to_string()]);
}

/// A loadgen-like export: 20 traces of 30 spans over 24 services, each span with 15
/// attributes, every server span the child of a client span in another service.
fn loadgen_like_batch(seed: u64) -> SpanBatch {
    let mut resources: Vec<ResourceSpans> = (0..24)
        .map(|i| ResourceSpans {
            resource: Resource {
                attributes: vec![
                    text("service.name", &format!("service-{i}")),
                    text("service.instance.id", &format!("pod-{i}")),
                    text("deployment.environment", "prod"),
                ],
                ..Resource::default()
            },
            scopes: vec![ScopeSpans::default()],
        })
        .collect();
    for trace in 0..20u64 {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&seed.to_le_bytes());
        trace_id[8..].copy_from_slice(&(trace + 1).to_le_bytes());
        for index in 0..30u64 {
            let (kind, parent) = match index {
                0 => (SpanKind::Server, None),
                i if i % 2 == 1 => (SpanKind::Client, Some(i - 1)),
                i => (SpanKind::Server, Some(i - 1)),
            };
            let id = |i: u64| SpanId((i + 1 + trace * 100).to_le_bytes());
            let service = ((index / 2 + trace) % 24) as usize;
            let mut attributes: Vec<KeyValue> = (0..12)
                .map(|a| {
                    text(
                        &format!("app.attribute.{a}"),
                        &format!("value-{}", a * index),
                    )
                })
                .collect();
            attributes.push(text("http.route", &format!("/api/v1/items/{}", index % 5)));
            attributes.push(KeyValue::new(
                "http.response.status_code",
                AnyValue::Int(200),
            ));
            attributes.push(text("http.request.method", "GET"));
            let span = Span {
                trace_id: TraceId(trace_id),
                span_id: id(index),
                parent_span_id: parent.map(id),
                name: format!("GET /api/v1/items/{}", index % 5),
                kind,
                start_time_unix_nano: 1_700_000_000_000 * MS,
                end_time_unix_nano: 1_700_000_000_000 * MS + (index + 1) * 3 * MS,
                attributes,
                status_code: if index % 31 == 7 {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                },
                ..Span::default()
            };
            resources[service].scopes[0].spans.push(span);
        }
    }
    SpanBatch { resources }
}

/// Prints the processors' CPU cost per span (prepare + commit) on loadgen-like exports, for
/// comparing with the server's CPU per span in `benches/README.md`. Not a pass/fail timing.
#[test]
#[ignore = "timing: cargo test --release -p sightline-collector processors_cost -- --ignored --nocapture"]
fn processors_cost_per_span() {
    let processors = processors(ProcessorSettings {
        dimensions: vec!["http.route".into(), "deployment.environment".into()],
        ..settings()
    });
    let batches: Vec<SpanBatch> = (0..500).map(loadgen_like_batch).collect();
    let spans: usize = batches.iter().map(SpanBatch::span_count).sum();
    for batch in &batches[..50] {
        ingest(&processors, batch, Instant::now());
    }
    let started = Instant::now();
    for batch in &batches {
        ingest(&processors, batch, Instant::now());
    }
    let elapsed = started.elapsed();
    let flush_started = Instant::now();
    let flushed = processors.collect(Instant::now(), NOW_MS);
    let samples: usize = flushed.iter().map(|(_, batch)| batch.sample_count()).sum();
    println!(
        "processors: {:.0} ns per span over {spans} spans; flush of {samples} samples took {:?}",
        elapsed.as_nanos() as f64 / spans as f64,
        flush_started.elapsed()
    );
}

/// An export's observations, merged as a [`series::HistogramDelta`], leave a histogram exactly
/// as merging a histogram of the same observations did: counts, sum and newest exemplars.
#[test]
fn a_histogram_delta_merges_like_a_histogram_of_the_same_spans() {
    let bounds = [0.002, 0.004, 0.008, 0.016];
    let slot = |index: u64, seconds: f64| series::ExemplarSlot {
        trace_id: TraceId([index as u8; 16]),
        span_id: SpanId([index as u8; 8]),
        value: seconds,
        timestamp_ms: NOW_MS + index as i64,
    };
    let mut before = Histogram::new(bounds.len());
    before.observe(&bounds, 0.003, slot(0, 0.003));
    for observations in [
        vec![0.001],
        vec![0.1, 0.003, 0.003, 0.016, 0.0161, 0.002, 7.0],
        vec![],
    ] {
        let mut as_histogram = Histogram::new(bounds.len());
        let mut as_delta = series::HistogramDelta::default();
        for (index, seconds) in observations.iter().enumerate() {
            let exemplar = slot(index as u64 + 1, *seconds);
            as_histogram.observe(&bounds, *seconds, exemplar);
            as_delta.observe(&bounds, *seconds, exemplar);
        }
        let (mut merged, mut delta_merged) = (before.clone(), before.clone());
        merged.merge(&as_histogram);
        delta_merged.merge_delta(&as_delta);
        assert_eq!(delta_merged, merged, "{observations:?}");
        assert_eq!(delta_merged.sum.to_bits(), merged.sum.to_bits());
    }
}
