//! The alerting API, per tenant:
//!
//! - `GET /api/v1/alerts/rules` → `{"rules": [rule, …]}`: every rule (files' and the API's)
//!   with its state, health, last evaluation and active alerts.
//! - `POST /api/v1/alerts/rules` with a definition → 201 and the rule; 409 when the name is
//!   taken; 400 naming each invalid field.
//! - `GET|PUT|DELETE /api/v1/alerts/rules/{id}`; file rules are read-only (400).
//! - `POST /api/v1/alerts/rules/{id}/enable` and `/disable`.
//! - `POST /api/v1/alerts/rules/test` with a definition, or `POST /api/v1/alerts/rules/{id}/test`:
//!   evaluates now (or at `?time=` unix seconds) without saving and answers the alerts it
//!   would make (`state` is what a first evaluation gives: firing when `for` is 0).
//! - `GET /api/v1/alerts` → the pending and firing alerts.
//! - `GET /api/v1/alerts/history?rule=&alertname=&state=&start=&end=&limit=` → state changes,
//!   newest first (`start`/`end` in unix seconds, default the last 24 hours; `limit` ≤ 10000).
//! - `GET|POST /api/v1/alerts/receivers`, `GET|PUT|DELETE /api/v1/alerts/receivers/{name}`:
//!   receivers with their delivery state (queue, failures, circuit breaker); header values are
//!   never shown.
//! - Prometheus' `GET /prometheus/api/v1/rules` (`type=alert|record`) and
//!   `GET /prometheus/api/v1/alerts`.

mod render;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use http::HeaderMap;
use serde_json::{json, Value};
use sightline_model::TenantId;
use sightline_store::alerting::HistoryFilter;

use super::record_query_metrics;
use super::write_error::{request_tenant, ApiError};
use crate::alerts::evaluator::{instant_vector, unix_millis_now, AlertingContext};
use crate::alerts::notify::ReceiverDefinition;
use crate::alerts::registry::AlertsError;
use crate::alerts::rule::{Rule, RuleDefinition, RuleGroup, RuleKind};
use crate::alerts::state::RuleState;
use crate::search::QueryParams;

/// Most history entries one request returns.
const MAX_HISTORY_LIMIT: usize = 10_000;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AlertsState {
    pub(crate) context: Arc<AlertingContext>,
    pub(crate) multi_tenancy: bool,
}

impl AlertsState {
    fn tenant(&self, headers: &HeaderMap) -> Result<TenantId, ApiError> {
        request_tenant(headers, self.multi_tenancy)
    }
}

/// Builds the native routes (nested under `/api/v1` by the caller).
pub(crate) fn router(state: AlertsState) -> Router {
    Router::new()
        .route("/alerts", get(active_alerts))
        .route("/alerts/history", get(history))
        .route("/alerts/rules", get(list_rules).post(create_rule))
        .route("/alerts/rules/test", post(test_definition))
        .route(
            "/alerts/rules/{id}",
            get(get_rule).put(replace_rule).delete(delete_rule),
        )
        .route("/alerts/rules/{id}/enable", post(enable_rule))
        .route("/alerts/rules/{id}/disable", post(disable_rule))
        .route("/alerts/rules/{id}/test", post(test_rule))
        .route(
            "/alerts/receivers",
            get(list_receivers).post(create_receiver),
        )
        .route(
            "/alerts/receivers/{name}",
            get(get_receiver)
                .put(replace_receiver)
                .delete(delete_receiver),
        )
        .route_layer(middleware::from_fn_with_state(
            "native",
            record_query_metrics,
        ))
        .with_state(state)
}

/// Builds Prometheus' `/rules` and `/alerts` (nested under `/prometheus/api/v1`).
pub(crate) fn prometheus_router(state: AlertsState) -> Router {
    Router::new()
        .route("/rules", get(prometheus_rules))
        .route("/alerts", get(prometheus_alerts))
        .route_layer(middleware::from_fn_with_state(
            "prometheus",
            record_query_metrics,
        ))
        .with_state(state)
}

impl From<AlertsError> for ApiError {
    fn from(error: AlertsError) -> Self {
        let problems = match &error {
            AlertsError::Invalid { problems, .. } => problems.iter().map(|p| json!(p)).collect(),
            _ => Vec::new(),
        };
        ApiError::from_class(error.class(), &error, "alerting registry", problems)
    }
}

/// The query string's pairs, read through the crate's one parameter reader.
type Pairs = Query<Vec<(String, String)>>;

fn unix_seconds_param(params: &QueryParams, name: &str, default_ms: i64) -> Result<i64, ApiError> {
    match params.get(name) {
        None => Ok(default_ms),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|seconds| seconds.is_finite())
            .map(|seconds| (seconds * 1000.0) as i64)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid parameter {name}: {text:?} is not unix seconds"
                ))
            }),
    }
}

async fn list_rules(
    State(state): State<AlertsState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let registry = &state.context.registry;
    let rules: Vec<Value> = registry
        .tenant_groups(&tenant)
        .iter()
        .flat_map(|group| {
            group
                .rules
                .iter()
                .map(move |rule| render::rule_json(registry, group, rule))
        })
        .collect();
    Ok(Json(json!({ "rules": rules })))
}

async fn get_rule(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let registry = &state.context.registry;
    let (group, rule) = registry.find(&tenant, &id)?;
    Ok(Json(render::rule_json(registry, &group, &rule)))
}

/// Answers a rule after a change, as the registry now groups it.
fn changed_rule(
    state: &AlertsState,
    tenant: &TenantId,
    name: &str,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.context.registry;
    let (group, rule) = registry.find(tenant, name)?;
    Ok(Json(render::rule_json(registry, &group, &rule)))
}

async fn create_rule(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    body: Result<Json<RuleDefinition>, JsonRejection>,
) -> Result<Response, ApiError> {
    let tenant = state.tenant(&headers)?;
    let Json(definition) = body?;
    state
        .context
        .registry
        .create_rule(&tenant, &definition)
        .await?;
    let location = format!("/api/v1/alerts/rules/{}", definition.name);
    let rule = changed_rule(&state, &tenant, &definition.name)?;
    Ok((
        StatusCode::CREATED,
        [(http::header::LOCATION, location)],
        rule,
    )
        .into_response())
}

async fn replace_rule(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<RuleDefinition>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let Json(definition) = body?;
    state
        .context
        .registry
        .replace_rule(&tenant, &id, &definition)
        .await?;
    changed_rule(&state, &tenant, &id)
}

async fn enable_rule(
    state: State<AlertsState>,
    headers: HeaderMap,
    id: Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(state, headers, id, true).await
}

async fn disable_rule(
    state: State<AlertsState>,
    headers: HeaderMap,
    id: Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(state, headers, id, false).await
}

async fn set_enabled(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    state
        .context
        .registry
        .set_enabled(&tenant, &id, enabled)
        .await?;
    changed_rule(&state, &tenant, &id)
}

async fn delete_rule(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = state.tenant(&headers)?;
    state.context.registry.delete_rule(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_definition(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Query(pairs): Pairs,
    body: Result<Json<RuleDefinition>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let params = QueryParams::new(pairs);
    let Json(definition) = body?;
    let valid = state.context.registry.validate(&definition)?;
    let group = RuleGroup::api(&tenant, &valid);
    test_evaluation(&state, &group, &valid.rule, &params).await
}

async fn test_rule(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let params = QueryParams::new(pairs);
    let (group, rule) = state.context.registry.find(&tenant, &id)?;
    test_evaluation(&state, &group, &rule, &params).await
}

/// Evaluates a rule once on a fresh state and answers what it would make.
async fn test_evaluation(
    state: &AlertsState,
    group: &RuleGroup,
    rule: &Rule,
    params: &QueryParams,
) -> Result<Json<Value>, ApiError> {
    let at_ms = unix_seconds_param(params, "time", unix_millis_now())?;
    let series = instant_vector(
        &state.context,
        &group.tenant,
        rule.expr(),
        at_ms,
        group.interval,
    )
    .await
    .map_err(|error| ApiError::bad_request(format!("evaluation failed: {error}")))?;
    let RuleKind::Alerting(alerting) = &rule.kind else {
        let samples: Vec<Value> = series
            .into_iter()
            .map(|(labels, value)| json!({ "labels": labels, "value": value.is_finite().then_some(value) }))
            .collect();
        return Ok(Json(json!({ "query": rule.expr(), "samples": samples })));
    };
    let context = state.context.template_context();
    let mut fresh = RuleState::default();
    fresh
        .apply(alerting, series, at_ms, group.limit, &context)
        .map_err(|error| ApiError::bad_request(format!("evaluation failed: {error}")))?;
    let alerts: Vec<Value> = fresh
        .active()
        .map(|alert| render::alert_json(alert, rule, group))
        .collect();
    Ok(Json(json!({
        "query": rule.expr(),
        "time_unix_ms": at_ms,
        "alerts": alerts,
    })))
}

async fn active_alerts(
    State(state): State<AlertsState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let registry = &state.context.registry;
    let mut alerts = Vec::new();
    for group in registry.tenant_groups(&tenant) {
        for rule in &group.rules {
            if let Some(runtime) = registry.runtime(&(tenant.clone(), rule.key.clone())) {
                alerts.extend(
                    runtime
                        .state
                        .active()
                        .map(|alert| render::alert_json(alert, rule, &group)),
                );
            }
        }
    }
    Ok(Json(json!({ "alerts": alerts })))
}

async fn history(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Query(pairs): Pairs,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let params = QueryParams::new(pairs);
    let now_ms = unix_millis_now();
    let end_ms = unix_seconds_param(&params, "end", now_ms)?;
    let start_ms = unix_seconds_param(&params, "start", end_ms - 24 * 3_600_000)?;
    let limit = match params.get("limit") {
        None | Some("") => 1000,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_HISTORY_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid parameter limit: {text:?} must be between 1 and {MAX_HISTORY_LIMIT}"
                ))
            })?,
    };
    let rule_key = params.get("rule").map(|rule| {
        if rule.starts_with("file:") || rule.starts_with("api:") {
            rule.to_string()
        } else {
            crate::alerts::rule::api_rule_key(rule)
        }
    });
    let filter = HistoryFilter {
        rule_key,
        alertname: params.get("alertname").map(str::to_string),
        state: params.get("state").map(str::to_string),
        start_ms,
        end_ms,
        limit,
    };
    let entries = state
        .context
        .registry
        .db()
        .history(&tenant, filter)
        .await
        .map_err(AlertsError::from)?;
    let history: Vec<render::HistoryJson> = entries.into_iter().map(Into::into).collect();
    Ok(Json(json!({ "history": history })))
}

fn receivers_json(state: &AlertsState, tenant: &TenantId, only: Option<&str>) -> Vec<Value> {
    let registry = &state.context.registry;
    let statuses = registry.notifier().status(tenant);
    registry
        .receivers(tenant)
        .into_iter()
        .filter(|(spec, _)| only.is_none_or(|name| spec.name() == name))
        .map(|(spec, source)| {
            let targets = statuses
                .iter()
                .filter(|status| status.receiver == spec.name())
                .collect();
            render::receiver_json(
                serde_json::to_value(spec.to_redacted_definition()).unwrap_or(Value::Null),
                source,
                targets,
            )
        })
        .collect()
}

async fn list_receivers(
    State(state): State<AlertsState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    Ok(Json(
        json!({ "receivers": receivers_json(&state, &tenant, None) }),
    ))
}

fn one_receiver(
    state: &AlertsState,
    tenant: &TenantId,
    name: &str,
) -> Result<Json<Value>, ApiError> {
    receivers_json(state, tenant, Some(name))
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| {
            AlertsError::NotFound {
                what: "receiver",
                name: name.to_string(),
            }
            .into()
        })
}

async fn get_receiver(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    one_receiver(&state, &tenant, &name)
}

async fn create_receiver(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    body: Result<Json<ReceiverDefinition>, JsonRejection>,
) -> Result<Response, ApiError> {
    let tenant = state.tenant(&headers)?;
    let Json(definition) = body?;
    let spec = state
        .context
        .registry
        .put_receiver(&tenant, &definition, None)
        .await?;
    let shown = one_receiver(&state, &tenant, spec.name())?;
    Ok((StatusCode::CREATED, shown).into_response())
}

async fn replace_receiver(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<ReceiverDefinition>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let Json(definition) = body?;
    state
        .context
        .registry
        .put_receiver(&tenant, &definition, Some(&name))
        .await?;
    one_receiver(&state, &tenant, &name)
}

async fn delete_receiver(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = state.tenant(&headers)?;
    state
        .context
        .registry
        .delete_receiver(&tenant, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prometheus_rules(
    State(state): State<AlertsState>,
    headers: HeaderMap,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let tenant = state.tenant(&headers)?;
    let params = QueryParams::new(pairs);
    let kind = params.get("type");
    if let Some(kind) = kind.filter(|kind| !matches!(*kind, "alert" | "record")) {
        let body = json!({
            "status": "error",
            "errorType": "bad_data",
            "error": format!("invalid rule type {kind:?}: should be \"alert\" or \"record\""),
        });
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    let wanted = |name: &'static str| -> Vec<&str> { params.all(name).collect() };
    let (names, group_names, files) = (
        wanted("rule_name[]"),
        wanted("rule_group[]"),
        wanted("file[]"),
    );
    let groups: Vec<RuleGroup> = state
        .context
        .registry
        .tenant_groups(&tenant)
        .into_iter()
        .filter(|group| group_names.is_empty() || group_names.contains(&group.name.as_str()))
        .filter(|group| files.is_empty() || files.contains(&group.file.as_deref().unwrap_or("api")))
        .map(|mut group| {
            if !names.is_empty() {
                group.rules.retain(|rule| names.contains(&rule.name()));
            }
            group
        })
        .filter(|group| names.is_empty() || !group.rules.is_empty())
        .collect();
    let data = render::prometheus_rules(&state.context.registry, &groups, kind);
    Ok(Json(json!({ "status": "success", "data": data })).into_response())
}

async fn prometheus_alerts(
    State(state): State<AlertsState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let groups = state.context.registry.tenant_groups(&tenant);
    let data = render::prometheus_alerts(&state.context.registry, &groups);
    Ok(Json(json!({ "status": "success", "data": data })))
}
