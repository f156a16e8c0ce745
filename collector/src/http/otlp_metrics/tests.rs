//! `POST /v1/metrics` through the handler, into a real [`MetricStore`].

use std::io::Write;
use std::time::Duration;

use axum::body::Body;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::RETRY_AFTER;
use http::HeaderMap;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use sightline_model::TenantId;
use sightline_store::{MetricStore, SpanStore, StoreConfig};

use super::*;
use crate::{CollectorConfig, METRICS_PATH};

/// The OTLP/JSON example of opentelemetry-proto (`examples/metrics.json`), cut to one point per
/// metric, with integers as numbers and as strings.
const SPEC_EXAMPLE_JSON: &str = r#"{
  "resourceMetrics": [{
    "resource": {
      "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }]
    },
    "scopeMetrics": [{
      "scope": {
        "name": "my.library",
        "version": "1.0.0",
        "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }]
      },
      "metrics": [
        {
          "name": "my.counter", "unit": "1", "description": "I am a Counter",
          "sum": {
            "aggregationTemporality": 1, "isMonotonic": true,
            "dataPoints": [{
              "asDouble": 5,
              "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
              "attributes": [{ "key": "my.counter.attr", "value": { "stringValue": "some value" } }]
            }]
          }
        },
        {
          "name": "my.gauge", "unit": "1", "description": "I am a Gauge",
          "gauge": {
            "dataPoints": [{
              "asDouble": 10, "timeUnixNano": "1544712660300000000",
              "attributes": [{ "key": "my.gauge.attr", "value": { "stringValue": "some value" } }]
            }]
          }
        },
        {
          "name": "my.histogram", "unit": "1", "description": "I am a Histogram",
          "histogram": {
            "aggregationTemporality": 1,
            "dataPoints": [{
              "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
              "count": 2, "sum": 2, "bucketCounts": [1, "1"], "explicitBounds": [1], "min": 0, "max": 2
            }]
          }
        },
        {
          "name": "my.exponential.histogram", "unit": "1", "description": "I am an Exponential Histogram",
          "exponentialHistogram": {
            "aggregationTemporality": 1,
            "dataPoints": [{
              "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
              "count": "3", "sum": 10, "scale": 0, "zeroCount": 1,
              "positive": { "offset": 1, "bucketCounts": [0, 2] }, "min": 0, "max": 5
            }]
          }
        }
      ]
    }]
  }]
}"#;

const EXAMPLE_MS: i64 = 1_544_712_660_300;

async fn collector(
    config: CollectorConfig,
    store_config: impl FnOnce(StoreConfig) -> StoreConfig,
) -> (Collector, MetricStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store_config = store_config(StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    });
    let store = SpanStore::open(store_config.clone()).await.unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = sightline_store::LogStore::open(store_config).await.unwrap();

    (
        Collector::new(config, store, metrics.clone(), logs),
        metrics,
        dir,
    )
}

fn post(headers: &[(&str, &str)], body: Vec<u8>) -> Request {
    let mut builder = http::Request::builder().method("POST").uri(METRICS_PATH);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn send(collector: &Collector, request: Request) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = export_metrics(State(collector.clone()), request).await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, bytes.to_vec())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn stored_names(metrics: &MetricStore) -> Vec<String> {
    let selected = metrics
        .select(&TenantId::default_tenant(), &[], 0, i64::MAX)
        .await
        .unwrap();
    selected
        .into_iter()
        .map(|(labels, _)| labels.to_string())
        .collect()
}

#[tokio::test]
async fn the_spec_example_in_json_is_translated_and_stored() {
    let (collector, metrics, _dir) = collector(CollectorConfig::default(), |c| c).await;
    let headers = [("content-type", "application/json")];
    let (status, headers, body) = send(&collector, post(&headers, SPEC_EXAMPLE_JSON.into())).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers.get(CONTENT_TYPE).unwrap(), "application/json");
    assert_eq!(body, b"{}");
    let scope = r#"otel_scope_name="my.library", otel_scope_version="1.0.0""#;
    let job = r#"job="my.service""#;
    let mut expected = vec![
        format!(r#"my_counter_total{{{job}, my_counter_attr="some value", {scope}}}"#),
        format!(r#"my_gauge_ratio{{{job}, my_gauge_attr="some value", {scope}}}"#),
        format!(r#"my_histogram_bucket{{{job}, le="1", {scope}}}"#),
        format!(r#"my_histogram_bucket{{{job}, le="+Inf", {scope}}}"#),
        format!(r#"my_histogram_sum{{{job}, {scope}}}"#),
        format!(r#"my_histogram_count{{{job}, {scope}}}"#),
    ];
    for le in ["0", "4", "8", "+Inf"] {
        expected.push(format!(
            r#"my_exponential_histogram_bucket{{{job}, le="{le}", {scope}}}"#
        ));
    }
    expected.push(format!(r#"my_exponential_histogram_sum{{{job}, {scope}}}"#));
    expected.push(format!(
        r#"my_exponential_histogram_count{{{job}, {scope}}}"#
    ));
    let mut stored = stored_names(&metrics).await;
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);
    let selected = metrics
        .select(&TenantId::default_tenant(), &[], EXAMPLE_MS, EXAMPLE_MS)
        .await
        .unwrap();
    let value_of = |name: &str| {
        selected
            .iter()
            .find(|(labels, _)| labels.to_string() == name)
            .map(|(_, samples)| samples[0].value)
    };
    let le8 = format!(r#"my_exponential_histogram_bucket{{{job}, le="8", {scope}}}"#);
    assert_eq!(value_of(&le8), Some(3.0));
    let counter = format!(r#"my_counter_total{{{job}, my_counter_attr="some value", {scope}}}"#);
    assert_eq!(value_of(&counter), Some(5.0));
    let metadata = metrics
        .metadata(&TenantId::default_tenant(), Some("my_counter_total"), 10)
        .await
        .unwrap();
    assert_eq!(metadata[0].help, "I am a Counter");
}

#[tokio::test]
async fn gzip_protobuf_with_rejected_points_answers_partial_success() {
    let (collector, metrics, _dir) = collector(CollectorConfig::default(), |c| c).await;
    let mut request: ExportMetricsServiceRequest = serde_json::from_str(SPEC_EXAMPLE_JSON).unwrap();
    // An empty name makes the gauge's point invalid.
    request.resource_metrics[0].scope_metrics[0].metrics[1].name = "...".into();
    let headers = [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "gzip"),
    ];
    let (status, headers, body) =
        send(&collector, post(&headers, gzip(&request.encode_to_vec()))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get(CONTENT_TYPE).unwrap(), "application/x-protobuf");
    let response = ExportMetricsServiceResponse::decode(body.as_slice()).unwrap();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.contains("metric '...'"),
        "{}",
        partial.error_message
    );
    assert_eq!(stored_names(&metrics).await.len(), 11);
}

#[tokio::test]
async fn series_over_the_limit_count_as_rejected_points() {
    let (collector, metrics, _dir) = collector(CollectorConfig::default(), |config| StoreConfig {
        metric_series_limit_per_metric: 1,
        ..config
    })
    .await;
    let json = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"temp","gauge":{"dataPoints":[
      {"asDouble":1,"timeUnixNano":"1544712660300000000","attributes":[{"key":"room","value":{"stringValue":"a"}}]},
      {"asDouble":2,"timeUnixNano":"1544712660300000000","attributes":[{"key":"room","value":{"stringValue":"b"}}]}
    ]}}]}]}]}"#;
    let headers = [("content-type", "application/json")];
    let (status, _, body) = send(&collector, post(&headers, json.into())).await;
    assert_eq!(status, StatusCode::OK);
    let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["partialSuccess"]["rejectedDataPoints"], 1);
    let message = response["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("series limit"), "{message}");
    assert_eq!(stored_names(&metrics).await, vec![r#"temp{room="a"}"#]);
}

#[tokio::test]
async fn refusals_before_the_store_use_the_trace_answers() {
    let config = CollectorConfig {
        max_body_size_bytes: 16 * 1024,
        max_in_flight_bytes: 64 * 1024,
        budget_wait_millis: 20,
        ..CollectorConfig::default()
    };
    let (collector, _metrics, _dir) = collector(config, |c| c).await;
    let (status, _, _) = send(&collector, post(&[("content-type", "text/plain")], vec![])).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let json = [("content-type", "application/json")];
    let (status, _, body) =
        send(&collector, post(&json, b"{\"resourceMetrics\":5}".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("invalid OTLP/JSON ExportMetricsServiceRequest"),
        "{body}"
    );
    let gzip_json = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let bomb = gzip(&vec![b' '; 1 << 20]);
    let (status, _, body) = send(&collector, post(&gzip_json, bomb)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&body).contains("decompressed"));
    let _held = collector
        .budget()
        .reserve(64 * 1024, Duration::from_millis(1))
        .await
        .unwrap();
    let (status, headers, _) = send(&collector, post(&json, b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers.get(RETRY_AFTER).unwrap(), "1");
}

#[tokio::test]
async fn the_router_serves_both_paths() {
    use tower::ServiceExt;
    let (collector, metrics, _dir) = collector(CollectorConfig::default(), |c| c).await;
    let router = collector.http_router();
    let response = router
        .clone()
        .oneshot(post(
            &[("content-type", "application/json")],
            SPEC_EXAMPLE_JSON.into(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!stored_names(&metrics).await.is_empty());
    let traces = http::Request::builder()
        .method("POST")
        .uri(crate::TRACES_PATH)
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        router.oneshot(traces).await.unwrap().status(),
        StatusCode::OK
    );
}
