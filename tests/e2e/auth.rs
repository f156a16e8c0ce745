//! Authentication end to end: bearer tokens from the config file and the API, on every
//! listener — OTLP/gRPC (a real SDK exporter with `authorization` metadata, and a raw client
//! for the status codes), OTLP/HTTP, and the query port — with scopes (401 without a known
//! token, 403 without the scope) and a tenant per token that no query can cross.

use std::time::Duration;

use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::{json, Value};

use crate::fixtures::{now_nanos, single_span, trace_id_hex};
use crate::server::TestServer;

const INGEST_A: &str = "ingest-secret-team-a-0001";
const READ_A: &str = "read-secret-team-a-000001";
const INGEST_READ_B: &str = "both-secret-team-b-000001";
const ADMIN: &str = "admin-secret-00000000001";

fn config() -> String {
    let admin_digest = {
        use std::fmt::Write as _;
        // The admin token is configured by its SHA-256 only.
        let digest = sha256(ADMIN.as_bytes());
        digest.iter().fold(String::new(), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
    };
    format!(
        r#"
[[auth.tokens]]
name = "collector-a"
tenant = "team-a"
scopes = ["ingest"]
secret = "{INGEST_A}"

[[auth.tokens]]
name = "grafana-a"
tenant = "team-a"
scopes = ["read"]
secret = "{READ_A}"

[[auth.tokens]]
name = "team-b"
tenant = "team-b"
scopes = ["ingest", "read"]
secret = "{INGEST_READ_B}"

[[auth.tokens]]
name = "root"
scopes = ["admin"]
secret = "sha256:{admin_digest}"
"#
    )
}

/// SHA-256, by `sha256sum` (the test binary does not link a hash crate).
fn sha256(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    hex::decode(text.split_whitespace().next().unwrap()).unwrap()
}

/// Whether the server logs a line containing `text` within a few seconds (start-up lines
/// after "listening" may still be on their way to the test's log reader).
fn logged(server: &TestServer, text: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if server.logs().iter().any(|line| line.contains(text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

/// Posts a one-span trace over OTLP/HTTP with `authorization`; returns the status.
fn post_span(
    server: &TestServer,
    authorization: Option<&str>,
    trace_id: &str,
    service: &str,
) -> u16 {
    let body = single_span(
        trace_id,
        "00f067aa0ba902b7",
        service,
        "GET /",
        now_nanos() - 60_000_000_000,
    );
    let mut request = reqwest::blocking::Client::new()
        .post(server.otlp_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().unwrap().status().as_u16()
}

fn get(server: &TestServer, path: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::blocking::Client::new().get(server.url(path));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Exports one span through the real SDK over gRPC with `authorization` metadata.
fn sdk_grpc_span(server: &TestServer, secret: &str, service: &str) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", bearer(secret).parse().unwrap());
    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", server.grpc))
        .with_metadata(metadata)
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .build(),
        )
        .build();
    let mut span = provider.tracer("auth-e2e").start("grpc span");
    let trace_id = span.span_context().trace_id().to_string();
    span.end();
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    trace_id
}

/// The gRPC status code of a raw export with `authorization` (0 when accepted).
fn raw_grpc_code(server: &TestServer, authorization: Option<&str>) -> tonic::Code {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
            .await
            .unwrap();
        let mut request = tonic::Request::new(ExportTraceServiceRequest::default());
        if let Some(authorization) = authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.parse().unwrap());
        }
        match client.export(request).await {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        }
    })
}

fn wait_for_trace(server: &TestServer, trace_id: &str, authorization: &str) -> Value {
    let path = format!("/api/v1/traces/{trace_id}");
    poll_get(server, &path, authorization, |_| true)
}

/// GETs `path_and_query` with `authorization` until it answers 200 with a body `accept`
/// takes, or panics after 30 s.
fn poll_get(
    server: &TestServer,
    path_and_query: &str,
    authorization: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(server, path_and_query, Some(authorization));
        if status == 200 && accept(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path_and_query} never gave what was expected: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn tokens_scopes_and_tenants_on_every_listener() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("sightline.toml");
    std::fs::write(&config_path, config()).unwrap();
    let config_arg = config_path.display().to_string();
    let server = TestServer::start_in(&dir.path().join("data"), &["--config", config_arg.as_str()]);
    assert!(
        logged(&server, "authentication on"),
        "start-up says authentication is on"
    );

    // OTLP/HTTP: 401 without a known token, 403 without ingest, accepted with it.
    let trace_a = trace_id_hex(1);
    assert_eq!(post_span(&server, None, &trace_a, "checkout"), 401);
    assert_eq!(
        post_span(
            &server,
            Some(&bearer("wrong-secret-000000000")),
            &trace_a,
            "checkout"
        ),
        401
    );
    assert_eq!(
        post_span(&server, Some(&bearer(READ_A)), &trace_a, "checkout"),
        403
    );
    assert_eq!(
        post_span(&server, Some(&bearer(INGEST_A)), &trace_a, "checkout"),
        200
    );
    // A non-admin token cannot pick another tenant with X-Scope-OrgID: the span stays in team-a.
    let pinned = trace_id_hex(2);
    let status = reqwest::blocking::Client::new()
        .post(server.otlp_url("/v1/traces"))
        .header("content-type", "application/json")
        .header("authorization", bearer(INGEST_A))
        .header("x-scope-orgid", "team-b")
        .body(
            single_span(
                &pinned,
                "00f067aa0ba902b8",
                "checkout",
                "GET /",
                now_nanos() - 60_000_000_000,
            )
            .to_string(),
        )
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);

    // OTLP/gRPC: the status codes, and a real SDK exporter with metadata.
    assert_eq!(raw_grpc_code(&server, None), tonic::Code::Unauthenticated);
    assert_eq!(
        raw_grpc_code(&server, Some(&bearer(READ_A))),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        raw_grpc_code(&server, Some(&bearer(INGEST_A))),
        tonic::Code::Ok
    );
    let grpc_b = sdk_grpc_span(&server, INGEST_READ_B, "billing");

    // The query port: open health endpoints, 401/403, and each token reads its own tenant.
    assert_eq!(get(&server, "/healthz", None).0, 200);
    assert_eq!(get(&server, "/readyz", None).0, 200);
    assert_eq!(get(&server, "/metrics", None).0, 401);
    assert_eq!(get(&server, "/metrics", Some(&bearer(READ_A))).0, 200);
    let (status, body) = get(&server, &format!("/api/v1/traces/{trace_a}"), None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/traces/{trace_a}"),
            Some(&bearer(INGEST_A))
        )
        .0,
        403
    );
    let trace = wait_for_trace(&server, &trace_a, &bearer(READ_A));
    assert_eq!(trace["spans"][0]["serviceName"], "checkout", "{trace}");
    wait_for_trace(&server, &pinned, &bearer(READ_A));
    wait_for_trace(&server, &grpc_b, &bearer(INGEST_READ_B));
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/traces/{trace_a}"),
            Some(&bearer(INGEST_READ_B))
        )
        .0,
        404
    );
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/traces/{pinned}"),
            Some(&bearer(INGEST_READ_B))
        )
        .0,
        404
    );
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/traces/{grpc_b}"),
            Some(&bearer(READ_A))
        )
        .0,
        404
    );
    let (_, services_a) = get(&server, "/jaeger/api/services", Some(&bearer(READ_A)));
    assert_eq!(services_a["data"], json!(["checkout"]));
    let (_, services_b) = get(
        &server,
        "/jaeger/api/services",
        Some(&bearer(INGEST_READ_B)),
    );
    assert_eq!(services_b["data"], json!(["billing"]));
    // The header cannot cross tenants for a non-admin reader; the admin can.
    let crossing = reqwest::blocking::Client::new()
        .get(server.url("/jaeger/api/services"))
        .header("authorization", bearer(READ_A))
        .header("x-scope-orgid", "team-b")
        .header("x-sightline-authenticated-tenant", "team-b")
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(crossing["data"], json!(["checkout"]));
    let admin_b = reqwest::blocking::Client::new()
        .get(server.url("/jaeger/api/services"))
        .header("authorization", bearer(ADMIN))
        .header("x-scope-orgid", "team-b")
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(admin_b["data"], json!(["billing"]));

    // Changes need admin.
    let client = reqwest::blocking::Client::new();
    let rule = json!({"name": "X", "expr": "vector(1)"});
    let as_reader = client
        .post(server.url("/api/v1/alerts/rules"))
        .header("authorization", bearer(READ_A))
        .json(&rule)
        .send()
        .unwrap();
    assert_eq!(as_reader.status(), 403);

    // Tokens through the API: only admin; a new token works at once; deleted, it stops.
    assert_eq!(get(&server, "/api/v1/tokens", Some(&bearer(READ_A))).0, 403);
    let (status, listed) = get(&server, "/api/v1/tokens", Some(&bearer(ADMIN)));
    assert_eq!(status, 200);
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 4);
    assert!(
        !listed.to_string().contains(INGEST_A),
        "secrets are never listed"
    );
    let created: Value = client
        .post(server.url("/api/v1/tokens"))
        .header("authorization", bearer(ADMIN))
        .json(&json!({"name": "ci", "tenant": "team-b", "scopes": ["read"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("slt_"), "{created}");
    let (_, services) = get(&server, "/jaeger/api/services", Some(&bearer(&secret)));
    assert_eq!(services["data"], json!(["billing"]));
    let deleted = client
        .delete(server.url("/api/v1/tokens/ci"))
        .header("authorization", bearer(ADMIN))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        get(&server, "/jaeger/api/services", Some(&bearer(&secret))).0,
        401
    );
    let read_only = client
        .delete(server.url("/api/v1/tokens/root"))
        .header("authorization", bearer(ADMIN))
        .send()
        .unwrap();
    assert_eq!(read_only.status(), 400);
}

#[test]
fn without_tokens_everything_is_open_until_the_first_is_made() {
    let server = TestServer::start();
    assert!(logged(&server, "authentication off"));
    assert_eq!(post_span(&server, None, &trace_id_hex(3), "open"), 200);
    assert_eq!(get(&server, "/jaeger/api/services", None).0, 200);
    let created: Value = reqwest::blocking::Client::new()
        .post(server.url("/api/v1/tokens"))
        .json(&json!({"name": "first-admin", "scopes": ["admin"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(get(&server, "/jaeger/api/services", None).0, 401);
    assert_eq!(post_span(&server, None, &trace_id_hex(4), "open"), 401);
    assert_eq!(
        get(&server, "/jaeger/api/services", Some(&bearer(&secret))).0,
        200
    );
}

/// Sends, as `secret`'s tenant, a gauge `queue_depth` of `value`, a log line and a server span
/// for `service`, all over OTLP/HTTP.
fn send_tenant_data(server: &TestServer, secret: &str, service: &str, value: f64) {
    let client = reqwest::blocking::Client::new();
    let resource =
        json!({"attributes": [{"key": "service.name", "value": {"stringValue": service}}]});
    let now = now_nanos();
    let bodies = [
        (
            "/v1/metrics",
            json!({"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [{
                "name": "queue_depth",
                "gauge": {"dataPoints": [{"asDouble": value, "timeUnixNano": now.to_string()}]}
            }]}]}]}),
        ),
        (
            "/v1/logs",
            json!({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [{
                "timeUnixNano": now.to_string(), "severityText": "INFO",
                "body": {"stringValue": format!("hello from {service}")}
            }]}]}]}),
        ),
        (
            "/v1/traces",
            single_span(
                &trace_id_hex(value as u64),
                "00f067aa0ba902b9",
                service,
                "GET /",
                now - 5_000_000,
            ),
        ),
    ];
    for (path, body) in bodies {
        let status = client
            .post(server.otlp_url(path))
            .header("authorization", bearer(secret))
            .json(&body)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }
}

/// GETs `path` with `query` as `secret`, until `accept` holds for the JSON answer.
fn read_until(
    server: &TestServer,
    secret: &str,
    path: &str,
    query: &[(&str, &str)],
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let url = reqwest::Url::parse_with_params(&server.url(path), query).unwrap();
    let path_and_query = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    poll_get(server, &path_and_query, &bearer(secret), accept)
}

#[test]
fn every_api_answers_only_the_tokens_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("sightline.toml");
    std::fs::write(
        &config_path,
        format!("[collector]\nflush_interval_seconds = 1\n{}", config()),
    )
    .unwrap();
    let config_arg = config_path.display().to_string();
    let server = TestServer::start_in(&dir.path().join("data"), &["--config", config_arg.as_str()]);
    send_tenant_data(&server, INGEST_A, "checkout", 1.0);
    send_tenant_data(&server, INGEST_READ_B, "billing", 2.0);
    let now = now_nanos();
    let (start, end) = (
        (now - 3_600_000_000_000).to_string(),
        (now + 60_000_000_000).to_string(),
    );
    for (secret, service, value) in [(READ_A, "checkout", "1"), (INGEST_READ_B, "billing", "2")] {
        // Prometheus: the tenant's series only, and its label values.
        let answer = read_until(
            &server,
            secret,
            "/prometheus/api/v1/query",
            &[("query", "queue_depth")],
            |body| !body["data"]["result"].as_array().unwrap().is_empty(),
        );
        let result = answer["data"]["result"].as_array().unwrap();
        assert_eq!(result.len(), 1, "{answer}");
        assert_eq!(result[0]["value"][1], value);
        assert_eq!(result[0]["metric"]["job"], service);
        let jobs = read_until(
            &server,
            secret,
            "/prometheus/api/v1/label/job/values",
            &[],
            |_| true,
        );
        assert!(
            !jobs["data"].to_string().contains(if service == "checkout" {
                "billing"
            } else {
                "checkout"
            }),
            "{jobs}"
        );
        // Loki and the native log search: the tenant's lines only.
        let loki = read_until(
            &server,
            secret,
            "/loki/api/v1/query_range",
            &[
                ("query", "{service_name=~\".+\"}"),
                ("start", &start),
                ("end", &end),
            ],
            |body| !body["data"]["result"].as_array().unwrap().is_empty(),
        );
        let streams = loki["data"]["result"].as_array().unwrap();
        assert_eq!(streams.len(), 1, "{loki}");
        assert_eq!(streams[0]["stream"]["service_name"], service);
        let logs = read_until(&server, secret, "/api/v1/logs", &[("q", "hello")], |body| {
            !body["records"].as_array().unwrap().is_empty()
        });
        let records = logs["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{logs}");
        assert!(
            records[0]
                .to_string()
                .contains(&format!("hello from {service}")),
            "{logs}"
        );
        // Jaeger, the native search and service health: the tenant's services only.
        let services = read_until(&server, secret, "/jaeger/api/services", &[], |body| {
            !body["data"].as_array().unwrap().is_empty()
        });
        assert_eq!(services["data"], json!([service]));
        let search = read_until(&server, secret, "/api/v1/traces", &[], |body| {
            !body.to_string().is_empty()
        });
        let other = if service == "checkout" {
            "billing"
        } else {
            "checkout"
        };
        assert!(!search.to_string().contains(other), "{search}");
        let health = read_until(&server, secret, "/api/v1/services", &[], |body| {
            body.to_string().contains(service)
        });
        assert!(!health.to_string().contains(other), "{health}");
    }
}
