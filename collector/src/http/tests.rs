//! Router tests for every refusal that happens before the store is called, and for a request
//! whose spans are all rejected (which answers without an append).

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::BodyExt;
use sightline_store::{MetricStore, SpanStore, StoreConfig};

use super::*;
use crate::CollectorConfig;

const INVALID_SPAN_JSON: &str = r#"{"resourceSpans":[{"scopeSpans":[{"scope":{"name":"x"},
  "spans":[{"traceId":"","spanId":"eee19b7ec3c1b174","name":"bad"}]}]}]}"#;

async fn collector(config: CollectorConfig) -> (Collector, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store_config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let store = SpanStore::open(store_config.clone()).await.unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = sightline_store::LogStore::open(store_config).await.unwrap();

    (Collector::new(config, store, metrics, logs), dir)
}

fn post(headers: &[(&str, &str)], body: Vec<u8>) -> Request {
    let mut builder = http::Request::builder().method("POST").uri(TRACES_PATH);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn send(collector: &Collector, request: Request) -> (StatusCode, HeaderMap, String) {
    let response = export_traces(State(collector.clone()), request).await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn wrong_content_type_or_encoding_is_415() {
    let (collector, _dir) = collector(CollectorConfig::default()).await;
    let (status, _, body) = send(&collector, post(&[("content-type", "text/plain")], vec![])).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(body.contains("unsupported content type"), "{body}");
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "br"),
    ];
    let (status, _, _) = send(&collector, post(&headers, b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn malformed_json_is_400_with_a_message() {
    let (collector, _dir) = collector(CollectorConfig::default()).await;
    let headers = [("content-type", "application/json")];
    let (status, headers, body) = send(
        &collector,
        post(&headers, b"{\"resourceSpans\":5}".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers.get(CONTENT_TYPE).unwrap(), "application/json");
    let status_body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status_body["code"], 3);
    assert!(status_body["message"]
        .as_str()
        .unwrap()
        .contains("invalid OTLP/JSON"));
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_received_or_decompressed() {
    let config = CollectorConfig {
        max_body_size_bytes: 16 * 1024,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector(config).await;
    let json = [("content-type", "application/json")];
    let declared = [
        ("content-type", "application/json"),
        ("content-length", "32768"),
    ];
    let (status, _, body) = send(&collector, post(&declared, vec![b' '; 32 * 1024])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("declared"), "{body}");
    let (status, _, body) = send(&collector, post(&json, vec![b' '; 32 * 1024])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("received"), "{body}");
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&vec![b' '; 4 << 20]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 16 * 1024);
    let gzip = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let (status, _, body) = send(&collector, post(&gzip, bomb)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.contains("decompressed"), "{body}");
}

#[tokio::test]
async fn exhausted_budget_is_429_with_retry_after() {
    let config = CollectorConfig {
        max_in_flight_bytes: 4096,
        budget_wait_millis: 20,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector(config).await;
    let _held = collector
        .budget()
        .reserve(4096, Duration::from_millis(1))
        .await
        .unwrap();
    let headers = [("content-type", "application/x-protobuf")];
    let (status, headers, _) = send(&collector, post(&headers, vec![])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers.get(RETRY_AFTER).unwrap(), "1");
    assert_eq!(headers.get(CONTENT_TYPE).unwrap(), "application/x-protobuf");
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_the_wait() {
    let config = CollectorConfig {
        tenant_ingest_items_per_second: 1,
        tenant_ingest_burst_seconds: 1,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector(config).await;
    let headers = [("content-type", "application/json")];
    // Charged for its (rejected) span only if accepted: spans rejected by validation are free,
    // so a bucket in debt needs accepted items; charge it directly.
    collector.charge_items(&sightline_model::TenantId::default_tenant(), 3);
    let (status, headers, body) = send(&collector, post(&headers, INVALID_SPAN_JSON.into())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.contains("over its ingest rate limit (items per second)"),
        "{body}"
    );
    assert_eq!(headers.get(RETRY_AFTER).unwrap(), "2");
}

#[tokio::test]
async fn multi_tenancy_requires_the_org_id() {
    let config = CollectorConfig {
        multi_tenancy: true,
        ..CollectorConfig::default()
    };
    let (collector, _dir) = collector(config).await;
    let headers = [("content-type", "application/json")];
    let (status, _, _) = send(&collector, post(&headers, b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn all_rejected_spans_answer_partial_success_in_the_request_format() {
    let (collector, _dir) = collector(CollectorConfig::default()).await;
    let headers = [("content-type", "application/json")];
    let (status, _, body) = send(&collector, post(&headers, INVALID_SPAN_JSON.into())).await;
    assert_eq!(status, StatusCode::OK);
    let response: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(response["partialSuccess"]["rejectedSpans"], 1);
    let message = response["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("invalid trace id"), "{message}");
    // The empty request has nothing to store either.
    let (status, _, body) = send(&collector, post(&headers, b"{}".to_vec())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "{}"));
}
