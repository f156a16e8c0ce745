//! Health checks end to end: an HTTP server, TCP listeners and a gRPC server with the health
//! service, started here on loopback; targets from the config file and from the API; the
//! series checked through the Prometheus API as they succeed, fail and go stale; the
//! API-created target still there after a restart.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{json, Value as Json};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;

use crate::server::TestServer;

/// The label names every probe series has, besides `__name__`.
const LABELS: [&str; 5] = ["check", "instance", "job", "probe", "service"];

/// The servers the probes look at.
struct Targets {
    runtime: Runtime,
    http: SocketAddr,
    http_status: Arc<AtomicU16>,
    tcp: SocketAddr,
    tcp_task: JoinHandle<()>,
    api_tcp: SocketAddr,
    grpc: SocketAddr,
    grpc_health: tonic_health::server::HealthReporter,
}

/// Accepts and drops connections until aborted (which closes the listener).
async fn accept_forever(listener: TcpListener) {
    while let Ok((socket, _)) = listener.accept().await {
        drop(socket);
    }
}

impl Targets {
    fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let http_status = Arc::new(AtomicU16::new(200));
        let status = http_status.clone();
        let (http, tcp, tcp_task, api_tcp, grpc, grpc_health) = runtime.block_on(async move {
            let router = axum::Router::new().route(
                "/healthz",
                get(move || async move {
                    StatusCode::from_u16(status.load(Ordering::Relaxed)).unwrap()
                }),
            );
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let http = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await });

            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let tcp = listener.local_addr().unwrap();
            let tcp_task = tokio::spawn(accept_forever(listener));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let api_tcp = listener.local_addr().unwrap();
            tokio::spawn(accept_forever(listener));

            let (reporter, service) = tonic_health::server::health_reporter();
            reporter
                .set_service_status("shop.Cart", ServingStatus::Serving)
                .await;
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let grpc = listener.local_addr().unwrap();
            tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(
                service,
                tokio_stream::wrappers::TcpListenerStream::new(listener),
            ));
            (http, tcp, tcp_task, api_tcp, grpc, reporter)
        });
        Self {
            runtime,
            http,
            http_status,
            tcp,
            tcp_task,
            api_tcp,
            grpc,
            grpc_health,
        }
    }

    fn config(&self) -> String {
        format!(
            r#"
[[health_checks]]
name = "web"
service = "frontend"
probe = "http"
url = "http://{http}/healthz"
interval = "1s"

[[health_checks]]
name = "db"
service = "orders"
probe = "tcp"
address = "{tcp}"
interval = "1s"
timeout = "500ms"

[[health_checks]]
name = "cart"
service = "cart"
probe = "grpc"
address = "{grpc}"
grpc_service = "shop.Cart"
interval = "1s"
"#,
            http = self.http,
            tcp = self.tcp,
            grpc = self.grpc,
        )
    }

    /// Makes every config-file target fail: HTTP 500, the TCP listener closed, NOT_SERVING.
    fn break_config_targets(&self) {
        self.http_status.store(500, Ordering::Relaxed);
        self.tcp_task.abort();
        let reporter = self.grpc_health.clone();
        self.runtime.block_on(async move {
            reporter
                .set_service_status("shop.Cart", ServingStatus::NotServing)
                .await;
        });
    }
}

/// Runs an instant PromQL query; `data.result` by the probe labels.
fn query(server: &TestServer, promql: &str) -> BTreeMap<Vec<String>, f64> {
    let body: Json = reqwest::blocking::Client::new()
        .get(server.url("/prometheus/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["status"], "success", "{promql}: {body}");
    let mut results = BTreeMap::new();
    for series in body["data"]["result"].as_array().unwrap() {
        let metric = series["metric"].as_object().unwrap();
        let mut names: Vec<&str> = metric
            .keys()
            .map(String::as_str)
            .filter(|name| *name != "__name__")
            .collect();
        names.sort_unstable();
        assert_eq!(
            names, LABELS,
            "{promql}: exactly the contract labels: {series}"
        );
        let key = LABELS
            .iter()
            .map(|label| metric[*label].as_str().unwrap().to_string())
            .collect();
        let value = series["value"][1].as_str().unwrap().parse().unwrap();
        results.insert(key, value);
    }
    results
}

/// Polls `promql` until `done` holds for its result (20 s at most).
fn wait_for(
    server: &TestServer,
    promql: &str,
    what: &str,
    done: impl Fn(&BTreeMap<Vec<String>, f64>) -> bool,
) -> BTreeMap<Vec<String>, f64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let results = query(server, promql);
        if done(&results) {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last result of {promql}: {results:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn api(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Json>,
) -> (u16, Json) {
    let mut request = reqwest::blocking::Client::new()
        .request(method, server.url(&format!("/api/v1/health-checks{path}")));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

fn self_metric(server: &TestServer, name: &str) -> Option<f64> {
    let text = reqwest::blocking::get(server.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
}

/// Each service of `/api/v1/services` with its status and reasons.
fn service_health(server: &TestServer) -> BTreeMap<String, (String, Vec<String>)> {
    let body: Json = reqwest::blocking::get(server.url("/api/v1/services"))
        .unwrap()
        .json()
        .unwrap();
    body["services"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|service| {
            let reasons = service["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|reason| reason.as_str().unwrap().to_string())
                .collect();
            (
                service["name"].as_str().unwrap().to_string(),
                (service["status"].as_str().unwrap().to_string(), reasons),
            )
        })
        .collect()
}

fn key(check: &str, instance: &str, probe: &str, service: &str) -> Vec<String> {
    [check, instance, "health_check", probe, service]
        .map(str::to_string)
        .to_vec()
}

#[test]
fn health_checks_probe_config_and_api_targets() {
    let targets = Targets::start();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sightline.toml");
    std::fs::write(&config, targets.config()).unwrap();
    let store = data.path().join("data");
    let config_arg = config.display().to_string();
    let args = ["--config", config_arg.as_str()];
    let mut server = TestServer::start_in(&store, &args);

    let api_tcp = targets.api_tcp.to_string();
    let (status, created) = api(
        &server,
        reqwest::Method::POST,
        "",
        Some(
            json!({"name": "api-db", "service": "billing", "probe": "tcp", "address": api_tcp, "interval": "1s"}),
        ),
    );
    assert_eq!(status, 201, "{created}");
    let (status, _) = api(
        &server,
        reqwest::Method::POST,
        "",
        Some(
            json!({"name": "api-temp", "service": "billing", "probe": "tcp", "address": api_tcp, "interval": "1s"}),
        ),
    );
    assert_eq!(status, 201);
    let (status, _) = api(
        &server,
        reqwest::Method::POST,
        "",
        Some(json!({"name": "web", "service": "x", "probe": "tcp", "address": api_tcp})),
    );
    assert_eq!(status, 409, "a config-file name is taken");

    // Every target up.
    let http_url = format!("http://{}/healthz", targets.http);
    let (tcp, grpc) = (targets.tcp.to_string(), targets.grpc.to_string());
    let expected_up: BTreeMap<Vec<String>, f64> = [
        (key("api-db", &api_tcp, "tcp", "billing"), 1.0),
        (key("api-temp", &api_tcp, "tcp", "billing"), 1.0),
        (key("cart", &grpc, "grpc", "cart"), 1.0),
        (key("db", &tcp, "tcp", "orders"), 1.0),
        (key("web", &http_url, "http", "frontend"), 1.0),
    ]
    .into();
    wait_for(&server, "probe_success", "every target up", |results| {
        *results == expected_up
    });
    let durations = query(&server, "probe_duration_seconds");
    assert_eq!(
        durations.keys().collect::<Vec<_>>(),
        expected_up.keys().collect::<Vec<_>>()
    );
    assert!(
        durations
            .values()
            .all(|seconds| *seconds > 0.0 && *seconds < 1.0),
        "{durations:?}"
    );

    // The health API lists the probed services with their checks, all up.
    let services = service_health(&server);
    assert_eq!(
        services.keys().collect::<Vec<_>>(),
        ["billing", "cart", "frontend", "orders"]
    );
    assert!(
        services.values().all(|(status, _)| status == "healthy"),
        "{services:?}"
    );

    // A deleted target's series go stale at once.
    let (status, _) = api(&server, reqwest::Method::DELETE, "/api-temp", None);
    assert_eq!(status, 204);
    wait_for(
        &server,
        r#"probe_success{check="api-temp"}"#,
        "stale after delete",
        |results| results.is_empty(),
    );

    // Every config-file target down.
    targets.break_config_targets();
    wait_for(
        &server,
        "probe_success == 0",
        "config targets down",
        |results| {
            results.len() == 3 && !results.contains_key(&key("api-db", &api_tcp, "tcp", "billing"))
        },
    );
    // A failing check makes its service unhealthy in the health API, and says which.
    let services = service_health(&server);
    for (service, check) in [("frontend", "web"), ("orders", "db"), ("cart", "cart")] {
        assert_eq!(
            services[service],
            (
                "unhealthy".to_string(),
                vec![format!("health check \"{check}\" failing")]
            ),
            "{services:?}"
        );
    }
    assert_eq!(services["billing"].0, "healthy");

    let (status, list) = api(&server, reqwest::Method::GET, "", None);
    assert_eq!(status, 200);
    let errors: BTreeMap<String, (String, Json)> = list["health_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let name = item["name"].as_str().unwrap().to_string();
            let source = item["source"].as_str().unwrap().to_string();
            (name, (source, item["last_result"].clone()))
        })
        .collect();
    assert_eq!(errors.len(), 4, "{list}");
    let last = |name: &str| &errors[name].1;
    assert_eq!(last("api-db")["success"], true, "{list}");
    assert_eq!(last("api-db")["error"], Json::Null);
    assert!(last("api-db")["time_unix_ms"].as_i64().unwrap() > 0);
    assert!(last("api-db")["duration_seconds"].as_f64().unwrap() > 0.0);
    let failure = |name: &str| last(name)["error"].as_str().unwrap_or("").to_string();
    assert_eq!(last("web")["success"], false);
    assert_eq!(failure("web"), "status 500, expected 2xx");
    assert!(
        failure("db").starts_with(&format!("connect {tcp}")),
        "{list}"
    );
    assert_eq!(failure("cart"), "status NOT_SERVING, expected SERVING");
    assert_eq!(errors["web"].0, "config");
    assert_eq!(errors["api-db"].0, "api");
    assert_eq!(self_metric(&server, "sightline_health_checks"), Some(4.0));

    // The API-created target survives a restart.
    assert!(server.terminate().success());
    let server = TestServer::start_in(&store, &args);
    let (status, kept) = api(&server, reqwest::Method::GET, "/api-db", None);
    assert_eq!(status, 200);
    assert_eq!(kept["source"], "api");
    assert_eq!(kept["address"], api_tcp);
    let (status, _) = api(&server, reqwest::Method::GET, "/api-temp", None);
    assert_eq!(status, 404);
    wait_for(
        &server,
        r#"probe_success{check="api-db"}"#,
        "probed again after the restart",
        |results| results.values().all(|value| *value == 1.0) && results.len() == 1,
    );
    let (status, error) = api(&server, reqwest::Method::DELETE, "/web", None);
    assert_eq!(status, 400, "config-file targets are read-only: {error}");
}
