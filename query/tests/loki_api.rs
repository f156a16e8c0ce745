//! Loki's query API (`/loki/api/v1`) over [`InMemoryLogs`] fed with OTLP-shaped records
//! through the crate's one record → stream mapping: result shapes (streams, categorized
//! streams, matrix, vector), parameters, metadata endpoints, errors and tenants.
#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use sightline_model::{
    AnyValue, KeyValue, LogRecord, LogRow, Resource, Scope, SpanId, TenantId, TraceId,
};
use sightline_query::logql::InMemoryLogs;
use sightline_query::{loki_router, QueryConfig};
use tower::ServiceExt as _;

/// 2023-11-14T22:13:20Z; every record is within a minute after it.
const T0_SECONDS: u64 = 1_700_000_000;
const SECOND: u64 = 1_000_000_000;

fn row(service: &str, offset_seconds: u64, severity: &str, body: AnyValue, trace: u8) -> LogRow {
    LogRow {
        record: LogRecord {
            time_unix_nano: (T0_SECONDS + offset_seconds) * SECOND,
            severity_text: severity.to_string(),
            body: Some(body),
            attributes: vec![KeyValue::new("http.route", AnyValue::String("/pay".into()))],
            trace_id: Some(TraceId([trace; 16])),
            span_id: Some(SpanId([trace; 8])),
            ..LogRecord::default()
        },
        resource: Arc::new(Resource {
            attributes: vec![
                KeyValue::new("service.name", AnyValue::String(service.into())),
                KeyValue::new("deployment.environment", AnyValue::String("prod".into())),
            ],
            ..Resource::default()
        }),
        scope: Arc::new(Scope::default()),
    }
}

/// checkout: a logfmt line every second for 10 s (every fifth one `ERROR` with status 500);
/// payments: two JSON bodies (a map body, rendered as JSON) at 2 s and 4 s. Tenant `team-b`
/// has one line of its own.
fn app(multi_tenancy: bool) -> axum::Router {
    let logs = InMemoryLogs::new();
    let tenant = TenantId::default_tenant();
    let mut rows = Vec::new();
    for second in 1..=10u64 {
        let (severity, status) = if second % 5 == 0 {
            ("ERROR", 500)
        } else {
            ("INFO", 200)
        };
        let line = format!("status={status} duration={second}ms msg=\"checkout ünïcode {second}\"");
        rows.push(row("checkout", second, severity, AnyValue::String(line), 1));
    }
    for second in [2u64, 4] {
        let body = AnyValue::KvList(vec![
            KeyValue::new("amount", AnyValue::Int(i64::try_from(second * 10).unwrap())),
            KeyValue::new("currency", AnyValue::String("EUR".into())),
        ]);
        rows.push(row("payments", second, "", body, 2));
    }
    logs.push_rows(&tenant, &rows);
    logs.push_rows(
        &TenantId::new("team-b").unwrap(),
        &[row(
            "billing",
            1,
            "WARN",
            AnyValue::String("other tenant".into()),
            3,
        )],
    );
    let config = QueryConfig {
        multi_tenancy,
        ..QueryConfig::default()
    };
    loki_router(Arc::new(logs), config)
}

async fn call(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
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
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

async fn get(app: &axum::Router, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    call(app, &uri(path, params), &[]).await
}

fn uri(path: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    format!("/loki/api/v1/{path}?{}", query.join("&"))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn range(query: &str) -> Vec<(&'static str, String)> {
    vec![
        ("query", query.to_string()),
        ("start", T0_SECONDS.to_string()),
        ("end", ((T0_SECONDS + 60) * SECOND).to_string()),
    ]
}

async fn query_range(
    app: &axum::Router,
    query: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut params: Vec<(&str, String)> = range(query);
    params.extend(extra.iter().map(|(n, v)| (*n, v.to_string())));
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    get(app, "query_range", &borrowed).await
}

#[tokio::test]
async fn log_query_returns_streams_newest_first() {
    let app = app(false);
    let (status, body) =
        query_range(&app, r#"{service_name="checkout"} |= "status=500""#, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resultType"], "streams");
    let result = body["data"]["result"].as_array().unwrap();
    // Without categorize-labels, structured metadata (trace_id, span_id, attributes) is part
    // of the stream's labels, as in Loki.
    assert_eq!(result.len(), 1);
    let stream = &result[0]["stream"];
    assert_eq!(stream["service_name"], "checkout");
    assert_eq!(stream["severity_text"], "error");
    assert_eq!(stream["detected_level"], "error");
    assert_eq!(stream["deployment_environment"], "prod");
    assert_eq!(stream["trace_id"], "01010101010101010101010101010101");
    assert_eq!(stream["http_route"], "/pay");
    let values = result[0]["values"].as_array().unwrap();
    assert_eq!(
        values[0],
        json!([
            ((T0_SECONDS + 10) * SECOND).to_string(),
            "status=500 duration=10ms msg=\"checkout ünïcode 10\""
        ])
    );
    assert_eq!(values.len(), 2);
    assert!(body["data"]["stats"]["summary"]["totalLinesProcessed"].is_u64());
}

#[tokio::test]
async fn limit_direction_and_categorized_labels() {
    let app = app(false);
    let params = range(r#"{service_name=~"checkout|payments"} | logfmt | status=200"#);
    let mut params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    params.extend([("limit", "3"), ("direction", "forward")]);
    let (status, body) = call(
        &app,
        &uri("query_range", &params),
        &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["encodingFlags"], json!(["categorize-labels"]));
    let result = body["data"]["result"].as_array().unwrap();
    let all: Vec<&Value> = result
        .iter()
        .flat_map(|stream| stream["values"].as_array().unwrap())
        .collect();
    assert_eq!(all.len(), 3);
    // Oldest first: checkout at 1 s, then 2 s (checkout; payments' JSON body fails logfmt's
    // status filter), then 3 s.
    assert_eq!(all[0][0], ((T0_SECONDS + 1) * SECOND).to_string());
    let first = &result[0];
    assert_eq!(first["stream"]["service_name"], "checkout");
    assert!(first["stream"].get("trace_id").is_none());
    assert_eq!(
        first["values"][0][2]["structuredMetadata"]["trace_id"],
        "01010101010101010101010101010101"
    );
    assert_eq!(first["values"][0][2]["parsed"]["status"], "200");
}

#[tokio::test]
async fn json_bodies_parse_and_filter() {
    let app = app(false);
    let (status, body) = query_range(
        &app,
        r#"{service_name="payments"} | json | amount > 30 | line_format "{{.amount}} {{.currency}}""#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["values"][0][1], "40 EUR");
    assert_eq!(result[0]["stream"]["detected_level"], "unknown");
}

#[tokio::test]
async fn metric_range_query_returns_a_matrix() {
    let app = app(false);
    let (status, body) = query_range(
        &app,
        r#"sum by (detected_level) (count_over_time({service_name="checkout"}[5s]))"#,
        &[("step", "5")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"], json!({"detected_level": "error"}));
    assert_eq!(
        result[0]["values"],
        json!([[T0_SECONDS + 5, "1"], [T0_SECONDS + 10, "1"]])
    );
    assert_eq!(result[1]["metric"], json!({"detected_level": "info"}));
    assert_eq!(
        result[1]["values"],
        json!([[T0_SECONDS + 5, "4"], [T0_SECONDS + 10, "4"]])
    );
    let (_, rate) = query_range(
        &app,
        r#"sum(rate({service_name="checkout"}[10s]))"#,
        &[("step", "10s")],
    )
    .await;
    assert_eq!(
        rate["data"]["result"][0]["values"][0],
        json!([T0_SECONDS + 10, "1"])
    );
}

#[tokio::test]
async fn instant_query_returns_a_vector() {
    let app = app(false);
    let time = (T0_SECONDS + 10).to_string();
    let (status, body) = get(
        &app,
        "query",
        &[
            (
                "query",
                r#"sum by (service_name) (bytes_over_time({deployment_environment="prod"}[10s]))"#,
            ),
            ("time", &time),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resultType"], "vector");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[1]["metric"], json!({"service_name": "payments"}));
    let payments_bytes = 2 * r#"{"amount":20,"currency":"EUR"}"#.len();
    assert_eq!(
        result[1]["value"],
        json!([T0_SECONDS + 10, payments_bytes.to_string()])
    );
    // Grafana's data source health check.
    let (status, health) = get(
        &app,
        "query",
        &[("query", "vector(1)+vector(1)"), ("time", &time)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(
        health["data"]["result"],
        json!([{"metric": {}, "value": [T0_SECONDS + 10, "2"]}])
    );
    let (status, body) = get(&app, "query", &[("query", r#"{service_name="checkout"}"#)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.as_str().unwrap().contains("range query"), "{body}");
}

#[tokio::test]
async fn metadata_endpoints() {
    let app = app(false);
    let start = T0_SECONDS.to_string();
    let end = (T0_SECONDS + 60).to_string();
    let window = [("start", start.as_str()), ("end", end.as_str())];
    let (status, labels) = get(&app, "labels", &window).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        labels["data"],
        json!([
            "deployment_environment",
            "detected_level",
            "level",
            "service_name",
            "severity_text"
        ])
    );
    let (_, values) = get(&app, "label/service_name/values", &window).await;
    assert_eq!(values["data"], json!(["checkout", "payments"]));
    let mut filtered = window.to_vec();
    filtered.push(("query", r#"{service_name="checkout"}"#));
    let (_, levels) = get(&app, "label/detected_level/values", &filtered).await;
    assert_eq!(levels["data"], json!(["error", "info"]));
    let mut series_params = window.to_vec();
    series_params.push(("match[]", r#"{service_name="payments"}"#));
    let (_, series) = get(&app, "series", &series_params).await;
    assert_eq!(
        series["data"],
        json!([{
            "deployment_environment": "prod",
            "detected_level": "unknown",
            "level": "unknown",
            "service_name": "payments"
        }])
    );
    let (_, stats) = get(&app, "index/stats", &filtered).await;
    assert_eq!(stats["streams"], 2);
    let (_, detected) = get(&app, "detected_labels", &window).await;
    assert!(detected["detectedLabels"]
        .as_array()
        .unwrap()
        .contains(&json!({"label": "service_name", "cardinality": 2})));
    let mut volume_params = window.to_vec();
    volume_params.push(("query", r#"{service_name=~".+"}"#));
    let (status, volume) = get(&app, "index/volume", &volume_params).await;
    assert_eq!(status, StatusCode::OK, "{volume}");
    assert_eq!(
        volume["data"]["result"][0]["metric"],
        json!({"service_name": "checkout"})
    );
    let mut detected_params = window.to_vec();
    detected_params.push(("query", r#"{service_name="checkout"}"#));
    let (status, fields) = get(&app, "detected_fields", &detected_params).await;
    assert_eq!(status, StatusCode::OK, "{fields}");
    let fields = fields["fields"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|f| f["label"] == name).cloned();
    assert_eq!(
        field("status"),
        Some(json!({"label": "status", "type": "int", "cardinality": 2, "parsers": ["logfmt"]}))
    );
    assert_eq!(field("duration").unwrap()["type"], "duration");
    assert_eq!(field("trace_id").unwrap()["parsers"], Value::Null);
    let (_, values) = get(&app, "detected_field/status/values", &detected_params).await;
    assert_eq!(values, json!({"values": ["200", "500"]}));
    let (status, buildinfo) = get(&app, "status/buildinfo", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(buildinfo["version"].as_str().unwrap().starts_with('3'));
}

#[tokio::test]
async fn errors_are_plain_text_400s() {
    let app = app(false);
    let cases = [
        (
            r#"{service_name="checkout"} | pattern "<_>""#,
            "unsupported: | pattern",
        ),
        (r#"{service_name="checkout""#, "parse error at line 1"),
        (
            r#"rate({a="b"}[1m]) or vector(0)"#,
            "unsupported: the or operator",
        ),
        (r#"{a=~"("}"#, "invalid regular expression"),
    ];
    for (query, expected) in cases {
        let (status, body) = query_range(&app, query, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            body.as_str().unwrap().starts_with(expected),
            "{query}: {body}"
        );
    }
    let (status, body) = query_range(&app, r#"{a="b"}"#, &[("limit", "100000")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str().unwrap().contains("max entries limit"),
        "{body}"
    );
    let (status, _) = query_range(&app, r#"{a="b"}"#, &[("direction", "sideways")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = query_range(
        &app,
        r#"sum(count_over_time({a="b"}[1m]))"#,
        &[("step", "0.001")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str().unwrap().contains("maximum resolution"),
        "{body}"
    );
    let (status, body) = query_range(
        &app,
        r#"sum(count_over_time({service_name="checkout"} | json [1m]))"#,
        &[("step", "60")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str().unwrap().starts_with("pipeline error"),
        "{body}"
    );
    let (status, _) = get(&app, "series", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get(&app, "tail", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tenants_come_from_the_header() {
    let app = app(true);
    let params = range(r#"{service_name=~".+"}"#);
    let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, body) = call(
        &app,
        &uri("query_range", &params),
        &[("X-Scope-OrgID", "team-b")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["values"][0][1], "other tenant");
    let (status, _) = call(
        &app,
        &uri("query_range", &params),
        &[("X-Scope-OrgID", "../x")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Without multi-tenancy the header is ignored.
    let single = self::app(false);
    let (_, body) = call(
        &single,
        &uri("query_range", &params),
        &[("X-Scope-OrgID", "team-b")],
    )
    .await;
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn post_form_bodies_are_read() {
    let app = app(false);
    let body = format!(
        "query={}&start={T0_SECONDS}&end={}",
        encode(r#"count_over_time({service_name="payments"}[1m])"#),
        T0_SECONDS + 60
    );
    let response = app
        .clone()
        .oneshot(
            Request::post("/loki/api/v1/query_range")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
