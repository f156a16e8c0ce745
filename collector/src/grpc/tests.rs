//! Server tests through a real tonic client, for answers that need no store append.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use sightline_store::{MetricStore, SpanStore, StoreConfig};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::{serve_grpc, CollectorConfig};

async fn start(config: CollectorConfig) -> (String, CancellationToken, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store_config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let store = SpanStore::open(store_config.clone()).await.unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = sightline_store::LogStore::open(store_config).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let collector = Collector::new(config, store, metrics, logs);
    tokio::spawn(serve_grpc(collector, listener, shutdown.clone()));
    (address, shutdown, dir)
}

fn request_with_invalid_span() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![0; 16],
                    span_id: vec![1; 8],
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

#[tokio::test]
async fn gzip_export_with_rejected_spans_answers_partial_success() {
    let (address, shutdown, _dir) = start(CollectorConfig::default()).await;
    let mut client = TraceServiceClient::connect(address)
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    let response = client.export(request_with_invalid_span()).await.unwrap();
    let partial = response.into_inner().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("must not be all zeros"));
    shutdown.cancel();
}

#[tokio::test]
async fn oversized_messages_and_missing_tenants_are_refused() {
    let config = CollectorConfig {
        max_body_size_bytes: 64,
        multi_tenancy: true,
        ..CollectorConfig::default()
    };
    let (address, shutdown, _dir) = start(config).await;
    let mut client = TraceServiceClient::connect(address).await.unwrap();
    let status = client
        .export(request_with_invalid_span())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let mut large = request_with_invalid_span();
    large.resource_spans[0].schema_url = "x".repeat(100);
    // tonic itself refuses messages over `max_decoding_message_size`, with OUT_OF_RANGE.
    let status = client.export(large).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange);
    shutdown.cancel();
}

#[tokio::test]
async fn a_tenant_over_its_rate_answers_resource_exhausted_with_retry_info() {
    let config = CollectorConfig {
        tenant_ingest_bytes_per_second: 10,
        tenant_ingest_burst_seconds: 1,
        ..CollectorConfig::default()
    };
    let (address, shutdown, _dir) = start(config).await;
    let mut client = TraceServiceClient::connect(address).await.unwrap();
    // The first export empties the ten-byte bucket; the next is refused with a delay.
    client.export(request_with_invalid_span()).await.unwrap();
    let status = client
        .export(request_with_invalid_span())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert!(
        status.message().contains("rate limit"),
        "{}",
        status.message()
    );
    let delay = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("RetryInfo with a delay");
    assert!(delay > std::time::Duration::ZERO && delay <= std::time::Duration::from_secs(1));
    shutdown.cancel();
}
