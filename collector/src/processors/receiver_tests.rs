//! A two-service trace through the real receivers (the frontend's spans over OTLP/gRPC, the
//! cart's over OTLP/HTTP JSON, as two exporters would send them), with the derived series read
//! back from the metric store after the shutdown flush.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};
use promql_parser::label::{MatchOp, Matcher};
use sightline_model::{TenantId, METRIC_NAME_LABEL};
use sightline_store::{LogStore, MetricStore, SpanStore, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{serve_grpc, serve_http, Collector, CollectorConfig};

const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";
const START_NANOS: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..KeyValue::default()
    }
}

/// The frontend's half: a root SERVER span and its CLIENT call to the cart.
fn frontend_request() -> ExportTraceServiceRequest {
    let trace_id: Vec<u8> = (0..TRACE_ID.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&TRACE_ID[i..i + 2], 16).unwrap())
        .collect();
    let span = |id: u8, parent: Option<u8>, kind: span::SpanKind, name: &str, ms: u64| Span {
        trace_id: trace_id.clone(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|parent| vec![parent; 8]).unwrap_or_default(),
        name: name.to_string(),
        kind: kind as i32,
        start_time_unix_nano: START_NANOS,
        end_time_unix_nano: START_NANOS + ms * MS,
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "frontend")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span(1, None, span::SpanKind::Server, "GET /checkout", 50),
                    span(2, Some(1), span::SpanKind::Client, "POST /cart", 30),
                ],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The cart's half, in OTLP/JSON: the SERVER span of the frontend's call, and a failed call
/// to Redis.
fn cart_request_json() -> String {
    let span = |id: &str, parent: &str, kind: u8, name: &str, ms: u64, extra: &str| {
        format!(
            r#"{{"traceId":"{TRACE_ID}","spanId":"{id}","parentSpanId":"{parent}","name":"{name}",
            "kind":{kind},"startTimeUnixNano":"{START_NANOS}","endTimeUnixNano":"{}"{extra}}}"#,
            START_NANOS + ms * MS
        )
    };
    let server = span(
        "0303030303030303",
        "0202020202020202",
        2,
        "POST /cart",
        20,
        "",
    );
    let redis = span(
        "0404040404040404",
        "0303030303030303",
        3,
        "HGET",
        2,
        r#","attributes":[{"key":"db.system","value":{"stringValue":"redis"}}],
            "status":{"code":2}"#,
    );
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name",
        "value":{{"stringValue":"cart"}}}}]}},"scopeSpans":[{{"spans":[{server},{redis}]}}]}}]}}"#
    )
}

async fn post_json(address: std::net::SocketAddr, path: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

async fn select(metrics: &MetricStore, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let mut matchers = vec![Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, name)];
    matchers.extend(
        labels
            .iter()
            .map(|(label, value)| Matcher::new(MatchOp::Equal, label, value)),
    );
    let tenant = TenantId::default_tenant();
    metrics
        .select(&tenant, &matchers, 0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, samples)| samples.last().unwrap().value)
        .collect()
}

#[tokio::test]
async fn a_trace_from_two_exporters_becomes_span_metrics_and_graph_edges() {
    let dir = tempfile::tempdir().unwrap();
    let store_config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let spans = SpanStore::open(store_config.clone()).await.unwrap();
    let metrics = MetricStore::open(store_config.clone()).await.unwrap();
    let logs = LogStore::open(store_config).await.unwrap();
    let collector = Collector::new(CollectorConfig::default(), spans, metrics.clone(), logs);
    let receivers = CancellationToken::new();
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_address = grpc_listener.local_addr().unwrap();
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_address = http_listener.local_addr().unwrap();
    tokio::spawn(serve_grpc(
        collector.clone(),
        grpc_listener,
        receivers.clone(),
    ));
    tokio::spawn(serve_http(
        collector.clone(),
        http_listener,
        receivers.clone(),
    ));
    let tracker = TaskTracker::new();
    let flush_shutdown = CancellationToken::new();
    let flusher = collector.spawn_processors(&tracker, flush_shutdown.clone());

    // The server half arrives first, from the cart's exporter.
    let response = post_json(http_address, crate::TRACES_PATH, &cart_request_json()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let mut client = TraceServiceClient::connect(format!("http://{grpc_address}"))
        .await
        .unwrap();
    client.export(frontend_request()).await.unwrap();

    // Nothing is written before a flush; the shutdown flush writes everything.
    assert!(select(&metrics, "traces_span_metrics_calls_total", &[])
        .await
        .is_empty());
    receivers.cancel();
    flush_shutdown.cancel();
    flusher.await.unwrap();

    let calls = [
        ("service", "frontend"),
        ("span_name", "GET /checkout"),
        ("span_kind", "SPAN_KIND_SERVER"),
        ("status_code", "STATUS_CODE_UNSET"),
        ("job", "frontend"),
    ];
    assert_eq!(
        select(&metrics, "traces_span_metrics_calls_total", &calls).await,
        [1.0]
    );
    let redis_calls = [("service", "cart"), ("status_code", "STATUS_CODE_ERROR")];
    assert_eq!(
        select(&metrics, "traces_span_metrics_calls_total", &redis_calls).await,
        [1.0]
    );
    let bucket = [
        ("service", "cart"),
        ("span_name", "POST /cart"),
        ("le", "0.032"),
    ];
    assert_eq!(
        select(
            &metrics,
            "traces_span_metrics_duration_seconds_bucket",
            &bucket
        )
        .await,
        [1.0]
    );

    let requests = "traces_service_graph_request_total";
    let failed = "traces_service_graph_request_failed_total";
    let frontend_cart = [
        ("client", "frontend"),
        ("server", "cart"),
        ("connection_type", ""),
    ];
    assert_eq!(select(&metrics, requests, &frontend_cart).await, [1.0]);
    assert_eq!(select(&metrics, failed, &frontend_cart).await, [0.0]);
    let server_sum = select(
        &metrics,
        "traces_service_graph_request_server_seconds_sum",
        &frontend_cart,
    )
    .await;
    assert_eq!(server_sum, [0.02]);
    let user = [
        ("client", "user"),
        ("server", "frontend"),
        ("connection_type", "virtual_node"),
    ];
    assert_eq!(select(&metrics, requests, &user).await, [1.0]);
    let redis = [
        ("client", "cart"),
        ("server", "redis"),
        ("connection_type", "database"),
    ];
    assert_eq!(select(&metrics, requests, &redis).await, [1.0]);
    assert_eq!(select(&metrics, failed, &redis).await, [1.0]);
    let edges = select(&metrics, requests, &[]).await;
    assert_eq!(edges.len(), 3, "{edges:?}");
}
