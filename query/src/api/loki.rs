//! Loki's query API under `/loki/api/v1`, so Grafana's Loki data source (pointed at
//! `http://host:7878/loki`) and LogQL clients such as `logcli` work against Sightline
//! unchanged.
//!
//! - `query_range` (`query`, `start`, `end`, `since`, `limit`, `direction`, `step`) and
//!   `query` (`query`, `time`, `limit`, `direction`; metric queries only, as in Loki 3):
//!   LogQL over a [`LogSource`], evaluated on a blocking thread with a deadline and bounded
//!   concurrency. Streams group entries by all their labels, or, when the request carries
//!   `X-Loki-Response-Encoding-Flags: categorize-labels` (Grafana sends it), by stream labels
//!   with each entry's structured metadata and parsed labels as a third element.
//! - `labels`, `label/{name}/values` (`start`, `end`, `since`, `query`), `series`
//!   (`match[]`), `index/stats`, `index/volume`, `index/volume_range`, `detected_labels`:
//!   metadata over the streams of the range.
//! - `detected_fields` and `detected_field/{name}/values`: the fields of a query's newest
//!   lines (see `detected`), for Grafana's Logs Drilldown and query builder.
//! - `patterns` answers an empty list and `status/buildinfo` a Loki 3 version, so
//!   Grafana's feature checks pass; `tail` (WebSocket) is not served (404).
//!
//! Errors answer as Loki does: a plain-text message, 400 for a bad query or parameter
//! (unsupported LogQL included), 503 for a timeout, 500 (generic message, detail in the
//! log) for a failure of the store.

mod detected;
mod metadata;
mod params;
mod render;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};
use sightline_model::{ErrorClass, TenantId};
use sightline_store::scan;
use tokio::sync::Semaphore;

use self::params::{default_step_nanos, LokiRequest, HOUR_NANOS};
use self::render::render_query_result;
use super::{now_unix_nano, record_query_metrics, tenant_from_headers};
use crate::error::Error;
use crate::logql::ast::Expr;
use crate::logql::eval::MAX_STEPS;
use crate::logql::{self, Engine, LogSource, QueryParams};
use crate::QueryConfig;

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "loki";

/// How many LogQL evaluations run at once; more wait (up to `query.timeout_seconds`). Two cores
/// are the design target, and an evaluation keeps one busy.
const MAX_CONCURRENT_QUERIES: usize = 4;

/// The Loki version whose API this router answers like, for clients that check it.
const LOKI_COMPATIBLE_VERSION: &str = "3.4.0";

/// What every Loki handler shares.
#[derive(Clone)]
pub(crate) struct LokiState {
    /// Where log entries come from.
    pub(crate) source: Arc<dyn LogSource>,
    /// Query settings (multi-tenancy).
    pub(crate) config: Arc<QueryConfig>,
    /// Bounds concurrent evaluations (see [`MAX_CONCURRENT_QUERIES`]).
    pub(crate) permits: Arc<Semaphore>,
}

impl LokiState {
    /// When a LogQL query starting now must have answered (`query.timeout_seconds`, waiting
    /// for its turn included).
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.config.timeout_seconds)
    }

    /// Creates the state for a source.
    pub(crate) fn new(source: Arc<dyn LogSource>, config: Arc<QueryConfig>) -> Self {
        Self {
            source,
            config,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_QUERIES)),
        }
    }

    fn tenant(&self, request: &LokiRequest) -> Result<TenantId, LokiError> {
        Ok(tenant_from_headers(
            &request.headers,
            self.config.multi_tenancy,
        )?)
    }

    /// Runs `work` on a blocking thread once a permit is free, within the query deadline.
    async fn run_blocking<T: Send + 'static>(
        &self,
        deadline: Instant,
        work: impl FnOnce() -> Result<T, LokiError> + Send + 'static,
    ) -> Result<T, LokiError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let permit = tokio::time::timeout(wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| LokiError::Logql(logql::Error::Timeout))?
            .map_err(|_| LokiError::Query(Error::TaskFailed("query permits closed".into())))?;
        let budget = scan::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            scan::in_budget(budget, work)
        })
        .await
        .map_err(|error| LokiError::Query(Error::TaskFailed(format!("logql query: {error}"))))?
    }
}

/// Builds the `/loki/api/v1` router over a log source.
pub(crate) fn router(state: LokiState) -> Router {
    Router::new()
        .route("/query_range", get(range_query).post(range_query))
        .route("/query", get(instant_query).post(instant_query))
        .route(
            "/labels",
            get(metadata::label_names).post(metadata::label_names),
        )
        .route("/label/{name}/values", get(metadata::label_values))
        .route("/series", get(metadata::series).post(metadata::series))
        .route(
            "/index/stats",
            get(metadata::index_stats).post(metadata::index_stats),
        )
        .route(
            "/index/volume",
            get(metadata::volume).post(metadata::volume),
        )
        .route(
            "/index/volume_range",
            get(metadata::volume_range).post(metadata::volume_range),
        )
        .route("/detected_labels", get(metadata::detected_labels))
        .route("/detected_fields", get(detected::detected_fields))
        .route(
            "/detected_field/{name}/values",
            get(detected::detected_field_values),
        )
        .route("/patterns", get(patterns))
        .route("/status/buildinfo", get(build_info))
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

/// A failure answered as Loki does: plain text with the status of its class.
#[derive(Debug)]
pub(crate) enum LokiError {
    /// A parameter, tenant or task failure.
    Query(Error),
    /// A LogQL parse or evaluation failure.
    Logql(logql::Error),
}

impl From<Error> for LokiError {
    fn from(error: Error) -> Self {
        Self::Query(error)
    }
}

impl From<logql::Error> for LokiError {
    fn from(error: logql::Error) -> Self {
        Self::Logql(error)
    }
}

impl From<sightline_model::TenantIdError> for LokiError {
    fn from(error: sightline_model::TenantIdError) -> Self {
        Self::Query(Error::InvalidTenant(error))
    }
}

impl IntoResponse for LokiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            LokiError::Query(error) => error.to_http(),
            LokiError::Logql(error) => {
                let class = error.class();
                let status = StatusCode::from_u16(class.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if class == ErrorClass::Internal {
                    tracing::error!(error = %error, "logql query failed");
                    (
                        status,
                        "internal error; details are in the server log".to_string(),
                    )
                } else {
                    (status, error.to_string())
                }
            }
        };
        let mut response = (status, message).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// `GET|POST /query_range`: a log or metric query over a range.
async fn range_query(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Response, LokiError> {
    let tenant = state.tenant(&request)?;
    let expr = logql::parse(request.query()?)?;
    let now = now_unix_nano();
    let (start, end) = request.time_range(now, HOUR_NANOS)?;
    state.config.check_time_range(start, end)?;
    let mut params = QueryParams {
        start_unix_nano: start,
        end_unix_nano: end,
        step_nanos: 0,
        limit: request.limit()?,
        direction: request.direction()?,
    };
    if end < start {
        return Err(Error::invalid_parameter(
            "end",
            "end timestamp must not be before or equal to start time",
        )
        .into());
    }
    if matches!(expr, Expr::Metric(_)) {
        let step = request
            .duration("step")?
            .unwrap_or_else(|| default_step_nanos(start, end));
        if step == 0 {
            return Err(Error::invalid_parameter(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            )
            .into());
        }
        if (end - start) / step >= MAX_STEPS as u64 {
            return Err(logql::Error::TooManySteps { limit: MAX_STEPS }.into());
        }
        params.step_nanos = step;
    }
    evaluate(state, tenant, expr, params, request.categorize_labels()).await
}

/// `GET|POST /query`: a metric query at one instant (`time`, default now).
async fn instant_query(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Response, LokiError> {
    let tenant = state.tenant(&request)?;
    let expr = logql::parse(request.query()?)?;
    if matches!(expr, Expr::Log(_)) {
        return Err(Error::invalid_parameter(
            "query",
            "log queries are not supported as an instant query type, please change your query to a range query type",
        )
        .into());
    }
    let time = request.time("time")?.unwrap_or_else(now_unix_nano);
    let params = QueryParams {
        start_unix_nano: time,
        end_unix_nano: time,
        step_nanos: 0,
        limit: request.limit()?,
        direction: request.direction()?,
    };
    evaluate(state, tenant, expr, params, request.categorize_labels()).await
}

/// Evaluates and renders off the reactor.
async fn evaluate(
    state: LokiState,
    tenant: TenantId,
    expr: Expr,
    params: QueryParams,
    categorize: bool,
) -> Result<Response, LokiError> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(state.config.timeout_seconds);
    let source = state.source.clone();
    let body = state
        .run_blocking(deadline, move || {
            let engine = Engine::new(source.as_ref(), &tenant).with_deadline(deadline);
            let result = engine.evaluate(&expr, &params)?;
            let rendered = render_query_result(
                &result,
                categorize,
                engine.stats(),
                started.elapsed().as_secs_f64(),
                params.end_unix_nano,
            );
            serde_json::to_vec(&rendered).map_err(|error| {
                LokiError::Query(Error::Encode {
                    what: "loki query result",
                    reason: error.to_string(),
                })
            })
        })
        .await?;
    Ok(json_bytes(body))
}

/// Answers a JSON body.
fn json_bytes(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `GET /patterns`: no pattern detection; an empty answer keeps Grafana's pattern tab quiet.
async fn patterns() -> Json<Value> {
    Json(json!({"status": "success", "data": []}))
}

/// `GET /status/buildinfo`: the Loki version this API answers like.
async fn build_info() -> Json<Value> {
    Json(json!({
        "version": LOKI_COMPATIBLE_VERSION,
        "revision": "",
        "branch": "",
        "buildUser": "sightline",
        "buildDate": "",
        "goVersion": ""
    }))
}
