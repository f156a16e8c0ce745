//! Span metrics and the service graph from a realistic multi-service workload, sent by real
//! OpenTelemetry SDK span exporters (one per service, over gRPC, HTTP/protobuf and HTTP/JSON),
//! checked with PromQL through the Prometheus API against the known truth, and again after a
//! graceful restart (counters start over, which `resets` sees). The health API is checked
//! against the same truth (`health_api.rs`).
//!
//! The workload, `REQUESTS` times: a user calls `frontend` (`GET /checkout`), which calls
//! `cart` (which reads Redis) and `checkout`; `checkout` writes to PostgreSQL (`orders`),
//! calls `payments` (every fifth charge fails) and publishes to Kafka, which `shipping`
//! consumes; `payments` calls an uninstrumented API (`api.stripe.test`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde_json::Value as Json;

use crate::server::TestServer;

const REQUESTS: usize = 20;
const FAILED_CHARGES: usize = REQUESTS / 5;

#[derive(Clone, Copy)]
enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn provider(server: &TestServer, transport: Transport, service: &str) -> SdkTracerProvider {
    let exporter = match transport {
        Transport::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", server.grpc))
            .with_timeout(Duration::from_secs(10))
            .build(),
        Transport::HttpProtobuf | Transport::HttpJson => SpanExporter::builder()
            .with_http()
            .with_protocol(if matches!(transport, Transport::HttpJson) {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            })
            .with_endpoint(server.otlp_url("/v1/traces"))
            .with_timeout(Duration::from_secs(10))
            .build(),
    }
    .expect("build exporter");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .with_attribute(KeyValue::new("deployment.environment", "e2e"))
                .build(),
        )
        .build()
}

/// One service: its provider (its own exporter) and tracer.
struct Service {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Service {
    fn new(server: &TestServer, transport: Transport, name: &str) -> Self {
        let provider = provider(server, transport, name);
        let tracer = provider.tracer("e2e-service-graph");
        Self { provider, tracer }
    }

    /// Records a span of `kind` under `parent` (as propagated over the wire), from `start`
    /// for `millis`, and returns its context for children.
    #[allow(clippy::too_many_arguments)]
    fn span(
        &self,
        parent: Option<&Context>,
        kind: SpanKind,
        name: &str,
        start: SystemTime,
        millis: u64,
        attributes: Vec<KeyValue>,
        failed: bool,
    ) -> Context {
        let builder = self
            .tracer
            .span_builder(name.to_string())
            .with_kind(kind)
            .with_start_time(start)
            .with_attributes(attributes);
        let mut span = match parent {
            Some(parent) => builder.start_with_context(&self.tracer, parent),
            None => builder.start(&self.tracer),
        };
        if failed {
            span.set_status(Status::error("charge declined"));
        }
        let context = Context::new().with_remote_span_context(span.span_context().clone());
        span.end_with_timestamp(start + Duration::from_millis(millis));
        context
    }
}

struct Workload {
    frontend: Service,
    cart: Service,
    checkout: Service,
    payments: Service,
    shipping: Service,
}

impl Workload {
    fn new(server: &TestServer) -> Self {
        Self {
            frontend: Service::new(server, Transport::Grpc, "frontend"),
            cart: Service::new(server, Transport::HttpProtobuf, "cart"),
            checkout: Service::new(server, Transport::Grpc, "checkout"),
            payments: Service::new(server, Transport::HttpJson, "payments"),
            shipping: Service::new(server, Transport::Grpc, "shipping"),
        }
    }

    /// One user request through every service; the charge fails when `charge_fails`.
    fn request(&self, charge_fails: bool) {
        use SpanKind::{Client, Consumer, Producer, Server};
        let t = SystemTime::now() - Duration::from_secs(1);
        let ms = |millis| t + Duration::from_millis(millis);
        let root = self
            .frontend
            .span(None, Server, "GET /checkout", t, 300, vec![], false);
        let call_cart =
            self.frontend
                .span(Some(&root), Client, "GET /cart", ms(5), 40, vec![], false);
        let cart = self.cart.span(
            Some(&call_cart),
            Server,
            "GET /cart",
            ms(10),
            30,
            vec![],
            false,
        );
        let redis = vec![KeyValue::new("db.system", "redis")];
        self.cart
            .span(Some(&cart), Client, "HGET", ms(12), 3, redis, false);
        let call_checkout = self.frontend.span(
            Some(&root),
            Client,
            "POST /checkout",
            ms(50),
            200,
            vec![],
            false,
        );
        let checkout = self.checkout.span(
            Some(&call_checkout),
            Server,
            "POST /checkout",
            ms(60),
            180,
            vec![],
            false,
        );
        let orders = vec![
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("db.name", "orders"),
        ];
        self.checkout.span(
            Some(&checkout),
            Client,
            "INSERT orders",
            ms(65),
            12,
            orders,
            false,
        );
        let call_payments = self.checkout.span(
            Some(&checkout),
            Client,
            "charge",
            ms(80),
            90,
            vec![],
            charge_fails,
        );
        let payments = self.payments.span(
            Some(&call_payments),
            Server,
            "charge",
            ms(85),
            80,
            vec![],
            charge_fails,
        );
        let stripe = vec![KeyValue::new("server.address", "api.stripe.test")];
        self.payments.span(
            Some(&payments),
            Client,
            "POST /v1/charges",
            ms(90),
            60,
            stripe,
            false,
        );
        let kafka = vec![KeyValue::new("messaging.system", "kafka")];
        let publish = self.checkout.span(
            Some(&checkout),
            Producer,
            "orders publish",
            ms(200),
            2,
            kafka,
            false,
        );
        self.shipping.span(
            Some(&publish),
            Consumer,
            "orders process",
            ms(210),
            25,
            vec![],
            false,
        );
    }

    /// Sends `requests` user requests; every fifth charge (the first included) fails.
    fn run(self, requests: usize) {
        for i in 0..requests {
            self.request(i % 5 == 0);
        }
        for service in [
            self.frontend,
            self.cart,
            self.checkout,
            self.payments,
            self.shipping,
        ] {
            service
                .provider
                .force_flush()
                .expect("flush spans to the server");
            service.provider.shutdown().expect("exporter shutdown");
        }
    }
}

fn send_workload(server: &TestServer, requests: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    Workload::new(server).run(requests);
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

/// The results of `promql` by the values of `labels`.
fn by_labels(server: &TestServer, promql: &str, labels: &[&str]) -> BTreeMap<Vec<String>, f64> {
    query(server, promql)
        .iter()
        .map(|series| {
            let key = labels
                .iter()
                .map(|label| series["metric"][label].as_str().unwrap_or("").to_string())
                .collect();
            let value = series["value"][1].as_str().unwrap().parse().unwrap();
            (key, value)
        })
        .collect()
}

fn edge(client: &str, server: &str, connection_type: &str) -> Vec<String> {
    vec![client.into(), server.into(), connection_type.into()]
}

/// Every edge of the workload with `per_edge` requests.
fn expected_edges(per_edge: f64) -> BTreeMap<Vec<String>, f64> {
    [
        edge("user", "frontend", "virtual_node"),
        edge("frontend", "cart", ""),
        edge("cart", "redis", "database"),
        edge("frontend", "checkout", ""),
        edge("checkout", "orders", "database"),
        edge("checkout", "payments", ""),
        edge("payments", "api.stripe.test", "virtual_node"),
        edge("checkout", "shipping", "messaging_system"),
    ]
    .into_iter()
    .map(|key| (key, per_edge))
    .collect()
}

const EDGE_LABELS: [&str; 3] = ["client", "server", "connection_type"];

/// Polls until the graph has every edge with `per_edge` requests (flushes are asynchronous,
/// and the virtual node appears only once its client spans expire).
fn wait_for_edges(server: &TestServer, per_edge: f64) -> BTreeMap<Vec<String>, f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let edges = by_labels(server, "traces_service_graph_request_total", &EDGE_LABELS);
        if edges == expected_edges(per_edge) || Instant::now() > deadline {
            return edges;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check_span_metrics(server: &TestServer) {
    let n = REQUESTS as f64;
    let failed = FAILED_CHARGES as f64;
    let calls = by_labels(
        server,
        "traces_span_metrics_calls_total",
        &["service", "span_name", "span_kind", "status_code"],
    );
    let key = |service: &str, name: &str, kind: &str, status: &str| {
        vec![
            service.to_string(),
            name.to_string(),
            kind.to_string(),
            status.to_string(),
        ]
    };
    let expected: BTreeMap<Vec<String>, f64> = [
        (
            key(
                "frontend",
                "GET /checkout",
                "SPAN_KIND_SERVER",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key(
                "frontend",
                "GET /cart",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key(
                "frontend",
                "POST /checkout",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key("cart", "GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET"),
            n,
        ),
        (
            key("cart", "HGET", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"),
            n,
        ),
        (
            key(
                "checkout",
                "POST /checkout",
                "SPAN_KIND_SERVER",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key(
                "checkout",
                "INSERT orders",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key(
                "checkout",
                "charge",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_UNSET",
            ),
            n - failed,
        ),
        (
            key(
                "checkout",
                "charge",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_ERROR",
            ),
            failed,
        ),
        (
            key(
                "checkout",
                "orders publish",
                "SPAN_KIND_PRODUCER",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key(
                "payments",
                "charge",
                "SPAN_KIND_SERVER",
                "STATUS_CODE_UNSET",
            ),
            n - failed,
        ),
        (
            key(
                "payments",
                "charge",
                "SPAN_KIND_SERVER",
                "STATUS_CODE_ERROR",
            ),
            failed,
        ),
        (
            key(
                "payments",
                "POST /v1/charges",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
        (
            key(
                "shipping",
                "orders process",
                "SPAN_KIND_CONSUMER",
                "STATUS_CODE_UNSET",
            ),
            n,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(calls, expected);

    // Durations land in Tempo's buckets: the 300 ms root spans above 0.256 s, below 0.512 s.
    let root = r#"service="frontend", span_name="GET /checkout""#;
    let buckets = by_labels(
        server,
        &format!("traces_span_metrics_duration_seconds_bucket{{{root}}}"),
        &["le"],
    );
    assert_eq!(buckets[&vec!["0.256".to_string()]], 0.0, "{buckets:?}");
    assert_eq!(buckets[&vec!["0.512".to_string()]], n, "{buckets:?}");
    assert_eq!(buckets[&vec!["+Inf".to_string()]], n, "{buckets:?}");
    assert_eq!(buckets.len(), 13, "{buckets:?}");
    let sum = by_labels(
        server,
        &format!("traces_span_metrics_duration_seconds_sum{{{root}}}"),
        &[],
    );
    let sum = sum.values().next().copied().unwrap();
    assert!((sum - 0.3 * n).abs() < 1e-6, "{sum}");
    let median = by_labels(
        server,
        &format!(
            "histogram_quantile(0.5, sum by (le) (traces_span_metrics_duration_seconds_bucket{{{root}}}))"
        ),
        &[],
    );
    let median = median.values().next().copied().unwrap();
    assert!(median > 0.256 && median <= 0.512, "{median}");
    // Resource attributes give `job`; the error ratio of payments is what was sent.
    let ratio = by_labels(
        server,
        r#"sum(traces_span_metrics_calls_total{job="payments", span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_ERROR"}) / sum(traces_span_metrics_calls_total{job="payments", span_kind="SPAN_KIND_SERVER"})"#,
        &[],
    );
    assert_eq!(ratio.values().next().copied(), Some(failed / n));
}

fn check_service_graph(server: &TestServer, per_edge: f64, failed_charges: f64) {
    let edges = wait_for_edges(server, per_edge);
    assert_eq!(edges, expected_edges(per_edge));
    let failed = by_labels(
        server,
        "traces_service_graph_request_failed_total",
        &EDGE_LABELS,
    );
    let mut expected_failed = expected_edges(0.0);
    expected_failed.insert(edge("checkout", "payments", ""), failed_charges);
    assert_eq!(failed, expected_failed);
    // Client and server latency of frontend → checkout: 200 ms and 180 ms, both in the
    // (0.128, 0.256] bucket.
    for (histogram, bound) in [("client", "0.256"), ("server", "0.256")] {
        let buckets = by_labels(
            server,
            &format!(
                r#"traces_service_graph_request_{histogram}_seconds_bucket{{client="frontend", server="checkout"}}"#
            ),
            &["le"],
        );
        assert_eq!(
            buckets[&vec![bound.to_string()]],
            per_edge,
            "{histogram}: {buckets:?}"
        );
        assert_eq!(
            buckets[&vec!["0.128".to_string()]],
            0.0,
            "{histogram}: {buckets:?}"
        );
    }
    // Edges to uninstrumented peers have only their client side.
    let database_server = query(
        server,
        r#"traces_service_graph_request_server_seconds_count{connection_type="database"}"#,
    );
    assert!(database_server.is_empty(), "{database_server:?}");
    let database_client = by_labels(
        server,
        r#"traces_service_graph_request_client_seconds_count{connection_type="database"}"#,
        &["server"],
    );
    assert_eq!(database_client.len(), 2, "{database_client:?}");
}

/// The native trace search's edge filter (`service=A&peerService=B`, what the map's edge panel
/// links to) finds every request's trace for each edge of the graph, databases, messaging and
/// virtual nodes included, and none for an edge in the wrong direction.
fn check_edge_trace_search(server: &TestServer, traces: usize) {
    let count = |client: &str, peer: &str| {
        let body: Json = reqwest::blocking::Client::new()
            .get(server.url("/api/v1/traces"))
            .query(&[("service", client), ("peerService", peer), ("limit", "100")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["traces"]
            .as_array()
            .unwrap_or_else(|| panic!("no traces in {body}"))
            .len()
    };
    for key in expected_edges(0.0).keys() {
        assert_eq!(count(&key[0], &key[1]), traces, "edge {key:?}");
    }
    assert_eq!(count("checkout", "frontend"), 0, "an edge has a direction");
    assert_eq!(count("cart", "orders"), 0, "orders is checkout's database");
}

fn self_metric(server: &TestServer, name: &str) -> f64 {
    let text = reqwest::blocking::get(server.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[test]
fn span_metrics_and_service_graph_from_a_multi_service_workload() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sightline.toml");
    std::fs::write(
        &config,
        "[collector]\nflush_interval_seconds = 1\nservice_graph_wait_seconds = 2\n",
    )
    .unwrap();
    let store = data.path().join("data");
    let config_arg = config.display().to_string();
    let args = ["--config", config_arg.as_str()];
    let mut server = TestServer::start_in(&store, &args);
    send_workload(&server, REQUESTS);
    check_service_graph(&server, REQUESTS as f64, FAILED_CHARGES as f64);
    check_edge_trace_search(&server, REQUESTS);
    check_span_metrics(&server);
    crate::health_api::check_health_api(&server, REQUESTS as f64, FAILED_CHARGES as f64);
    // Only the calls to the uninstrumented API waited in vain, and nothing was dropped.
    assert_eq!(
        self_metric(&server, "sightline_service_graph_expired_total"),
        REQUESTS as f64
    );

    // A graceful stop flushes; after the restart the counters start over from zero, which
    // PromQL reads as one counter reset.
    assert!(server.terminate().success());
    let server = TestServer::start_in(&store, &args);
    let edges = by_labels(&server, "traces_service_graph_request_total", &EDGE_LABELS);
    assert_eq!(
        edges,
        expected_edges(REQUESTS as f64),
        "history kept across the restart"
    );
    send_workload(&server, REQUESTS / 2);
    check_service_graph(&server, (REQUESTS / 2) as f64, (FAILED_CHARGES / 2) as f64);
    let resets = by_labels(
        &server,
        r#"resets(traces_service_graph_request_total{client="frontend", server="cart"}[10m])"#,
        &[],
    );
    assert_eq!(resets.values().next().copied(), Some(1.0));
    // The health API counts across the restart: both workloads, the reset undone.
    crate::health_api::check_health_api(
        &server,
        (REQUESTS + REQUESTS / 2) as f64,
        (FAILED_CHARGES + FAILED_CHARGES / 2) as f64,
    );
}
