use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sightline_store::StateDb;
use tower::ServiceExt;

use super::*;

async fn app(dir: &std::path::Path, multi_tenancy: bool) -> Router {
    let config_target = HealthCheckDefinition {
        name: "from-config".to_string(),
        service: "frontend".to_string(),
        probe: sightline_model::ProbeKind::Http,
        url: Some("http://frontend:8080/healthz".to_string()),
        expected_status: None,
        address: None,
        grpc_service: None,
        interval: None,
        timeout: None,
        enabled: true,
    }
    .validate()
    .unwrap();
    let db = StateDb::open(dir).await.unwrap();
    let registry = HealthCheckRegistry::open(db, vec![config_target])
        .await
        .unwrap();
    router(HealthChecksState {
        registry,
        multi_tenancy,
    })
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    tenant: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, json)
}

fn tcp(name: &str) -> Value {
    json!({"name": name, "service": "orders", "probe": "tcp", "address": "db:5432", "interval": "10s"})
}

#[tokio::test]
async fn crud_with_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), false).await;
    let (status, created) = call(&app, "POST", "/health-checks", None, Some(tcp("db"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["source"], "api");
    assert_eq!(created["timeout"], "5s");
    assert_eq!(created["last_result"], Value::Null);

    let (status, _) = call(&app, "POST", "/health-checks", None, Some(tcp("db"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(
        &app,
        "POST",
        "/health-checks",
        None,
        Some(tcp("from-config")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, list) = call(&app, "GET", "/health-checks", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let sources: Vec<(&str, &str)> = list["health_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["name"].as_str().unwrap(),
                item["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sources, [("db", "api"), ("from-config", "config")]);

    let mut changed = tcp("db");
    changed["address"] = json!("db:6432");
    let (status, replaced) = call(&app, "PUT", "/health-checks/db", None, Some(changed)).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["address"], "db:6432");
    let (status, one) = call(&app, "GET", "/health-checks/db", None, None).await;
    assert_eq!(
        (status, &one["address"]),
        (StatusCode::OK, &json!("db:6432"))
    );

    let (status, error) = call(
        &app,
        "PUT",
        "/health-checks/from-config",
        None,
        Some(tcp("from-config")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"].as_str().unwrap().contains("config file"),
        "{error}"
    );

    let (status, _) = call(&app, "DELETE", "/health-checks/db", None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "GET", "/health-checks/db", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, "DELETE", "/health-checks/db", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bodies_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), false).await;
    let invalid = json!({"name": "web", "service": "frontend", "probe": "http", "url": "ftp://x", "interval": "0s"});
    let (status, error) = call(&app, "POST", "/health-checks", None, Some(invalid)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = error["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["interval", "url"], "{error}");

    let missing = json!({"name": "web", "probe": "tcp", "address": "a:1"});
    let (status, error) = call(&app, "POST", "/health-checks", None, Some(missing)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"].as_str().unwrap().contains("service"),
        "{error}"
    );

    let unknown = json!({"name": "web", "service": "s", "probe": "tcp", "adress": "a:1"});
    let (status, error) = call(&app, "POST", "/health-checks", None, Some(unknown)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"].as_str().unwrap().contains("adress"),
        "{error}"
    );
}

#[tokio::test]
async fn tenants_see_their_own_targets() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), true).await;
    let (status, _) = call(
        &app,
        "POST",
        "/health-checks",
        Some("team-a"),
        Some(tcp("db")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, team_a) = call(&app, "GET", "/health-checks", Some("team-a"), None).await;
    assert_eq!(team_a["health_checks"].as_array().unwrap().len(), 1);
    let (_, default) = call(&app, "GET", "/health-checks", None, None).await;
    assert_eq!(default["health_checks"].as_array().unwrap().len(), 1);
    assert_eq!(default["health_checks"][0]["name"], "from-config");
    let (status, _) = call(&app, "GET", "/health-checks/db", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
