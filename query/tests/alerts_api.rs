//! The alerting API and evaluator over a real metric store and state database in a temporary
//! directory: tenants never see each other's rules, alerts, `ALERTS` series or receivers.
#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use sightline_model::{Labels, MetricBatch, MetricSample, SeriesSamples, TenantId};
use sightline_query::alerts::config::AlertingConfig;
use sightline_query::alerts::evaluator::{evaluate_rule, AlertingContext};
use sightline_query::alerts::notify::Notifier;
use sightline_query::alerts::registry::AlertRegistry;
use sightline_query::promql::Engine;
use sightline_query::{alerts_router, router, QueryConfig};
use sightline_store::{AlertingDb, LogStore, MetricStore, SpanStore, StateDb, StoreConfig};
use tower::ServiceExt as _;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Fixture {
    _dir: tempfile::TempDir,
    context: Arc<AlertingContext>,
    app: axum::Router,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let metrics = MetricStore::open(config.clone()).await.unwrap();
    let settings = AlertingConfig {
        evaluation_interval: "1s".to_string(),
        ..AlertingConfig::default()
    }
    .validate("http://sightline")
    .unwrap();
    let notifier = Notifier::new(settings.delivery.clone(), settings.external_url.clone()).unwrap();
    let db = StateDb::open(dir.path()).await.unwrap();
    let registry = AlertRegistry::open(
        AlertingDb::new(db),
        Vec::new(),
        Vec::new(),
        settings.evaluation_interval,
        notifier,
    )
    .await
    .unwrap();
    let context = Arc::new(AlertingContext {
        registry,
        store: metrics.clone(),
        engine: Engine::default(),
        settings,
    });
    let query = QueryConfig {
        multi_tenancy: true,
        ..QueryConfig::default()
    };
    let spans = SpanStore::open(StoreConfig {
        data_dir: dir.path().join("spans"),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let logs = LogStore::open(StoreConfig {
        data_dir: dir.path().join("logs"),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let app =
        router(spans, metrics, logs, query.clone()).merge(alerts_router(context.clone(), &query));
    Fixture {
        _dir: dir,
        context,
        app,
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    tenant: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("X-Scope-OrgID", tenant)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |body| Body::from(body.to_string())))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_only_their_own_rules_alerts_series_and_receivers() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let at_ms = now_ms() - 1_000;
    let queue = |value: f64| MetricBatch {
        series: vec![SeriesSamples {
            labels: Labels::new([("__name__", "queue_depth"), ("queue", "orders")]),
            samples: vec![MetricSample {
                timestamp_ms: at_ms,
                value,
            }],
            exemplars: Vec::new(),
        }],
        metadata: Vec::new(),
    };
    let (team_a, team_b) = (
        TenantId::new("team-a").unwrap(),
        TenantId::new("team-b").unwrap(),
    );
    fixture
        .context
        .store
        .append(&team_a, queue(50.0))
        .await
        .unwrap();
    fixture
        .context
        .store
        .append(&team_b, queue(1.0))
        .await
        .unwrap();

    let rule = json!({"name": "Backlog", "interval": "1s", "expr": "queue_depth > 10"});
    for tenant in ["team-a", "team-b"] {
        let (status, body) = call(
            app,
            "POST",
            "/api/v1/alerts/rules",
            tenant,
            Some(rule.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _) = call(
        app,
        "POST",
        "/api/v1/alerts/rules",
        "team-a",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let only_a = json!({"name": "OnlyA", "interval": "1s", "expr": "vector(1)"});
    call(app, "POST", "/api/v1/alerts/rules", "team-a", Some(only_a)).await;

    for group in fixture.context.registry.groups() {
        for rule in &group.rules {
            evaluate_rule(&fixture.context, &group, rule, now_ms()).await;
        }
    }

    let (_, rules_a) = call(app, "GET", "/api/v1/alerts/rules", "team-a", None).await;
    let (_, rules_b) = call(app, "GET", "/api/v1/alerts/rules", "team-b", None).await;
    assert_eq!(rules_a["rules"].as_array().unwrap().len(), 2);
    assert_eq!(rules_b["rules"].as_array().unwrap().len(), 1);
    let (status, _) = call(app, "GET", "/api/v1/alerts/rules/OnlyA", "team-b", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(app, "DELETE", "/api/v1/alerts/rules/OnlyA", "team-b", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, alerts_a) = call(app, "GET", "/api/v1/alerts", "team-a", None).await;
    let (_, alerts_b) = call(app, "GET", "/api/v1/alerts", "team-b", None).await;
    let names = |alerts: &Value| -> Vec<String> {
        let mut names: Vec<String> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|alert| alert["labels"]["alertname"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&alerts_a), ["Backlog", "OnlyA"]);
    assert_eq!(names(&alerts_b), Vec::<String>::new());
    let (_, prometheus_b) = call(app, "GET", "/prometheus/api/v1/alerts", "team-b", None).await;
    assert_eq!(prometheus_b["data"]["alerts"], json!([]));
    let (_, rules_prometheus_b) =
        call(app, "GET", "/prometheus/api/v1/rules", "team-b", None).await;
    let groups = rules_prometheus_b["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["rules"][0]["state"], "inactive");

    // ALERTS lands in the tenant whose data fired it.
    let alerts_query = "/prometheus/api/v1/query?query=ALERTS";
    let (_, series_a) = call(app, "GET", alerts_query, "team-a", None).await;
    let (_, series_b) = call(app, "GET", alerts_query, "team-b", None).await;
    assert_eq!(
        series_a["data"]["result"].as_array().unwrap().len(),
        2,
        "{series_a}"
    );
    assert_eq!(series_b["data"]["result"], json!([]));

    // History per tenant.
    let (_, history_a) = call(app, "GET", "/api/v1/alerts/history", "team-a", None).await;
    let (_, history_b) = call(app, "GET", "/api/v1/alerts/history", "team-b", None).await;
    assert_eq!(
        history_a["history"].as_array().unwrap().len(),
        4,
        "{history_a}"
    );
    assert_eq!(history_b["history"], json!([]));

    // Receivers per tenant.
    let receiver = json!({"name": "oncall", "type": "webhook", "url": "http://127.0.0.1:9/hook"});
    let (status, _) = call(
        app,
        "POST",
        "/api/v1/alerts/receivers",
        "team-a",
        Some(receiver),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, receivers_b) = call(app, "GET", "/api/v1/alerts/receivers", "team-b", None).await;
    assert_eq!(receivers_b["receivers"], json!([]));
    let (status, _) = call(
        app,
        "GET",
        "/api/v1/alerts/receivers/oncall",
        "team-b",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, receivers_a) = call(app, "GET", "/api/v1/alerts/receivers", "team-a", None).await;
    assert_eq!(
        receivers_a["receivers"][0]["targets"][0]["tenant"],
        "team-a"
    );
    fixture
        .context
        .registry
        .notifier()
        .shutdown(Duration::from_millis(100))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_answers() {
    let fixture = fixture().await;
    let app = &fixture.app;
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/alerts/rules",
        "default",
        Some(json!({"name": "x", "exp": "1"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `exp`"),
        "{body}"
    );
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/alerts/rules",
        "default",
        Some(json!({"name": "q", "quick": {"kind": "latency_above", "service": "cart"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["problems"], json!(["quick.threshold: is required"]));
    let (status, _) = call(
        app,
        "POST",
        "/api/v1/alerts/rules",
        "default",
        Some(json!({"name": "a", "group": "g", "interval": "1s", "expr": "up"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/alerts/rules",
        "default",
        Some(json!({"name": "b", "group": "g", "interval": "5s", "expr": "up"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("interval: group \"g\" is evaluated every 1s"),
        "{body}"
    );
    let (status, body) = call(
        app,
        "PUT",
        "/api/v1/alerts/rules/a",
        "default",
        Some(json!({"name": "renamed", "expr": "up"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(
        app,
        "GET",
        "/api/v1/alerts/history?limit=0",
        "default",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(
        app,
        "GET",
        "/prometheus/api/v1/rules?type=both",
        "default",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");
    let (status, _) = call(app, "GET", "/api/v1/alerts", "../etc", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    fixture
        .context
        .registry
        .notifier()
        .shutdown(Duration::from_millis(100))
        .await;
}
