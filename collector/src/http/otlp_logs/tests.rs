//! `POST /v1/logs` through the handler, into a real [`LogStore`].

use std::io::Write;

use axum::body::Body;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use sightline_store::{LogStore, MetricStore, SpanStore, StoreConfig};

use super::*;
use crate::test_support::count_logs;
use crate::{CollectorConfig, LOGS_PATH};

async fn collector(config: CollectorConfig) -> (Collector, LogStore, tempfile::TempDir) {
    collector_with(config, StoreConfig::default()).await
}

/// A collector over fresh stores with `store_config`'s settings in a new temporary directory.
async fn collector_with(
    config: CollectorConfig,
    store_config: StoreConfig,
) -> (Collector, LogStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store_config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..store_config
    };
    let store = SpanStore::open(store_config.clone()).await.unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = LogStore::open(store_config).await.unwrap();
    (
        Collector::new(config, store, metrics, logs.clone()),
        logs,
        dir,
    )
}

fn request(bodies: &[&str], trace_id: Vec<u8>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("api".into())),
                    }),
                    key_strindex: 0,
                }],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .map(|body| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(body.to_string())),
                        }),
                        trace_id: trace_id.clone(),
                        ..LogRecord::default()
                    })
                    .collect(),
                ..ScopeLogs::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn post(headers: &[(&str, &str)], body: Vec<u8>) -> Request {
    let mut builder = http::Request::builder().method("POST").uri(LOGS_PATH);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn send(collector: &Collector, request: Request) -> (StatusCode, Vec<u8>) {
    let response = export_logs(State(collector.clone()), request).await;
    let (parts, body) = response.into_parts();
    (
        parts.status,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn protobuf_json_and_gzip_bodies_are_stored() {
    let (collector, logs, _dir) = collector(CollectorConfig::default()).await;
    let protobuf = request(&["first line"], vec![7; 16]).encode_to_vec();
    let (status, body) = send(
        &collector,
        post(&[("content-type", "application/x-protobuf")], protobuf),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ExportLogsServiceResponse::decode(body.as_slice()).unwrap(),
        ExportLogsServiceResponse::default()
    );
    let json = serde_json::to_vec(&request(&["second line"], Vec::new())).unwrap();
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&json).unwrap();
    let (status, body) = send(
        &collector,
        post(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            encoder.finish().unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"{}");
    assert_eq!(count_logs(&logs, "line").await, 2);
    assert_eq!(count_logs(&logs, "service:api first").await, 1);
}

#[tokio::test]
async fn invalid_records_are_partial_success_and_bad_bodies_are_refused() {
    let (collector, logs, _dir) = collector(CollectorConfig {
        max_body_size_bytes: 4096,
        ..CollectorConfig::default()
    })
    .await;
    let mut mixed = request(&["kept"], Vec::new());
    mixed.resource_logs[0].scope_logs[0].log_records.extend(
        request(&["dropped"], vec![1; 5]).resource_logs[0].scope_logs[0]
            .log_records
            .clone(),
    );
    let (status, body) = send(
        &collector,
        post(
            &[("content-type", "application/x-protobuf")],
            mixed.encode_to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let partial = ExportLogsServiceResponse::decode(body.as_slice())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("invalid trace id"),
        "{partial:?}"
    );
    assert_eq!(count_logs(&logs, "kept").await, 1);
    assert_eq!(count_logs(&logs, "dropped").await, 0);

    let cases = [
        (
            ("content-type", "text/plain"),
            b"x".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            ("content-type", "application/json"),
            b"{oops".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            ("content-type", "application/json"),
            vec![b' '; 8192],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for ((name, value), body, expected) in cases {
        let (status, answer) = send(&collector, post(&[(name, value)], body)).await;
        assert_eq!(status, expected, "{}", String::from_utf8_lossy(&answer));
    }
}

#[tokio::test]
async fn an_overloaded_log_store_refuses_before_reading_the_body() {
    let over_budget_once_anything_is_held = StoreConfig {
        log_head_max_bytes: 1,
        ..StoreConfig::default()
    };
    let (collector, logs, _dir) = collector_with(
        CollectorConfig::default(),
        over_budget_once_anything_is_held,
    )
    .await;
    let protobuf = [("content-type", "application/x-protobuf")];
    let (status, _) = send(
        &collector,
        post(
            &protobuf,
            request(&["held line"], Vec::new()).encode_to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Undecodable bytes are answered 503 (retry later), not 400: the body was never read.
    let response = export_logs(
        State(collector.clone()),
        post(&protobuf, b"\xff\xff not protobuf".to_vec()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let (status, _) = send(
        &collector,
        post(
            &protobuf,
            request(&["refused line"], Vec::new()).encode_to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(count_logs(&logs, "held").await, 1);
    assert_eq!(count_logs(&logs, "refused").await, 0);
}
