//! Real OpenTelemetry SDK metric exporters (gRPC with cumulative temporality, HTTP/protobuf
//! with delta temporality) against the real server, read back with PromQL through the
//! Prometheus HTTP API, before and after a restart.

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;
use serde_json::Value as Json;

use crate::server::TestServer;

enum Transport {
    GrpcCumulative,
    HttpDelta,
}

/// Records a counter, an up-down counter, a histogram and a gauge for `service` twice, with
/// an export after each round.
fn send_metrics(server: &TestServer, transport: Transport, service: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let exporter = match transport {
        Transport::GrpcCumulative => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", server.grpc))
            .with_timeout(Duration::from_secs(10))
            .build(),
        Transport::HttpDelta => MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(server.otlp_url("/v1/metrics"))
            .with_temporality(Temporality::Delta)
            .with_timeout(Duration::from_secs(10))
            .build(),
    }
    .expect("build exporter");
    let reader = PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .with_attribute(KeyValue::new("service.instance.id", "pod-1"))
                .with_attribute(KeyValue::new("deployment.environment", "test"))
                .build(),
        )
        .build();
    let meter = provider.meter("e2e-meter");
    let requests = meter
        .u64_counter("http.server.requests")
        .with_description("Requests served.")
        .build();
    let in_flight = meter
        .i64_up_down_counter("http.server.active_requests")
        .build();
    let duration = meter
        .f64_histogram("http.server.request.duration")
        .with_unit("s")
        .with_boundaries(vec![0.1, 0.5, 1.0])
        .build();
    let queue = meter.f64_gauge("queue.depth").build();
    let route = [KeyValue::new("http.route", "/orders")];
    for round in 0..2 {
        requests.add(10, &route);
        in_flight.add(3, &route);
        for value in [0.05, 0.2, 0.3, 0.7] {
            duration.record(value, &route);
        }
        queue.record(4.0 + f64::from(round), &[]);
        provider.force_flush().expect("export metrics");
    }
    provider.shutdown().expect("exporter shutdown");
}

/// Runs an instant PromQL query and returns `data.result`.
fn query(server: &TestServer, promql: &str) -> Vec<Json> {
    let body: Json = reqwest::blocking::Client::new()
        .get(server.url("/prometheus/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["status"], "success", "{promql}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of a one-sample vector result.
fn single_value(server: &TestServer, promql: &str) -> f64 {
    let result = query(server, promql);
    assert_eq!(result.len(), 1, "{promql}: {result:?}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

fn check(server: &TestServer, service: &str) {
    let selector = format!("{{job=\"{service}\", instance=\"pod-1\", http_route=\"/orders\"}}");
    // A monotonic sum gets `_total`; both rounds add up, whatever the temporality.
    assert_eq!(
        single_value(server, &format!("http_server_requests_total{selector}")),
        20.0
    );
    // A non-monotonic sum is a gauge without `_total`.
    assert_eq!(
        single_value(server, &format!("http_server_active_requests{selector}")),
        6.0
    );
    // Histograms: unit suffix, `_bucket{le}` cumulative with `+Inf`, `_count`, `_sum`.
    assert_eq!(
        single_value(
            server,
            &format!("http_server_request_duration_seconds_count{selector}")
        ),
        8.0
    );
    let buckets = query(
        server,
        &format!("http_server_request_duration_seconds_bucket{selector}"),
    );
    let mut by_le: Vec<(String, f64)> = buckets
        .iter()
        .map(|series| {
            (
                series["metric"]["le"].as_str().unwrap().to_string(),
                series["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    by_le.sort_by(|a, b| {
        let bound = |le: &str| le.parse::<f64>().unwrap();
        bound(&a.0).total_cmp(&bound(&b.0))
    });
    assert_eq!(
        by_le,
        [
            ("0.1".to_string(), 2.0),
            ("0.5".to_string(), 6.0),
            ("1".to_string(), 8.0),
            ("+Inf".to_string(), 8.0)
        ]
    );
    let median = single_value(
        server,
        &format!(
            "histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket{selector}))"
        ),
    );
    assert!((median - 0.3).abs() < 1e-9, "median {median}");
    assert_eq!(
        single_value(server, &format!("queue_depth{{job=\"{service}\"}}")),
        5.0
    );
    // Resource attributes other than the service identity become `target_info` labels.
    let info = query(server, &format!("target_info{{job=\"{service}\"}}"));
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0]["metric"]["deployment_environment"], "test");
}

#[test]
fn sdk_metric_exporters_are_queryable_with_promql_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(data.path(), &[]);
    send_metrics(&server, Transport::GrpcCumulative, "checkout-grpc");
    send_metrics(&server, Transport::HttpDelta, "checkout-http");
    check(&server, "checkout-grpc");
    check(&server, "checkout-http");
    server.kill9();
    let server = TestServer::start_in(data.path(), &[]);
    check(&server, "checkout-grpc");
    check(&server, "checkout-http");
}
