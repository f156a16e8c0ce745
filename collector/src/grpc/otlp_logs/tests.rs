//! `LogsService/Export` through a real tonic client, into a real [`LogStore`], next to the
//! trace service on the same server.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use sightline_store::{LogStore, MetricStore, SpanStore, StoreConfig};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::test_support::count_logs;
use crate::{serve_grpc, CollectorConfig};

fn record(body: &str, span_id: Vec<u8>) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        span_id,
        ..LogRecord::default()
    }
}

/// A gRPC server over fresh stores in `dir` (with `store_config`'s settings), a client of its
/// logs service, the log store, and the server's shutdown token.
async fn serve(
    dir: &std::path::Path,
    store_config: StoreConfig,
) -> (
    LogsServiceClient<tonic::transport::Channel>,
    LogStore,
    CancellationToken,
) {
    let store_config = StoreConfig {
        data_dir: dir.to_path_buf(),
        ..store_config
    };
    let store = SpanStore::open(store_config.clone()).await.unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = LogStore::open(store_config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let collector = Collector::new(CollectorConfig::default(), store, metrics, logs.clone());
    tokio::spawn(serve_grpc(collector, listener, shutdown.clone()));
    let client = LogsServiceClient::connect(address).await.unwrap();
    (client, logs, shutdown)
}

#[tokio::test]
async fn export_stores_records_and_reports_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, logs, shutdown) = serve(dir.path(), StoreConfig::default()).await;
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record("disk full on /var", vec![1; 8]),
                    record("bad span id", vec![1; 3]),
                ],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    let response = client.export(request).await.unwrap().into_inner();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("invalid span id"));
    assert_eq!(count_logs(&logs, "\"disk full\" level:error").await, 1);
    shutdown.cancel();
}

#[tokio::test]
async fn an_overloaded_log_store_answers_unavailable_with_retry_info() {
    let dir = tempfile::tempdir().unwrap();
    let over_budget_once_anything_is_held = StoreConfig {
        log_head_max_bytes: 1,
        ..StoreConfig::default()
    };
    let (mut client, logs, shutdown) = serve(dir.path(), over_budget_once_anything_is_held).await;
    let request = |body: &str| ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record(body, vec![1; 8])],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    client.export(request("held line")).await.unwrap();
    let status = client.export(request("refused line")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert!(details.retry_info().is_some(), "{status:?}");
    assert_eq!(count_logs(&logs, "held").await, 1);
    assert_eq!(count_logs(&logs, "refused").await, 0);
    shutdown.cancel();
}
