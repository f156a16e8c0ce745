//! Receiver tests: bodies built here with prost and snappy, sent through the router's handler,
//! checked in the store.

use http_body_util::BodyExt;
use promql_parser::label::{MatchOp, Matcher};
use sightline_store::StoreConfig;

use super::prompb::{Histogram, Label, Sample, TimeSeries, WriteRequest};
use super::*;
use crate::CollectorConfig;

const NOW_MS: i64 = 1_700_000_000_000;
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn collector_with(
    config: CollectorConfig,
    series_limit_per_metric: usize,
) -> (Collector, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store_config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        metric_series_limit_per_metric: series_limit_per_metric,
        ..StoreConfig::default()
    };
    let spans = sightline_store::SpanStore::open(store_config.clone())
        .await
        .unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = sightline_store::LogStore::open(store_config).await.unwrap();

    (Collector::new(config, spans, metrics, logs), dir)
}

async fn collector() -> (Collector, tempfile::TempDir) {
    collector_with(CollectorConfig::default(), 0).await
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

/// A series with labels in the order given (so tests can send them unsorted) and one sample
/// per value, a second apart.
fn series(labels: &[(&str, &str)], values: &[f64]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
        samples: values
            .iter()
            .enumerate()
            .map(|(i, value)| Sample {
                value: *value,
                timestamp: NOW_MS + 1000 * i as i64,
            })
            .collect(),
        ..TimeSeries::default()
    }
}

fn snappy(request: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

fn post(headers: &[(&str, &str)], body: Vec<u8>) -> Request {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(REMOTE_WRITE_PATH);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).unwrap()
}

/// The headers Prometheus sends.
const PROMETHEUS_HEADERS: [(&str, &str); 3] = [
    ("content-type", "application/x-protobuf"),
    ("content-encoding", "snappy"),
    ("x-prometheus-remote-write-version", "0.1.0"),
];

fn post_write(request: &WriteRequest) -> Request {
    post(&PROMETHEUS_HEADERS, snappy(request))
}

async fn send(collector: &Collector, request: Request) -> (StatusCode, HeaderMap, String) {
    let response = receive_remote_write(State(collector.clone()), request).await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn select(
    collector: &Collector,
    tenant: &TenantId,
    metric: &str,
) -> Vec<(Labels, Vec<MetricSample>)> {
    let matcher = Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, metric);
    collector
        .inner
        .metrics
        .select(tenant, &[matcher], 0, i64::MAX)
        .await
        .unwrap()
}

fn default_tenant() -> TenantId {
    TenantId::default_tenant()
}

#[tokio::test]
async fn samples_metadata_and_exemplars_are_stored_and_answered_with_204() {
    let (collector, _dir) = collector().await;
    let mut up = series(
        &[("__name__", "up"), ("instance", "a:9090"), ("job", "prom")],
        &[1.0, 0.0],
    );
    up.exemplars.push(prompb::Exemplar {
        labels: vec![
            label("span_id", "00f067aa0ba902b7"),
            label("trace_id", TRACE_ID),
        ],
        value: 1.0,
        timestamp: NOW_MS,
    });
    let request = WriteRequest {
        timeseries: vec![
            up,
            series(&[("__name__", "build_info"), ("version", "2.42")], &[1.0]),
        ],
        metadata: vec![prompb::MetricMetadata {
            r#type: 2,
            metric_family_name: "up".into(),
            help: "Whether the target is up.".into(),
            unit: String::new(),
        }],
    };
    let (status, _, body) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(body.is_empty());

    let tenant = default_tenant();
    let stored = select(&collector, &tenant, "up").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0.get("job"), Some("prom"));
    let values: Vec<(i64, f64)> = stored[0]
        .1
        .iter()
        .map(|sample| (sample.timestamp_ms, sample.value))
        .collect();
    assert_eq!(values, vec![(NOW_MS, 1.0), (NOW_MS + 1000, 0.0)]);
    assert_eq!(select(&collector, &tenant, "build_info").await.len(), 1);

    let metrics = &collector.inner.metrics;
    let metadata = metrics.metadata(&tenant, Some("up"), 10).await.unwrap();
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata[0].metric_type, MetricType::Gauge);
    assert_eq!(metadata[0].help, "Whether the target is up.");

    let matcher = Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, "up");
    let exemplars = metrics
        .exemplars(&tenant, &[matcher], 0, i64::MAX)
        .await
        .unwrap();
    let exemplar = &exemplars[0].1[0];
    assert_eq!(exemplar.trace_id.unwrap().to_hex(), TRACE_ID);
    assert_eq!(exemplar.span_id.unwrap().to_hex(), "00f067aa0ba902b7");
    assert_eq!(exemplar.labels.get("trace_id"), Some(TRACE_ID));
}

#[tokio::test]
async fn missing_content_type_and_encoding_mean_remote_write_1_0() {
    let (collector, _dir) = collector().await;
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "m")], &[1.0])],
        ..WriteRequest::default()
    };
    let (status, _, body) = send(&collector, post(&[], snappy(&request))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let headers = [(
        "content-type",
        "application/x-protobuf; proto=prometheus.WriteRequest",
    )];
    let (status, _, body) = send(&collector, post(&headers, snappy(&request))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn wrong_content_type_message_or_encoding_is_415() {
    let (collector, _dir) = collector().await;
    let body = snappy(&WriteRequest::default());
    for headers in [
        [
            ("content-type", "application/json"),
            ("content-encoding", "snappy"),
        ],
        [
            (
                "content-type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            ),
            ("content-encoding", "snappy"),
        ],
        [
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
    ] {
        let (status, headers_out, message) = send(&collector, post(&headers, body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{headers:?}: {message}"
        );
        assert!(message.starts_with("unsupported"), "{message}");
        assert!(headers_out.get(RETRY_AFTER).is_none());
    }
}

#[tokio::test]
async fn bad_snappy_or_protobuf_is_400() {
    let (collector, _dir) = collector().await;
    let (status, _, message) = send(
        &collector,
        post(&PROMETHEUS_HEADERS, b"\x0anot snappy".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("invalid snappy"), "{message}");

    // Uncompressed protobuf: what a sender that forgot snappy would send.
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "m")], &[1.0])],
        ..WriteRequest::default()
    };
    let (status, _, message) = send(
        &collector,
        post(&PROMETHEUS_HEADERS, request.encode_to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");

    let garbage = snap::raw::Encoder::new()
        .compress_vec(b"\x0a\xff\xff\xff")
        .unwrap();
    let (status, _, message) = send(&collector, post(&PROMETHEUS_HEADERS, garbage)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("invalid protobuf"), "{message}");
}

#[tokio::test]
async fn too_large_bodies_are_413_declared_received_or_decompressed() {
    let config = CollectorConfig {
        max_body_size_bytes: 4096,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector_with(config, 0).await;
    let big = vec![0u8; 8192];
    let mut headers = PROMETHEUS_HEADERS.to_vec();
    headers.push(("content-length", "8192"));
    let (status, _, message) = send(&collector, post(&headers, big.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("declared"), "{message}");

    let (status, _, message) = send(&collector, post(&PROMETHEUS_HEADERS, big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("received"), "{message}");

    // Under 4 KiB compressed, 32 KiB inflated: refused from the snappy header.
    let bomb = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 32 * 1024])
        .unwrap();
    assert!(bomb.len() < 4096);
    let (status, _, message) = send(&collector, post(&PROMETHEUS_HEADERS, bomb)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("decompressed"), "{message}");
}

#[tokio::test]
async fn series_over_the_limit_are_400_and_the_other_series_are_stored() {
    let (collector, _dir) = collector_with(CollectorConfig::default(), 1).await;
    let request = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "requests"), ("path", "/a")], &[1.0]),
            series(&[("__name__", "requests"), ("path", "/b")], &[2.0, 3.0]),
            series(&[("__name__", "other")], &[4.0]),
        ],
        ..WriteRequest::default()
    };
    let (status, headers, message) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
    assert!(headers.get(RETRY_AFTER).is_none());
    assert!(message.starts_with("2 of 4 samples refused"), "{message}");
    assert!(message.contains("series_limit: 2"), "{message}");
    assert!(message.contains("series limit"), "{message}");
    let tenant = default_tenant();
    let requests = select(&collector, &tenant, "requests").await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0.get("path"), Some("/a"));
    assert_eq!(select(&collector, &tenant, "other").await.len(), 1);
}

#[tokio::test]
async fn invalid_series_are_refused_one_by_one() {
    let (collector, _dir) = collector().await;
    let invalid_utf8 = TimeSeries {
        labels: vec![
            label("__name__", "bad_utf8"),
            Label {
                name: b"x".to_vec(),
                value: vec![0xff, 0xfe],
            },
        ],
        samples: vec![Sample {
            value: 1.0,
            timestamp: NOW_MS,
        }],
        ..TimeSeries::default()
    };
    let histogram = TimeSeries {
        labels: vec![label("__name__", "latency")],
        histograms: vec![Histogram { timestamp: NOW_MS }],
        ..TimeSeries::default()
    };
    let request = WriteRequest {
        timeseries: vec![
            series(&[("job", "a"), ("__name__", "unsorted")], &[1.0]),
            series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[1.0]),
            series(&[("job", "nameless")], &[1.0]),
            series(&[("__name__", "empty_name"), ("", "x")], &[1.0]),
            invalid_utf8,
            histogram,
            series(&[("__name__", "good"), ("empty", "")], &[7.0]),
        ],
        ..WriteRequest::default()
    };
    let (status, _, message) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
    assert!(message.starts_with("6 of 7 samples refused"), "{message}");
    for reason in [
        "unsorted_labels: 1",
        "duplicate_label_name: 1",
        "missing_metric_name: 1",
        "empty_label_name: 1",
        "invalid_utf8: 1",
        "native_histogram: 1",
    ] {
        assert!(message.contains(reason), "{reason} missing in {message}");
    }
    assert!(message.contains("label names are not sorted"), "{message}");
    let good = select(&collector, &default_tenant(), "good").await;
    assert_eq!(good.len(), 1);
    // An empty value is an absent label, as in Prometheus.
    assert_eq!(good[0].0.len(), 1);
    assert!(select(&collector, &default_tenant(), "latency")
        .await
        .is_empty());
}

#[tokio::test]
async fn the_tenant_comes_from_x_scope_orgid_when_multi_tenant() {
    let config = CollectorConfig {
        multi_tenancy: true,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector_with(config, 0).await;
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "tenanted")], &[1.0])],
        ..WriteRequest::default()
    };
    let (status, _, message) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("X-Scope-OrgID"), "{message}");

    let mut headers = PROMETHEUS_HEADERS.to_vec();
    headers.push(("X-Scope-OrgID", "team-a"));
    let (status, _, message) = send(&collector, post(&headers, snappy(&request))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{message}");
    let team_a = TenantId::new("team-a").unwrap();
    assert_eq!(select(&collector, &team_a, "tenanted").await.len(), 1);
    assert!(select(&collector, &default_tenant(), "tenanted")
        .await
        .is_empty());
}

#[tokio::test]
async fn a_full_budget_is_429_with_retry_after() {
    let config = CollectorConfig {
        max_in_flight_bytes: 64 * 1024,
        budget_wait_millis: 20,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector_with(config, 0).await;
    let held = collector
        .budget()
        .reserve(64 * 1024, Duration::from_millis(20))
        .await
        .unwrap();
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "m")], &[1.0])],
        ..WriteRequest::default()
    };
    let (status, headers, message) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{message}");
    assert_eq!(headers.get(RETRY_AFTER).unwrap(), "1");
    drop(held);
    let (status, _, message) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{message}");
}

#[tokio::test]
async fn large_requests_decode_on_the_blocking_pool() {
    let (collector, _dir) = collector().await;
    let timeseries: Vec<TimeSeries> = (0..2000)
        .map(|i| {
            series(
                &[("__name__", "wide"), ("i", &format!("{i:05}"))],
                &[i as f64],
            )
        })
        .collect();
    let request = WriteRequest {
        timeseries,
        ..WriteRequest::default()
    };
    assert!(request.encoded_len() > BLOCKING_DECODE_THRESHOLD_BYTES);
    let (status, _, message) = send(&collector, post_write(&request)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{message}");
    assert_eq!(
        select(&collector, &default_tenant(), "wide").await.len(),
        2000
    );
}

#[test]
fn exemplar_ids_need_exact_hex_lengths() {
    let exemplar = |trace_id: &str| prompb::Exemplar {
        labels: vec![label("trace_id", trace_id)],
        value: 0.5,
        timestamp: NOW_MS,
    };
    let typed = exemplar_from_prompb(exemplar(TRACE_ID)).unwrap();
    assert_eq!(typed.trace_id.unwrap().to_hex(), TRACE_ID);
    let short = exemplar_from_prompb(exemplar("abc")).unwrap();
    assert_eq!(short.trace_id, None);
    assert_eq!(short.labels.get("trace_id"), Some("abc"));
    let not_hex = exemplar_from_prompb(exemplar(&"z".repeat(32))).unwrap();
    assert_eq!(not_hex.trace_id, None);
}

#[test]
fn metadata_types_map_to_the_model() {
    let metadata = |r#type: i32, name: &str| prompb::MetricMetadata {
        r#type,
        metric_family_name: name.into(),
        help: String::new(),
        unit: "seconds".into(),
    };
    let counter = metadata_from_prompb(metadata(1, "requests_total")).unwrap();
    assert_eq!(counter.metric_type, MetricType::Counter);
    assert_eq!(counter.unit, "seconds");
    assert_eq!(
        metadata_from_prompb(metadata(5, "rpc"))
            .unwrap()
            .metric_type,
        MetricType::Summary
    );
    assert_eq!(
        metadata_from_prompb(metadata(4, "gh")).unwrap().metric_type,
        MetricType::Unknown
    );
    assert_eq!(metadata_from_prompb(metadata(1, "")), None);
}

#[test]
fn unsorted_samples_are_sorted_and_stale_markers_keep_their_bits() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let mut unsorted = series(&[("__name__", "m")], &[]);
    unsorted.samples = vec![
        Sample {
            value: stale,
            timestamp: NOW_MS + 1000,
        },
        Sample {
            value: 1.0,
            timestamp: NOW_MS,
        },
    ];
    let decoded = convert_write_request(WriteRequest {
        timeseries: vec![unsorted],
        ..WriteRequest::default()
    });
    let samples = &decoded.batch.series[0].samples;
    assert_eq!(samples[0].timestamp_ms, NOW_MS);
    assert_eq!(samples[1].value.to_bits(), stale.to_bits());
    assert!(decoded.refusals.is_empty());
    assert_eq!(decoded.received_samples, 2);
}
