//! Delivery over real HTTP: axum servers on 127.0.0.1:0 stand in for webhooks and
//! Alertmanagers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName};
use metrics::{Metadata, Recorder, SharedString, Unit};
use serde_json::{json, Value};
use sightline_model::TenantId;

use super::*;

/// What a test server answers to its `index`-th request (0-based).
#[derive(Clone, Copy)]
enum Reply {
    Status(u16, &'static str),
    /// Never answers.
    Hang,
}

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Value,
    at: Instant,
}

type Respond = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    received: Arc<Mutex<Vec<Received>>>,
    respond: Respond,
}

struct TestServer {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl TestServer {
    async fn start(respond: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            received: received.clone(),
            respond: Arc::new(respond),
        };
        let app = axum::Router::new().fallback(record).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, received }
    }

    fn ok() -> impl std::future::Future<Output = Self> {
        Self::start(|_| Reply::Status(200, ""))
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn record(
    State(state): State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let index = {
        let mut received = state.received.lock().unwrap();
        received.push(Received {
            path: uri.path().to_string(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        received.len() - 1
    };
    match (state.respond)(index) {
        Reply::Status(code, body) => (StatusCode::from_u16(code).unwrap(), body),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (StatusCode::OK, "")
        }
    }
}

/// Polls `condition` every few ms, failing after 5 s.
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn fast_config() -> DeliveryConfig {
    DeliveryConfig {
        queue_capacity: 100,
        max_attempts: 5,
        initial_backoff: "1ms".to_string(),
        max_backoff: "4ms".to_string(),
        breaker_failure_threshold: 100,
        breaker_open_duration: "50ms".to_string(),
    }
}

fn notifier(config: DeliveryConfig) -> Notifier {
    Notifier::new(config, "http://sightline:7878".to_string()).unwrap()
}

fn tenant() -> TenantId {
    TenantId::default_tenant()
}

fn webhook(name: &str, url: &str) -> ReceiverDefinition {
    ReceiverDefinition {
        name: name.to_string(),
        kind: "webhook".to_string(),
        url: Some(url.to_string()),
        urls: Vec::new(),
        timeout: Some("2s".to_string()),
        send_resolved: true,
        headers: BTreeMap::new(),
    }
}

fn spec(definition: ReceiverDefinition) -> ReceiverSpec {
    definition.validate().unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn alert(pod: &str, resolved: bool) -> OutgoingAlert {
    OutgoingAlert {
        labels: labels(&[
            ("alertname", "HighErrorRate"),
            ("pod", pod),
            ("severity", "page"),
        ]),
        annotations: labels(&[("summary", &format!("errors on {pod}"))]),
        starts_at_ms: 1_796_556_600_123,
        ends_at_ms: resolved.then_some(1_796_556_900_000),
        generator_url: "http://sightline:7878/graph?g0.expr=up".to_string(),
        resolved,
    }
}

fn group(alerts: Vec<OutgoingAlert>) -> AlertGroup {
    AlertGroup {
        group_key: "{}:{alertname=\"HighErrorRate\"}".to_string(),
        group_labels: labels(&[("alertname", "HighErrorRate")]),
        alerts,
    }
}

fn only_status(notifier: &Notifier) -> TargetStatus {
    let mut status = notifier.status(&tenant());
    assert_eq!(status.len(), 1, "{status:?}");
    status.remove(0)
}

fn fingerprint(alert: &OutgoingAlert) -> String {
    format!("{:016x}", payload::label_fingerprint(&alert.labels))
}

#[tokio::test]
async fn webhook_payload_is_alertmanagers() {
    let server = TestServer::ok().await;
    let quiet = TestServer::ok().await;
    let notifier = notifier(fast_config());
    let mut with_header = webhook("team-hook", &format!("{}/hook", server.base));
    with_header.headers = labels(&[("Authorization", "Bearer s3cr3t")]);
    let mut firing_only = webhook("firing-only", &format!("{}/hook", quiet.base));
    firing_only.send_resolved = false;
    notifier.set_receivers(vec![
        (tenant(), spec(with_header)),
        (tenant(), spec(firing_only)),
    ]);

    let (firing, resolved) = (alert("a", false), alert("b", true));
    notifier.post_group(&tenant(), group(vec![resolved.clone()]));
    notifier.post_group(&tenant(), group(vec![firing.clone(), resolved.clone()]));
    wait_for("both groups", || server.count() == 2).await;
    wait_for("the firing group", || quiet.count() == 1).await;

    let received = server.received();
    assert_eq!(received[0].path, "/hook");
    assert_eq!(received[0].headers["content-type"], "application/json");
    assert_eq!(received[0].headers["authorization"], "Bearer s3cr3t");
    assert!(received[0].headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("Sightline/"));
    assert_eq!(received[0].body["status"], "resolved");
    let expected = json!({
        "receiver": "team-hook",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "pod": "a", "severity": "page"},
                "annotations": {"summary": "errors on a"},
                "startsAt": "2026-12-06T11:30:00.123Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://sightline:7878/graph?g0.expr=up",
                "fingerprint": fingerprint(&firing),
            },
            {
                "status": "resolved",
                "labels": {"alertname": "HighErrorRate", "pod": "b", "severity": "page"},
                "annotations": {"summary": "errors on b"},
                "startsAt": "2026-12-06T11:30:00.123Z",
                "endsAt": "2026-12-06T11:35:00.000Z",
                "generatorURL": "http://sightline:7878/graph?g0.expr=up",
                "fingerprint": fingerprint(&resolved),
            },
        ],
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "page"},
        "commonAnnotations": {},
        "externalURL": "http://sightline:7878",
        "version": "4",
        "groupKey": "{}:{alertname=\"HighErrorRate\"}",
        "truncatedAlerts": 0,
    });
    assert_eq!(received[1].body, expected);

    // send_resolved = false: the resolved-only group was skipped, the other lost its
    // resolved alert.
    let quiet_body = &quiet.received()[0].body;
    assert_eq!(quiet_body["receiver"], "firing-only");
    assert_eq!(quiet_body["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(quiet_body["alerts"][0]["labels"]["pod"], "a");
    assert_eq!(
        quiet_body["commonLabels"],
        json!({"alertname": "HighErrorRate", "pod": "a", "severity": "page"})
    );
    assert!(quiet.received()[0].headers.get("authorization").is_none());
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn alertmanager_receiver_posts_to_every_url() {
    let first = TestServer::ok().await;
    let second = TestServer::ok().await;
    let notifier = notifier(fast_config());
    let definition = ReceiverDefinition {
        kind: "alertmanager".to_string(),
        url: None,
        urls: vec![first.base.clone(), format!("{}/prefix/", second.base)],
        ..webhook("am", "")
    };
    notifier.set_receivers(vec![(tenant(), spec(definition))]);
    let mut firing = alert("a", false);
    firing.ends_at_ms = Some(1_796_556_840_000);
    // Webhook groups and other tenants' alerts do not reach Alertmanager.
    notifier.post_group(&tenant(), group(vec![alert("x", false)]));
    notifier.post_alerts(&TenantId::new("other").unwrap(), vec![alert("y", false)]);
    notifier.post_alerts(&tenant(), vec![firing, alert("b", true)]);
    wait_for("both Alertmanagers", || {
        first.count() == 1 && second.count() == 1
    })
    .await;

    let expected = json!([
        {
            "labels": {"alertname": "HighErrorRate", "pod": "a", "severity": "page"},
            "annotations": {"summary": "errors on a"},
            "startsAt": "2026-12-06T11:30:00.123Z",
            "endsAt": "2026-12-06T11:34:00.000Z",
            "generatorURL": "http://sightline:7878/graph?g0.expr=up",
        },
        {
            "labels": {"alertname": "HighErrorRate", "pod": "b", "severity": "page"},
            "annotations": {"summary": "errors on b"},
            "startsAt": "2026-12-06T11:30:00.123Z",
            "endsAt": "2026-12-06T11:35:00.000Z",
            "generatorURL": "http://sightline:7878/graph?g0.expr=up",
        },
    ]);
    for (server, path) in [
        (&first, "/api/v2/alerts"),
        (&second, "/prefix/api/v2/alerts"),
    ] {
        let received = server.received();
        assert_eq!(received[0].path, path);
        assert_eq!(received[0].headers["content-type"], "application/json");
        assert_eq!(received[0].body, expected);
    }
    let status = notifier.status(&tenant());
    let urls: Vec<&str> = status.iter().map(|target| target.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            format!("{}/api/v2/alerts", first.base),
            format!("{}/prefix/api/v2/alerts", second.base)
        ]
    );
    wait_for("delivered counts", || {
        notifier
            .status(&tenant())
            .iter()
            .all(|target| target.delivered_total == 1 && target.kind == "alertmanager")
    })
    .await;
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let server = TestServer::start(|index| {
        if index < 3 {
            Reply::Status(500, "try later")
        } else {
            Reply::Status(200, "")
        }
    })
    .await;
    let notifier = notifier(fast_config());
    notifier.set_receivers(vec![(tenant(), spec(webhook("hook", &server.base)))]);
    notifier.post_group(&tenant(), group(vec![alert("a", false)]));
    wait_for("delivery", || only_status(&notifier).delivered_total == 1).await;

    let status = only_status(&notifier);
    assert_eq!(status.failed_attempts_total, 3);
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.dropped_total, 0);
    assert_eq!(status.queued, 0);
    assert_eq!(status.breaker, BreakerState::Closed);
    assert!(status.last_success_unix_ms.is_some());
    let last_error = status.last_error.unwrap();
    assert!(
        last_error.contains("500") && last_error.contains("try later"),
        "{last_error}"
    );
    let received = server.received();
    assert_eq!(received.len(), 4);
    assert!(received
        .iter()
        .all(|request| request.body == received[0].body));
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn breaker_opens_holds_back_then_trials_and_closes() {
    let failing = Arc::new(AtomicBool::new(true));
    let failing_in_server = failing.clone();
    let server = TestServer::start(move |_| {
        if failing_in_server.load(Ordering::SeqCst) {
            Reply::Status(503, "")
        } else {
            Reply::Status(200, "")
        }
    })
    .await;
    let open = Duration::from_millis(300);
    let notifier = notifier(DeliveryConfig {
        max_attempts: 100,
        breaker_failure_threshold: 2,
        breaker_open_duration: "300ms".to_string(),
        ..fast_config()
    });
    notifier.set_receivers(vec![(tenant(), spec(webhook("hook", &server.base)))]);
    notifier.post_group(&tenant(), group(vec![alert("a", false)]));

    wait_for("the breaker to open", || {
        only_status(&notifier).breaker == BreakerState::Open
    })
    .await;
    assert_eq!(server.count(), 2);
    assert_eq!(only_status(&notifier).consecutive_failures, 2);
    assert_eq!(only_status(&notifier).queued, 1);
    // Nothing is sent while it is open; then one trial, which fails and opens it again.
    wait_for("the trial", || {
        let count = server.count();
        assert!(count <= 3, "{count} requests: more than one trial");
        count == 3
    })
    .await;
    wait_for("the breaker to reopen", || {
        let status = only_status(&notifier);
        status.breaker == BreakerState::Open && status.consecutive_failures == 3
    })
    .await;
    assert_eq!(server.count(), 3);

    failing.store(false, Ordering::SeqCst);
    wait_for("recovery", || only_status(&notifier).delivered_total == 1).await;
    let status = only_status(&notifier);
    assert_eq!(status.breaker, BreakerState::Closed);
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.failed_attempts_total, 3);
    let received = server.received();
    assert_eq!(received.len(), 4);
    assert!(received[2].at.duration_since(received[1].at) >= open);
    assert!(received[3].at.duration_since(received[2].at) >= open);
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_open_breaker_past_its_period_shows_half_open() {
    let notifier = notifier(fast_config());
    notifier.set_receivers(vec![(
        tenant(),
        spec(webhook("hook", "http://127.0.0.1:9/")),
    )]);
    let target = notifier.with_receivers(&tenant(), |receivers| {
        receivers.next().unwrap().targets[0].clone()
    });
    target.lock().breaker = target::Breaker::Open {
        until: Instant::now() + Duration::from_secs(60),
    };
    assert_eq!(only_status(&notifier).breaker, BreakerState::Open);
    target.lock().breaker = target::Breaker::Open {
        until: Instant::now(),
    };
    assert_eq!(only_status(&notifier).breaker, BreakerState::HalfOpen);
    notifier.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_stuck_receiver_keeps_a_bounded_queue_and_never_blocks() {
    let server = TestServer::start(|_| Reply::Hang).await;
    let notifier = notifier(DeliveryConfig {
        queue_capacity: 3,
        ..fast_config()
    });
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        notifier.set_receivers(vec![(tenant(), spec(webhook("stuck", &server.base)))]);
    });
    let started = Instant::now();
    metrics::with_local_recorder(&recorder, || {
        for index in 0..10 {
            notifier.post_group(&tenant(), group(vec![alert(&index.to_string(), false)]));
        }
    });
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    let status = only_status(&notifier);
    assert_eq!(status.queued, 3);
    assert_eq!(status.dropped_total, 7);
    wait_for("the first request", || server.count() == 1).await;
    let status = only_status(&notifier);
    assert_eq!(status.queued, 3);
    assert_eq!(status.dropped_total, 7);
    assert_eq!(status.delivered_total, 0);
    let labels = "receiver=stuck,tenant=default";
    let dropped = recorder.value(&format!(
        "sightline_alert_notifications_total{{outcome=dropped_queue_full,{labels}}}"
    ));
    assert_eq!(dropped, 7.0);
    assert_eq!(
        recorder.value("sightline_dropped_total{reason=queue_full,signal=alert_notifications}"),
        dropped
    );
    assert_eq!(
        recorder.value(&format!(
            "sightline_alert_notification_queue_length{{{labels}}}"
        )),
        3.0
    );

    // Shutdown gives up on the stuck request at the deadline and counts what was left.
    let started = Instant::now();
    notifier.shutdown(Duration::from_millis(50)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(notifier.status(&tenant()).is_empty());
    assert_eq!(notifier.running_workers(), 0);
    assert_eq!(
        recorder.value(&format!(
            "sightline_alert_notification_queue_length{{{labels}}}"
        )),
        0.0
    );
}

#[tokio::test]
async fn a_capacity_of_one_replaces_the_notification_in_flight() {
    let server = TestServer::start(|_| Reply::Status(503, "")).await;
    let notifier = notifier(DeliveryConfig {
        queue_capacity: 1,
        max_attempts: 1000,
        initial_backoff: "20ms".to_string(),
        max_backoff: "20ms".to_string(),
        ..fast_config()
    });
    notifier.set_receivers(vec![(tenant(), spec(webhook("hook", &server.base)))]);
    notifier.post_group(&tenant(), group(vec![alert("old", false)]));
    wait_for("the first attempt", || server.count() >= 1).await;
    notifier.post_group(&tenant(), group(vec![alert("new", false)]));
    assert_eq!(only_status(&notifier).queued, 1);
    assert_eq!(only_status(&notifier).dropped_total, 1);
    wait_for("the new notification", || {
        server
            .received()
            .iter()
            .any(|request| request.body["alerts"][0]["labels"]["pod"] == "new")
    })
    .await;
    let received = server.received();
    let first_new = received
        .iter()
        .position(|request| request.body["alerts"][0]["labels"]["pod"] == "new")
        .unwrap();
    assert!(received[first_new..]
        .iter()
        .all(|request| request.body["alerts"][0]["labels"]["pod"] == "new"));
    notifier.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = TestServer::start(|_| Reply::Status(400, "bad payload: no alerts")).await;
    let notifier = notifier(fast_config());
    notifier.set_receivers(vec![(tenant(), spec(webhook("hook", &server.base)))]);
    notifier.post_group(&tenant(), group(vec![alert("a", false)]));
    wait_for("the rejection", || {
        only_status(&notifier).dropped_total == 1
    })
    .await;
    let status = only_status(&notifier);
    assert_eq!(server.count(), 1);
    assert_eq!(status.failed_attempts_total, 1);
    assert_eq!(status.delivered_total, 0);
    assert_eq!(status.queued, 0);
    let last_error = status.last_error.unwrap();
    assert!(
        last_error.contains("400") && last_error.contains("bad payload"),
        "{last_error}"
    );
    assert!(status.last_error_unix_ms.is_some());
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn set_receivers_keeps_unchanged_and_stops_removed_ones() {
    let (kept, removed, added) = (
        TestServer::ok().await,
        TestServer::ok().await,
        TestServer::ok().await,
    );
    let other_tenant = TenantId::new("team-b").unwrap();
    let notifier = notifier(fast_config());
    let kept_spec = spec(webhook("kept", &kept.base));
    notifier.set_receivers(vec![
        (tenant(), kept_spec.clone()),
        (tenant(), spec(webhook("removed", &removed.base))),
        (other_tenant.clone(), spec(webhook("kept", &added.base))),
    ]);
    assert_eq!(notifier.running_workers(), 3);
    notifier.post_group(&tenant(), group(vec![alert("a", false)]));
    wait_for("delivery", || kept.count() == 1 && removed.count() == 1).await;
    assert_eq!(added.count(), 0, "another tenant's receiver was notified");
    wait_for("counts", || {
        notifier
            .status(&tenant())
            .iter()
            .all(|target| target.delivered_total == 1)
    })
    .await;

    notifier.set_receivers(vec![
        (tenant(), kept_spec.clone()),
        (tenant(), spec(webhook("added", &added.base))),
    ]);
    let status = notifier.status(&tenant());
    let names: Vec<&str> = status
        .iter()
        .map(|target| target.receiver.as_str())
        .collect();
    assert_eq!(names, ["added", "kept"]);
    assert_eq!(status[0].delivered_total, 0);
    assert_eq!(
        status[1].delivered_total, 1,
        "unchanged receiver lost its stats"
    );
    assert!(notifier.status(&other_tenant).is_empty());
    wait_for("removed workers to end", || notifier.running_workers() == 2).await;

    notifier.post_group(&tenant(), group(vec![alert("b", false)]));
    wait_for("delivery", || kept.count() == 2 && added.count() == 1).await;
    assert_eq!(removed.count(), 1, "a removed receiver was notified");

    // A changed receiver starts afresh.
    let mut changed = webhook("kept", &kept.base);
    changed.timeout = Some("3s".to_string());
    notifier.set_receivers(vec![(tenant(), spec(changed))]);
    assert_eq!(only_status(&notifier).delivered_total, 0);
    wait_for("replaced workers to end", || {
        notifier.running_workers() == 1
    })
    .await;
    notifier.shutdown(Duration::from_secs(1)).await;
    // After shutdown nothing starts.
    notifier.set_receivers(vec![(tenant(), kept_spec)]);
    assert!(notifier.status(&tenant()).is_empty());
}

#[tokio::test]
async fn shutdown_delivers_what_is_queued_within_the_deadline() {
    let server = TestServer::ok().await;
    let notifier = notifier(fast_config());
    notifier.set_receivers(vec![(tenant(), spec(webhook("hook", &server.base)))]);
    for index in 0..20 {
        notifier.post_group(&tenant(), group(vec![alert(&index.to_string(), false)]));
    }
    notifier.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.count(), 20);
    assert_eq!(notifier.running_workers(), 0);
}

#[tokio::test]
async fn invalid_delivery_settings_are_refused() {
    let error = Notifier::new(
        DeliveryConfig {
            max_attempts: 0,
            ..DeliveryConfig::default()
        },
        String::new(),
    )
    .err()
    .unwrap();
    assert_eq!(
        error.to_string(),
        "invalid alerting.delivery settings: alerting.delivery.max_attempts must be at least 1"
    );
}

#[test]
fn definitions_read_from_json_with_defaults_and_no_unknown_fields() {
    let definition: ReceiverDefinition = serde_json::from_value(json!({
        "name": "am",
        "type": "alertmanager",
        "urls": ["http://am:9093"],
    }))
    .unwrap();
    assert!(definition.send_resolved);
    assert_eq!(spec(definition).timeout(), Duration::from_secs(10));
    let unknown = serde_json::from_value::<ReceiverDefinition>(json!({
        "name": "am",
        "type": "alertmanager",
        "url_list": ["http://am:9093"],
    }));
    assert!(unknown.unwrap_err().to_string().contains("url_list"));
}

/// Keeps the last value of every metric, keyed `name{label=value,...}` with labels sorted.
#[derive(Default)]
struct TestRecorder {
    values: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl TestRecorder {
    fn value(&self, key: &str) -> f64 {
        let values = self.values.lock().unwrap();
        *values
            .get(key)
            .unwrap_or_else(|| panic!("no metric {key} in {:?}", values.keys()))
    }

    fn handle(&self, key: &Key) -> Arc<MetricHandle> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        labels.sort();
        let key = format!("{}{{{}}}", key.name(), labels.join(","));
        self.values
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_insert(0.0);
        Arc::new(MetricHandle {
            key,
            values: self.values.clone(),
        })
    }
}

struct MetricHandle {
    key: String,
    values: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl MetricHandle {
    fn update(&self, f: impl FnOnce(&mut f64)) {
        f(self
            .values
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_insert(0.0));
    }
}

impl CounterFn for MetricHandle {
    fn increment(&self, value: u64) {
        self.update(|total| *total += value as f64);
    }

    fn absolute(&self, value: u64) {
        self.update(|total| *total = value as f64);
    }
}

impl GaugeFn for MetricHandle {
    fn increment(&self, value: f64) {
        self.update(|total| *total += value);
    }

    fn decrement(&self, value: f64) {
        self.update(|total| *total -= value);
    }

    fn set(&self, value: f64) {
        self.update(|total| *total = value);
    }
}

impl HistogramFn for MetricHandle {
    fn record(&self, _value: f64) {}
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}
