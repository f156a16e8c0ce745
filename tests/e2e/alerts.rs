//! Alerting end to end: a Prometheus rule file and API rules evaluated every second over a
//! gauge sent by OTLP/HTTP; the alert goes pending, fires, survives a restart without firing
//! again, and resolves; a webhook receiver that fails three times and then recovers, a dead
//! one whose circuit breaker opens, and a real Alertmanager (`/usr/bin/prometheus-alertmanager`,
//! Debian package `prometheus-alertmanager`) that receives the alerts and routes them on.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::fixtures::{now_nanos, single_span, trace_id_hex};
use crate::process::ExternalProcess;
use crate::server::TestServer;

const ALERTMANAGER_BINARY: &str = "/usr/bin/prometheus-alertmanager";
/// Long enough for a cold CI machine; every wait polls and stops as soon as it holds.
const WAIT: Duration = Duration::from_secs(40);

/// The HTTP endpoints notifications go to, with what each received.
struct Receivers {
    _runtime: Runtime,
    address: SocketAddr,
    /// Bodies `/hook` accepted (it fails its first three requests with 500).
    hook: Arc<Mutex<Vec<Value>>>,
    hook_requests: Arc<AtomicUsize>,
    /// Bodies Alertmanager posted to `/am-hook`.
    alertmanager_hook: Arc<Mutex<Vec<Value>>>,
    /// Requests to `/dead`, which always answers 503.
    dead_requests: Arc<AtomicUsize>,
}

impl Receivers {
    fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let hook = Arc::new(Mutex::new(Vec::new()));
        let hook_requests = Arc::new(AtomicUsize::new(0));
        let alertmanager_hook = Arc::new(Mutex::new(Vec::new()));
        let dead_requests = Arc::new(AtomicUsize::new(0));
        let (hook_sink, hook_count) = (hook.clone(), hook_requests.clone());
        let am_sink = alertmanager_hook.clone();
        let dead_count = dead_requests.clone();
        let router = axum::Router::new()
            .route(
                "/hook",
                post(move |Json(body): Json<Value>| async move {
                    if hook_count.fetch_add(1, Ordering::SeqCst) < 3 {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    hook_sink.lock().unwrap().push(body);
                    StatusCode::OK
                }),
            )
            .route(
                "/am-hook",
                post(move |Json(body): Json<Value>| async move {
                    am_sink.lock().unwrap().push(body);
                    StatusCode::OK
                }),
            )
            .route(
                "/dead",
                post(move || async move {
                    dead_count.fetch_add(1, Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE
                }),
            );
        let address = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await });
            address
        });
        Self {
            _runtime: runtime,
            address,
            hook,
            hook_requests,
            alertmanager_hook,
            dead_requests,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What `/hook` accepted about `QueueBacklog`.
    fn hook_bodies(&self) -> Vec<Value> {
        self.hook
            .lock()
            .unwrap()
            .iter()
            .filter(|body| body["groupLabels"]["alertname"] == "QueueBacklog")
            .cloned()
            .collect()
    }
}

/// Starts Alertmanager on a free loopback port, routing every alert to `webhook_url`.
fn start_alertmanager(webhook_url: &str) -> ExternalProcess {
    ExternalProcess::require(ALERTMANAGER_BINARY, "prometheus-alertmanager");
    let webhook_url = webhook_url.to_string();
    ExternalProcess::start(
        ALERTMANAGER_BINARY,
        move |address, dir| {
            let config = format!(
                "route:
  receiver: sink
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"
            );
            let config_path = dir.join("alertmanager.yml");
            std::fs::write(&config_path, config).unwrap();
            vec![
                format!("--config.file={}", config_path.display()),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address={address}"),
                "--cluster.listen-address=".to_string(),
            ]
        },
        "/-/ready",
        WAIT,
    )
}

/// Polls `check` until it returns something, or panics naming `what` after [`WAIT`].
fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `queue_depth{queue="orders"}` of service `worker` every 300 ms (50 while `high`,
/// else 1), and two `worker` server spans, one of them failed.
struct GaugeSender {
    high: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Where to send (changes when the server restarts on other ports).
    url: Arc<Mutex<String>>,
}

impl GaugeSender {
    fn start(server_otlp_url: String) -> Self {
        let high = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let url = Arc::new(Mutex::new(server_otlp_url));
        let (sending_high, stopping, target) = (high.clone(), stop.clone(), url.clone());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            while !stopping.load(Ordering::SeqCst) {
                let value = if sending_high.load(Ordering::SeqCst) {
                    50.0
                } else {
                    1.0
                };
                let body = json!({"resourceMetrics": [{
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": "worker"}}]},
                    "scopeMetrics": [{"metrics": [{
                        "name": "queue_depth",
                        "gauge": {"dataPoints": [{
                            "asDouble": value,
                            "timeUnixNano": now_nanos().to_string(),
                            "attributes": [{"key": "queue", "value": {"stringValue": "orders"}}]
                        }]}
                    }]}]
                }]});
                let url = target.lock().unwrap().clone();
                let _ = client.post(&url).json(&body).send();
                let traces_url = url.replace("/v1/metrics", "/v1/traces");
                for failed in [false, true] {
                    let seed = now_nanos();
                    let mut spans = single_span(
                        &trace_id_hex(seed),
                        &format!("{:016x}", seed | 1),
                        "worker",
                        "GET /jobs",
                        now_nanos() - 5_000_000,
                    );
                    if failed {
                        spans["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"] =
                            json!({"code": 2});
                    }
                    let _ = client.post(&traces_url).json(&spans).send();
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        Self { high, stop, url }
    }
}

impl Drop for GaugeSender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn get_json(client: &reqwest::blocking::Client, url: &str) -> Value {
    let response = client.get(url).send().unwrap();
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().unwrap()
}

/// The server's alerts for `QueueBacklog`.
fn backlog_alerts(client: &reqwest::blocking::Client, server: &TestServer) -> Vec<Value> {
    get_json(client, &server.url("/api/v1/alerts"))["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|alert| alert["labels"]["alertname"] == "QueueBacklog")
        .cloned()
        .collect()
}

fn config(dir: &Path, receivers: &Receivers, alertmanager: &ExternalProcess) -> String {
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(
        rules_dir.join("queue.yml"),
        r#"groups:
  - name: queue
    interval: 1s
    rules:
      - alert: QueueBacklog
        expr: queue_depth{job="worker"} > 10
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "queue {{ $labels.queue }} holds {{ $value }} items"
      - record: queue:depth:max
        expr: max by (queue) (queue_depth)
"#,
    )
    .unwrap();
    format!(
        r#"
[collector]
flush_interval_seconds = 1

[alerting]
rules_dir = "{rules}"
evaluation_interval = "1s"
resend_delay = "1s"
external_labels = {{ cluster = "test" }}

[alerting.delivery]
initial_backoff = "50ms"
max_backoff = "200ms"
breaker_failure_threshold = 3
breaker_open_duration = "30s"

[[alerting.receivers]]
name = "hook"
type = "webhook"
url = "{hook}"

[[alerting.receivers]]
name = "am"
type = "alertmanager"
urls = ["http://{alertmanager}"]
"#,
        rules = rules_dir.display(),
        hook = receivers.url("/hook"),
        alertmanager = alertmanager.address,
    )
}

#[test]
fn alerts_fire_notify_survive_a_restart_and_resolve() {
    let receivers = Receivers::start();
    let alertmanager = start_alertmanager(&receivers.url("/am-hook"));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("sightline.toml");
    std::fs::write(&config_path, config(dir.path(), &receivers, &alertmanager)).unwrap();
    let data_dir = dir.path().join("data");
    let config_arg = config_path.display().to_string();
    let args = ["--config", config_arg.as_str()];
    let mut server = TestServer::start_in(&data_dir, &args);
    let client = reqwest::blocking::Client::new();
    let sender = GaugeSender::start(server.otlp_url("/v1/metrics"));

    // Pending first (for: 2s), then firing.
    let mut saw_pending = false;
    let firing = wait_until("the alert to fire", || {
        let alerts = backlog_alerts(&client, &server);
        saw_pending |= alerts.iter().any(|alert| alert["state"] == "pending");
        alerts.into_iter().find(|alert| alert["state"] == "firing")
    });
    assert!(saw_pending, "the alert was never seen pending");
    assert_eq!(firing["labels"]["severity"], "page");
    assert_eq!(firing["labels"]["queue"], "orders");
    assert_eq!(
        firing["annotations"]["summary"],
        "queue orders holds 50 items"
    );
    let active_at = firing["active_at_unix_ms"].as_i64().unwrap();

    // ALERTS and the recording rule's series, through PromQL.
    let query = |promql: &str| -> Vec<Value> {
        let url = reqwest::Url::parse_with_params(
            &server.url("/prometheus/api/v1/query"),
            [("query", promql)],
        )
        .unwrap();
        get_json(&client, url.as_str())["data"]["result"]
            .as_array()
            .unwrap()
            .clone()
    };
    let alerts_series = wait_until("ALERTS to be written", || {
        Some(query(
            r#"ALERTS{alertname="QueueBacklog",alertstate="firing"}"#,
        ))
        .filter(|result| !result.is_empty())
    });
    assert_eq!(alerts_series[0]["metric"]["queue"], "orders");
    let for_state = query(r#"ALERTS_FOR_STATE{alertname="QueueBacklog"}"#);
    assert_eq!(
        for_state[0]["value"][1]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        active_at as f64 / 1000.0
    );
    wait_until("the recording rule's series", || {
        Some(query("queue:depth:max")).filter(|result| {
            result.len() == 1
                && result[0]["value"][1] == "50"
                && result[0]["metric"]["queue"] == "orders"
        })
    });

    // Prometheus' rules and alerts endpoints, as Grafana reads them.
    let rules = get_json(&client, &server.url("/prometheus/api/v1/rules"));
    assert_eq!(rules["status"], "success");
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "queue");
    assert_eq!(group["interval"], 1.0);
    assert_eq!(group["rules"][0]["type"], "alerting");
    assert_eq!(group["rules"][0]["state"], "firing");
    assert_eq!(group["rules"][0]["duration"], 2.0);
    assert_eq!(group["rules"][1]["type"], "recording");
    let alert_rules = get_json(&client, &server.url("/prometheus/api/v1/rules?type=alert"));
    assert_eq!(
        alert_rules["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let prometheus_alerts = get_json(&client, &server.url("/prometheus/api/v1/alerts"));
    let alert = &prometheus_alerts["data"]["alerts"][0];
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["value"], "5e+01");

    // The webhook failed three times, then got Alertmanager's webhook payload.
    let delivered = wait_until("the webhook to be notified", || {
        receivers.hook_bodies().into_iter().next()
    });
    assert!(receivers.hook_requests.load(Ordering::SeqCst) >= 4);
    assert_eq!(delivered["version"], "4");
    assert_eq!(delivered["status"], "firing");
    assert_eq!(delivered["receiver"], "hook");
    assert_eq!(delivered["groupLabels"]["alertname"], "QueueBacklog");
    assert_eq!(delivered["alerts"][0]["labels"]["cluster"], "test");
    assert_eq!(delivered["alerts"][0]["status"], "firing");
    let hook_status = get_json(&client, &server.url("/api/v1/alerts/receivers/hook"));
    let target = &hook_status["targets"][0];
    assert!(
        target["failed_attempts_total"].as_u64().unwrap() >= 3,
        "{hook_status}"
    );
    assert!(
        target["delivered_total"].as_u64().unwrap() >= 1,
        "{hook_status}"
    );
    assert_eq!(target["breaker"], "closed");

    // The real Alertmanager has the alert and routed it to its own webhook.
    let in_alertmanager = wait_until("Alertmanager to hold the alert", || {
        let alerts = get_json(&client, &alertmanager.url("/api/v2/alerts"));
        alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["labels"]["alertname"] == "QueueBacklog")
            .cloned()
    });
    assert_eq!(in_alertmanager["labels"]["queue"], "orders");
    assert_eq!(in_alertmanager["labels"]["cluster"], "test");
    assert_eq!(in_alertmanager["status"]["state"], "active");
    assert_eq!(
        in_alertmanager["annotations"]["summary"],
        "queue orders holds 50 items"
    );
    wait_until("Alertmanager to route the alert on", || {
        receivers
            .alertmanager_hook
            .lock()
            .unwrap()
            .iter()
            .find(|body| body["status"] == "firing")
            .cloned()
    });

    api_rules_and_receivers(&client, &server, &receivers);

    // A restart: the alert keeps firing from the same moment, and the webhook is not told
    // again.
    let notified_before = receivers.hook_bodies().len();
    assert_eq!(server.terminate().code(), Some(0));
    server = TestServer::start_in(&data_dir, &args);
    *sender.url.lock().unwrap() = server.otlp_url("/v1/metrics");
    let restored = backlog_alerts(&client, &server);
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(restored[0]["state"], "firing");
    assert_eq!(restored[0]["active_at_unix_ms"], active_at);
    std::thread::sleep(Duration::from_secs(3));
    let after_restart = backlog_alerts(&client, &server);
    assert_eq!(after_restart[0]["state"], "firing");
    assert_eq!(after_restart[0]["active_at_unix_ms"], active_at);
    assert_eq!(
        receivers.hook_bodies().len(),
        notified_before,
        "the webhook was notified again after the restart"
    );
    let api_rule = get_json(&client, &server.url("/api/v1/alerts/rules/QueueHuge"));
    assert_eq!(api_rule["source"], "api");

    // Recovery: the alert resolves, receivers hear of it, history has every step.
    sender.high.store(false, Ordering::SeqCst);
    wait_until("the alert to resolve", || {
        Some(()).filter(|_| backlog_alerts(&client, &server).is_empty())
    });
    let resolved = wait_until("the webhook to hear of the resolution", || {
        receivers
            .hook_bodies()
            .into_iter()
            .find(|body| body["status"] == "resolved")
    });
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    wait_until("Alertmanager to route the resolution", || {
        receivers
            .alertmanager_hook
            .lock()
            .unwrap()
            .iter()
            .find(|body| body["status"] == "resolved")
            .cloned()
    });
    let history = get_json(
        &client,
        &server.url("/api/v1/alerts/history?rule=file:queue.yml:queue:QueueBacklog"),
    );
    let states: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|entry| entry["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "firing", "inactive"], "{history}");
    let firing_entry = &history["history"][1];
    assert_eq!(firing_entry["value"], 50.0);
    assert_eq!(firing_entry["labels"]["queue"], "orders");
    drop(sender);
}

/// Rules and receivers through the API: create, validate, test-evaluate, disable, and a dead
/// receiver whose breaker opens without holding up anything else.
fn api_rules_and_receivers(
    client: &reqwest::blocking::Client,
    server: &TestServer,
    receivers: &Receivers,
) {
    let rules_url = server.url("/api/v1/alerts/rules");
    let created = client
        .post(&rules_url)
        .json(
            &json!({"name": "QueueHuge", "group": "api", "interval": "1s",
                      "expr": "queue_depth > 1000", "labels": {"severity": "ticket"}}),
        )
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(created["source"], "api");
    assert_eq!(created["group"], "api");
    let taken = client
        .post(&rules_url)
        .json(&json!({"name": "QueueHuge", "expr": "up"}))
        .send()
        .unwrap();
    assert_eq!(taken.status(), 409);
    let invalid = client
        .post(&rules_url)
        .json(&json!({"name": "Broken", "expr": "rate(x[5m]", "for": "soon"}))
        .send()
        .unwrap();
    assert_eq!(invalid.status(), 400);
    let invalid: Value = invalid.json().unwrap();
    let problems: Vec<&str> = invalid["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem.as_str().unwrap())
        .collect();
    assert!(problems[0].starts_with("expr: "), "{problems:?}");
    assert!(problems[1].starts_with("for: "), "{problems:?}");
    let read_only = client
        .delete(server.url("/api/v1/alerts/rules/file:queue.yml:queue:QueueBacklog"))
        .send()
        .unwrap();
    assert_eq!(read_only.status(), 400);

    // Test-evaluation, of a definition and of a stored rule.
    let tested: Value = client
        .post(server.url("/api/v1/alerts/rules/test"))
        .json(&json!({"name": "Probe", "expr": "queue_depth > 20",
                      "annotations": {"summary": "{{ $value }}"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(tested["alerts"][0]["state"], "firing", "{tested}");
    assert_eq!(tested["alerts"][0]["annotations"]["summary"], "50");
    let quiet: Value = client
        .post(server.url("/api/v1/alerts/rules/QueueHuge/test"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(quiet["alerts"], json!([]));

    // A quick health rule becomes PromQL over the span metrics, and fires from the spans
    // (half of them failed); disabled, its alert resolves.
    let quick: Value = client
        .post(&rules_url)
        .json(&json!({"name": "WorkerErrors", "interval": "1s",
                      "quick": {"kind": "error_ratio_above", "service": "worker",
                                "threshold": 5, "window": "1m"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        quick["query"]
            .as_str()
            .unwrap()
            .contains("traces_span_metrics_calls_total{service=\"worker\""),
        "{quick}"
    );
    let worker_errors = |state: &str| {
        get_json(client, &server.url("/api/v1/alerts"))["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["labels"]["alertname"] == "WorkerErrors" && alert["state"] == state)
            .cloned()
    };
    let fired = wait_until("the quick rule to fire", || worker_errors("firing"));
    assert_eq!(fired["labels"]["service"], "worker");
    assert_eq!(fired["labels"]["severity"], "warning");
    assert_eq!(fired["value"], 0.5);
    assert_eq!(
        fired["annotations"]["summary"],
        "worker: error ratio 50% is above 5%"
    );
    let disabled: Value = client
        .post(server.url("/api/v1/alerts/rules/WorkerErrors/disable"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(disabled["enabled"], false);
    wait_until("the disabled rule's alert to resolve", || {
        Some(()).filter(|_| worker_errors("firing").is_none())
    });
    let listed = get_json(client, &rules_url);
    assert_eq!(listed["rules"].as_array().unwrap().len(), 4, "{listed}");

    // A dead receiver: its breaker opens; the others keep delivering.
    let dead = client
        .post(server.url("/api/v1/alerts/receivers"))
        .json(
            &json!({"name": "dead", "type": "webhook", "url": receivers.url("/dead"),
                      "headers": {"Authorization": "Bearer secret"}}),
        )
        .send()
        .unwrap();
    assert_eq!(dead.status(), 201);
    let dead: Value = dead.json().unwrap();
    assert_eq!(dead["definition"]["headers"]["Authorization"], "<redacted>");
    // It hears of the next change; make one by creating an always-firing rule.
    let always = client
        .post(&rules_url)
        .json(&json!({"name": "AlwaysOn", "group": "api", "interval": "1s", "expr": "vector(1)"}))
        .send()
        .unwrap();
    assert_eq!(always.status(), 201);
    let status = wait_until("the dead receiver's breaker to open", || {
        let status = get_json(client, &server.url("/api/v1/alerts/receivers/dead"));
        Some(status).filter(|status| status["targets"][0]["breaker"] == "open")
    });
    assert!(
        status["targets"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{status}"
    );
    let requests = receivers.dead_requests.load(Ordering::SeqCst);
    assert_eq!(requests, 3, "the breaker opened after 3 failed attempts");
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.lines().any(
            |line| line.starts_with("sightline_alert_receiver_breaker_open")
                && line.contains("dead")
                && line.ends_with(" 1")
        ),
        "no open breaker in /metrics"
    );
    let deleted = client
        .delete(server.url("/api/v1/alerts/rules/AlwaysOn"))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
}
