//! Real OpenTelemetry SDK exporters (gRPC, HTTP/protobuf, HTTP/JSON) against the real server,
//! read back field by field through the Jaeger and native APIs.

use std::time::Duration;

use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::Value as Json;

use crate::server::TestServer;

enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

/// Sends a two-span trace with `transport` and returns (trace id, root span id, child span id).
fn send_trace(
    server: &TestServer,
    transport: Transport,
    service: &str,
) -> (String, String, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
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
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .with_attribute(KeyValue::new("deployment.environment", "test"))
                .build(),
        )
        .build();
    let tracer = provider.tracer_with_scope(
        opentelemetry::InstrumentationScope::builder("e2e-scope")
            .with_version("0.1.0")
            .build(),
    );
    let linked = SpanContext::new(
        opentelemetry::trace::TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        opentelemetry::trace::SpanId::from_hex("b7ad6b7169203331").unwrap(),
        opentelemetry::trace::TraceFlags::SAMPLED,
        true,
        Default::default(),
    );
    let mut root = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 503_i64),
            KeyValue::new("order.ratio", 0.75_f64),
            KeyValue::new("order.cached", false),
            KeyValue::new(
                "order.tags",
                Value::Array(Array::String(vec![
                    StringValue::from("a"),
                    StringValue::from("b"),
                ])),
            ),
        ])
        .with_links(vec![Link::with_context(linked)])
        .start(&tracer);
    root.add_event("cache miss", vec![KeyValue::new("cache.key", "orders:1")]);
    root.set_status(Status::error("upstream unavailable"));
    let root_context = root.span_context().clone();
    let parent = opentelemetry::Context::current_with_span(root);
    let mut child = tracer
        .span_builder("SELECT orders")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &parent);
    child.set_attribute(KeyValue::new("db.system", "postgresql"));
    let child_id = child.span_context().span_id().to_string();
    child.end();
    parent.span().end();
    drop(parent);
    provider.force_flush().expect("flush spans to the server");
    provider.shutdown().expect("exporter shutdown");
    (
        root_context.trace_id().to_string(),
        root_context.span_id().to_string(),
        child_id,
    )
}

fn tag<'a>(tags: &'a Json, key: &str) -> &'a Json {
    tags.as_array()
        .and_then(|tags| tags.iter().find(|tag| tag["key"] == key))
        .unwrap_or_else(|| panic!("no tag {key} in {tags}"))
}

fn check_through_jaeger(server: &TestServer, service: &str, ids: &(String, String, String)) {
    let (trace_id, root_id, child_id) = ids;
    let client = reqwest::blocking::Client::new();
    let body: Json = client
        .get(server.url(&format!("/jaeger/api/traces/{trace_id}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let trace = &body["data"][0];
    assert_eq!(trace["traceID"], trace_id.as_str(), "{body}");
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{body}");
    let root = spans
        .iter()
        .find(|span| span["spanID"] == root_id.as_str())
        .expect("root span");
    let child = spans
        .iter()
        .find(|span| span["spanID"] == child_id.as_str())
        .expect("child span");
    assert_eq!(root["operationName"], "GET /orders");
    assert_eq!(child["references"][0]["refType"], "CHILD_OF");
    assert_eq!(child["references"][0]["spanID"], root_id.as_str());
    let follows = root["references"].as_array().unwrap();
    assert!(
        follows
            .iter()
            .any(|reference| reference["refType"] == "FOLLOWS_FROM"
                && reference["spanID"] == "b7ad6b7169203331"),
        "{root}"
    );
    assert!(root["duration"].as_u64().is_some() && root["startTime"].as_u64().is_some());
    let tags = &root["tags"];
    assert_eq!(tag(tags, "http.response.status_code")["type"], "int64");
    assert_eq!(tag(tags, "http.response.status_code")["value"], 503);
    assert_eq!(tag(tags, "order.ratio")["type"], "float64");
    assert_eq!(tag(tags, "order.cached")["value"], false);
    assert_eq!(tag(tags, "error")["value"], true);
    assert_eq!(tag(tags, "span.kind")["value"], "server");
    assert_eq!(
        tag(tags, "otel.status_description")["value"],
        "upstream unavailable"
    );
    assert_eq!(tag(tags, "otel.scope.name")["value"], "e2e-scope");
    let logs = root["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert!(
        logs[0]["fields"].to_string().contains("cache miss"),
        "{}",
        logs[0]
    );
    let process = &trace["processes"][root["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], service);
    assert_eq!(
        tag(&process["tags"], "deployment.environment")["value"],
        "test"
    );
    assert_eq!(tag(&child["tags"], "db.system")["value"], "postgresql");
}

fn check_through_native(server: &TestServer, ids: &(String, String, String)) {
    let (trace_id, root_id, child_id) = ids;
    let client = reqwest::blocking::Client::new();
    let text = client
        .get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for needle in [
        trace_id.as_str(),
        root_id,
        child_id,
        "cache miss",
        "order.ratio",
        "postgresql",
    ] {
        assert!(text.contains(needle), "native trace lacks {needle}: {text}");
    }
}

#[test]
fn sdk_exporters_over_grpc_http_protobuf_and_http_json() {
    let server = TestServer::start();
    for (transport, service) in [
        (Transport::Grpc, "sdk-grpc"),
        (Transport::HttpProtobuf, "sdk-http-protobuf"),
        (Transport::HttpJson, "sdk-http-json"),
    ] {
        let ids = send_trace(&server, transport, service);
        check_through_jaeger(&server, service, &ids);
        check_through_native(&server, &ids);
    }
    let client = reqwest::blocking::Client::new();
    let services: Json = client
        .get(server.url("/jaeger/api/services"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for service in ["sdk-grpc", "sdk-http-protobuf", "sdk-http-json"] {
        assert!(
            services["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|name| name == service),
            "{services}"
        );
    }
}
