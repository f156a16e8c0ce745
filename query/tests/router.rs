//! The query router against a real store in a temporary directory: status codes, shapes and
//! formats of the native and Jaeger APIs.
#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use prost::Message as _;
use serde_json::{json, Value};
use sightline_model::{
    AnyValue, KeyValue, LogBatch, LogRecord, Resource, ResourceLogs, ResourceSpans, Scope,
    ScopeLogs, ScopeSpans, Span, SpanBatch, SpanId, SpanKind, StatusCode as SpanStatus, TenantId,
};
use sightline_query::{router, QueryConfig};
use sightline_store::{MetricStore, SpanStore, StoreConfig};
use tower::ServiceExt as _;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn span(id: u8, parent: Option<u8>, name: &str, kind: SpanKind, start: u64, end: u64) -> Span {
    Span {
        trace_id: TRACE.parse().unwrap(),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|p| SpanId([p; 8])),
        name: name.to_string(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: vec![KeyValue::new(
            "http.route",
            AnyValue::String("/api/x".into()),
        )],
        ..Span::default()
    }
}

fn resource(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Resource {
            attributes: vec![
                KeyValue::new("service.name", AnyValue::String(service.into())),
                KeyValue::new("host.name", AnyValue::String("h1".into())),
            ],
            ..Resource::default()
        },
        scopes: vec![ScopeSpans {
            scope: Scope {
                name: "lib".into(),
                ..Scope::default()
            },
            spans,
        }],
    }
}

/// A store holding one trace: frontend root (1) → cart server (2, error), stored twice.
async fn metric_store(dir: &tempfile::TempDir) -> MetricStore {
    MetricStore::open(StoreConfig {
        data_dir: dir.path().join("metrics"),
        ..StoreConfig::default()
    })
    .await
    .unwrap()
}

async fn log_store(dir: &tempfile::TempDir) -> sightline_store::LogStore {
    sightline_store::LogStore::open(StoreConfig {
        data_dir: dir.path().join("logs"),
        ..StoreConfig::default()
    })
    .await
    .unwrap()
}

async fn store_with_trace(dir: &tempfile::TempDir) -> SpanStore {
    let store = SpanStore::open(StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let start = now_nanos() - 5_000_000_000;
    let mut failing = span(
        2,
        Some(1),
        "GET /cart",
        SpanKind::Server,
        start + 1_000_000,
        start + 9_000_000,
    );
    failing.status_code = SpanStatus::Error;
    let batch = SpanBatch {
        resources: vec![
            resource(
                "frontend",
                vec![span(
                    1,
                    None,
                    "GET /",
                    SpanKind::Server,
                    start,
                    start + 10_000_000,
                )],
            ),
            resource("cart", vec![failing]),
        ],
    };
    let tenant = TenantId::default_tenant();
    store.append(&tenant, batch.clone()).await.unwrap();
    store.append(&tenant, batch).await.unwrap();
    store
}

async fn get(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, Vec<u8>) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

async fn get_json(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let (status, body) = get(app, uri, &[]).await;
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| panic!("{uri}: not json: {}", String::from_utf8_lossy(&body))),
    )
}

#[tokio::test]
async fn native_trace_formats_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(
        store_with_trace(&dir).await,
        metric_store(&dir).await,
        log_store(&dir).await,
        QueryConfig::default(),
    );

    let (status, json) = get_json(&app, &format!("/api/v1/traces/{TRACE}")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["spanCount"], 2, "duplicates are dropped: {json}");
    assert_eq!(json["duplicateSpanCount"], 2);
    assert_eq!(json["errorCount"], 1);
    assert_eq!(json["rootServiceName"], "frontend");
    assert_eq!(json["spans"][1]["parentSpanId"], "0101010101010101");

    let (status, body) = get(
        &app,
        &format!("/api/v1/traces/{TRACE}"),
        &[("accept", "application/x-protobuf")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let data = opentelemetry_proto::tonic::trace::v1::TracesData::decode(body.as_slice()).unwrap();
    let spans: usize = data
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(spans, 2);

    let (status, json) = get_json(&app, &format!("/api/v1/traces/{TRACE}?format=otlp")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["resourceSpans"].as_array().unwrap().len(), 2, "{json}");

    let (status, json) = get_json(&app, "/api/v1/traces/1234").await;
    assert_eq!(
        (
            status,
            json["error"].as_str().unwrap().contains("not found")
        ),
        (StatusCode::NOT_FOUND, true)
    );
    let (status, json) = get_json(&app, "/api/v1/traces/xyz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
}

#[tokio::test]
async fn native_search() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(
        store_with_trace(&dir).await,
        metric_store(&dir).await,
        log_store(&dir).await,
        QueryConfig::default(),
    );

    let (status, json) = get_json(&app, "/api/v1/traces?service=cart&status=error&minDuration=1ms&attributes=http.route%3D%2Fapi%2Fx").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["traces"][0]["traceId"], TRACE, "{json}");
    assert_eq!(json["traces"][0]["rootSpanName"], "GET /");
    assert_eq!(json["traces"][0]["spanCount"], 2);

    let (_, json) = get_json(&app, "/api/v1/traces?service=cart&minDuration=1s").await;
    assert_eq!(json["traces"], json!([]));

    let (status, json) = get_json(&app, "/api/v1/traces?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json["error"].as_str().unwrap().contains("limit"), "{json}");
}

/// Reads from parts and log indexes are charged to the request's scan budget; past it the
/// query is refused with a 400 naming the setting, and the next request starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_budget_bounds_what_a_request_reads() {
    let dir = tempfile::tempdir().unwrap();
    let spans = store_with_trace(&dir).await;
    spans.flush().await.unwrap();
    let logs = log_store(&dir).await;
    let record = LogRecord {
        time_unix_nano: now_nanos() - 1_000_000_000,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue::String("budgeted zebracorn".into())),
        ..LogRecord::default()
    };
    let batch = LogBatch {
        resources: vec![ResourceLogs {
            resource: Resource {
                attributes: vec![KeyValue::new(
                    "service.name",
                    AnyValue::String("frontend".into()),
                )],
                ..Resource::default()
            },
            scopes: vec![ScopeLogs {
                scope: Scope::default(),
                logs: vec![record],
            }],
        }],
    };
    logs.append(&TenantId::default_tenant(), batch)
        .await
        .unwrap();
    logs.flush().await.unwrap();
    let metrics = metric_store(&dir).await;
    let app = |limit| {
        router(
            spans.clone(),
            metrics.clone(),
            logs.clone(),
            QueryConfig {
                max_bytes_scanned_per_query: limit,
                ..QueryConfig::default()
            },
        )
    };
    let queries = [
        "/api/v1/traces?service=cart".to_string(),
        format!("/api/v1/traces/{TRACE}"),
        "/api/v1/logs?q=zebracorn".to_string(),
    ];
    let (tight, roomy) = (app(16), app(0));
    for query in &queries {
        let (status, json) = get_json(&tight, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {json}");
        let message = json["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("query.max_bytes_scanned_per_query"),
            "{query}: {json}"
        );
        let (status, json) = get_json(&roomy, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {json}");
    }
}

#[tokio::test]
async fn jaeger_api() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(
        store_with_trace(&dir).await,
        metric_store(&dir).await,
        log_store(&dir).await,
        QueryConfig::default(),
    );

    let (_, json) = get_json(&app, "/jaeger/api/services").await;
    assert_eq!(
        json,
        json!({"data": ["cart", "frontend"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let (_, json) = get_json(&app, "/jaeger/api/services/cart/operations").await;
    assert_eq!(json["data"], json!(["GET /cart"]));
    let (_, json) = get_json(&app, "/jaeger/api/operations?service=cart&spanKind=server").await;
    assert_eq!(
        json["data"],
        json!([{"name": "GET /cart", "spanKind": "server"}])
    );

    let (status, json) = get_json(&app, &format!("/jaeger/api/traces/{TRACE}")).await;
    assert_eq!(status, StatusCode::OK);
    let trace = &json["data"][0];
    assert_eq!(trace["traceID"], TRACE);
    assert_eq!(trace["spans"].as_array().unwrap().len(), 2);
    assert_eq!(trace["processes"]["p1"]["serviceName"], "frontend");
    assert_eq!(
        trace["processes"]["p2"]["tags"],
        json!([{"key": "host.name", "type": "string", "value": "h1"}])
    );

    let (_, json) = get_json(&app, "/jaeger/api/traces?service=cart&tags=%7B%22http.route%22%3A%22%2Fapi%2Fx%22%7D&lookback=1h").await;
    assert_eq!(json["data"][0]["traceID"], TRACE, "{json}");

    let (status, json) = get_json(&app, "/jaeger/api/traces/1234").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        json,
        json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "trace not found"}]})
    );
    let (status, json) = get_json(&app, "/jaeger/api/traces?lookback=1h").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["errors"][0]["code"], 400);
}

#[tokio::test]
async fn tenants_are_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let config = QueryConfig {
        multi_tenancy: true,
        ..QueryConfig::default()
    };
    let app = router(
        store_with_trace(&dir).await,
        metric_store(&dir).await,
        log_store(&dir).await,
        config,
    );
    let uri = format!("/api/v1/traces/{TRACE}");
    assert_eq!(get(&app, &uri, &[]).await.0, StatusCode::OK);
    assert_eq!(
        get(&app, &uri, &[("X-Scope-OrgID", "default")]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &uri, &[("X-Scope-OrgID", "team-b")]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &uri, &[("X-Scope-OrgID", "../x")]).await.0,
        StatusCode::BAD_REQUEST
    );
}
