//! `MetricsService/Export` through a real tonic client, into a real [`MetricStore`].

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use sightline_model::TenantId;
use sightline_store::{MetricStore, SpanStore, StoreConfig};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::tenant::TENANT_HEADER;
use crate::{serve_grpc, CollectorConfig};

/// 2023-11-14T22:13:20Z, in nanoseconds.
const T0: u64 = 1_700_000_000_000_000_000;
const T0_MS: i64 = 1_700_000_000_000;

async fn start(
    config: CollectorConfig,
) -> (String, MetricStore, CancellationToken, tempfile::TempDir) {
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
    let collector = Collector::new(config, store, metrics.clone(), logs);
    tokio::spawn(serve_grpc(collector, listener, shutdown.clone()));
    (address, metrics, shutdown, dir)
}

fn number(time: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: T0 - 1_000_000_000,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    }
}

fn export_request() -> ExportMetricsServiceRequest {
    let service_name = KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("checkout".into())),
        }),
        key_strindex: 0,
    };
    let metrics = vec![
        Metric {
            name: "queue.depth".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![number(T0, 7.0)],
            })),
            ..Metric::default()
        },
        Metric {
            name: "http.server.requests".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![number(T0, 3.0)],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Metric::default()
        },
        Metric {
            name: "http.server.duration".into(),
            unit: "s".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T0,
                    count: 3,
                    // One count too many for the bounds: rejected.
                    bucket_counts: vec![1, 1, 1],
                    explicit_bounds: vec![0.5],
                    ..HistogramDataPoint::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Metric::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![service_name],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..ScopeMetrics::default()
            }],
            schema_url: String::new(),
        }],
    }
}

#[tokio::test]
async fn gzip_metrics_export_is_stored_with_partial_success() {
    let (address, metrics, shutdown, _dir) = start(CollectorConfig::default()).await;
    let mut client = MetricsServiceClient::connect(address.clone())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    let response = client.export(export_request()).await.unwrap().into_inner();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.contains("bucket counts"),
        "{}",
        partial.error_message
    );
    let tenant = TenantId::default_tenant();
    let selected = metrics
        .select(&tenant, &[], T0_MS - 1, T0_MS + 1)
        .await
        .unwrap();
    let stored: Vec<(String, Vec<f64>)> = selected
        .iter()
        .map(|(labels, samples)| {
            let values = samples.iter().map(|sample| sample.value).collect();
            (labels.to_string(), values)
        })
        .collect();
    assert_eq!(
        stored,
        vec![
            (
                r#"http_server_requests_total{job="checkout"}"#.to_string(),
                vec![3.0]
            ),
            (r#"queue_depth{job="checkout"}"#.to_string(), vec![7.0]),
        ]
    );
    // The trace service still answers on the same server.
    let mut traces = TraceServiceClient::connect(address).await.unwrap();
    let response = traces
        .export(ExportTraceServiceRequest::default())
        .await
        .unwrap();
    assert_eq!(response.into_inner().partial_success, None);
    shutdown.cancel();
}

#[tokio::test]
async fn metrics_exports_need_the_tenant_when_multi_tenant() {
    let config = CollectorConfig {
        multi_tenancy: true,
        ..CollectorConfig::default()
    };
    let (address, metrics, shutdown, _dir) = start(config).await;
    let mut client = MetricsServiceClient::connect(address).await.unwrap();
    let status = client.export(export_request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let mut request = tonic::Request::new(export_request());
    request
        .metadata_mut()
        .insert(TENANT_HEADER, "team-a".parse().unwrap());
    client.export(request).await.unwrap();
    let team_a = TenantId::new("team-a").unwrap();
    let stored = metrics.select(&team_a, &[], 0, i64::MAX).await.unwrap();
    assert_eq!(stored.len(), 2);
    let default = TenantId::default_tenant();
    assert!(metrics
        .select(&default, &[], 0, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    shutdown.cancel();
}
