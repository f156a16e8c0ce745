//! The HTTP routers (`native`, `logs`, `jaeger`, `prometheus`) and what they share: state, tenant
//! selection, self-metrics, and loading traces from the store with assembly kept off the
//! reactor.

pub(crate) mod alerts;
pub(crate) mod evaluate;
pub(crate) mod form;
pub(crate) mod health;
pub(crate) mod health_checks;
pub(crate) mod jaeger;
pub(crate) mod logs;
pub(crate) mod loki;
pub(crate) mod native;
pub(crate) mod prometheus;
pub(crate) mod tokens;
pub(crate) mod write_error;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use http::HeaderMap;
use sightline_model::auth::AUTHENTICATED_TENANT_HEADER;
use sightline_model::{SpanRow, TenantId, TraceId};
use sightline_store::scan::{self, ScanBudget};
use sightline_store::{LogStore, MetricStore, SpanStore};

use crate::error::Error;
use crate::search::QueryParams;
use crate::trace::{assemble_trace, AssembledTrace};
use crate::QueryConfig;

/// The header that names the tenant when multi-tenancy is on (as in Loki, Mimir and Tempo).
pub(crate) const TENANT_HEADER: &str = "X-Scope-OrgID";

/// How many traces a search fetches from the store at once.
const SEARCH_FETCH_CONCURRENCY: usize = 8;

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: SpanStore,
    /// Metric samples, for the Prometheus API.
    pub(crate) metrics: MetricStore,
    /// Log records, for the native log API (and LogQL).
    pub(crate) logs: LogStore,
    /// Bounds concurrent live-tail subscribers (see `logs::tail`).
    pub(crate) tail_permits: Arc<tokio::sync::Semaphore>,
    pub(crate) config: Arc<QueryConfig>,
    /// Bounds concurrent PromQL evaluations (see `prometheus::new_query_permits`).
    pub(crate) promql_permits: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Picks the tenant for a request: the default tenant, unless multi-tenancy is on and the
    /// request carries `X-Scope-OrgID`.
    pub(crate) fn tenant(&self, headers: &HeaderMap) -> Result<TenantId, Error> {
        tenant_from_headers(headers, self.config.multi_tenancy)
    }

    /// How long a PromQL evaluation may run (`query.promql_timeout_seconds`).
    pub(crate) fn promql_timeout(&self) -> Duration {
        Duration::from_secs(self.config.promql_timeout_seconds)
    }

    /// Loads and assembles one trace.
    ///
    /// # Errors
    /// [`Error::TraceNotFound`] when no span of it is stored; store and task failures.
    pub(crate) async fn load_trace(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
    ) -> Result<AssembledTrace, Error> {
        let rows = self.store.find_trace(tenant, trace_id).await?;
        assemble_off_reactor(rows)
            .await?
            .ok_or(Error::TraceNotFound { trace_id })
    }

    /// Loads and assembles several traces in the given order, skipping any that vanished
    /// (retention) since their ids were found.
    pub(crate) async fn load_traces(
        &self,
        tenant: &TenantId,
        trace_ids: Vec<TraceId>,
    ) -> Result<Vec<AssembledTrace>, Error> {
        let traces: Vec<Option<AssembledTrace>> = futures::stream::iter(trace_ids)
            .map(|trace_id| async move {
                let rows = self.store.find_trace(tenant, trace_id).await?;
                assemble_off_reactor(rows).await
            })
            .buffered(SEARCH_FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(traces.into_iter().flatten().collect())
    }
}

/// Runs one request under a fresh scan budget of `limit_bytes` (0 = unlimited): what it
/// reads from stored parts and log records is charged to it (see [`sightline_store::scan`]).
pub(crate) async fn scan_budget(
    State(limit_bytes): State<u64>,
    request: Request,
    next: Next,
) -> Response {
    scan::with_budget(ScanBudget::new(limit_bytes), next.run(request)).await
}

/// Answers HTTP 503 when one request takes longer than `limit` (`query.timeout_seconds`) to
/// produce its response (a streaming body, such as the live tail's, is not timed). The body
/// carries the message both as the native API's `error` and as Jaeger's `errors`.
pub(crate) async fn time_limit(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!(
                "the query did not finish within {}s (query.timeout_seconds); narrow its time range or filters",
                limit.as_secs()
            );
            let body = serde_json::json!({
                "error": message,
                "errors": [{"code": 503, "msg": message}],
            });
            (http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// The query string's parameters, or a 400 naming what could not be parsed.
pub(crate) fn query_params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<QueryParams, Error> {
    let Query(pairs) =
        query.map_err(|rejection| Error::invalid_parameter("query", rejection.body_text()))?;
    Ok(QueryParams::new(pairs))
}

/// Parses a trace id from a path segment.
///
/// # Errors
/// [`Error::InvalidTraceId`] when the text is not 1 to 32 hex digits or is all zeros.
pub(crate) fn parse_trace_id(text: &str) -> Result<TraceId, Error> {
    text.parse().map_err(|source| Error::InvalidTraceId {
        text: text.to_string(),
        source,
    })
}

/// Returns the current time in unix nanoseconds (zero if the clock is before 1970).
pub(crate) fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// Selects the tenant from the headers: the one the binary's authentication set
/// ([`AUTHENTICATED_TENANT_HEADER`], which it strips from what clients send), else
/// `X-Scope-OrgID` when multi-tenancy is on, else the default tenant.
pub(crate) fn tenant_from_headers(
    headers: &HeaderMap,
    multi_tenancy: bool,
) -> Result<TenantId, Error> {
    if let Some(value) = headers.get(AUTHENTICATED_TENANT_HEADER) {
        let text = String::from_utf8_lossy(value.as_bytes());
        return Ok(TenantId::new(text.trim())?);
    }
    if !multi_tenancy {
        return Ok(TenantId::default_tenant());
    }
    match headers.get(TENANT_HEADER) {
        None => Ok(TenantId::default_tenant()),
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                sightline_model::TenantIdError(
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })?;
            Ok(TenantId::new(text.trim())?)
        }
    }
}

/// Assembles a trace on the blocking pool: large traces take longer than a reactor turn may.
async fn assemble_off_reactor(rows: Vec<SpanRow>) -> Result<Option<AssembledTrace>, Error> {
    if rows.is_empty() {
        return Ok(None);
    }
    tokio::task::spawn_blocking(move || assemble_trace(rows))
        .await
        .map_err(|error| Error::TaskFailed(format!("trace assembly: {error}")))
}

/// Runs a blocking rendering step (serialising a large trace) off the reactor.
pub(crate) async fn render_off_reactor<T: Send + 'static>(
    render: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(render)
        .await
        .map_err(|error| Error::TaskFailed(format!("rendering: {error}")))?
}

/// Records `sightline_query_duration_seconds` and `sightline_query_requests_total` for a
/// request. The endpoint label is the matched route template, so its values are bounded.
pub(crate) async fn record_query_metrics(
    State(api): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    metrics::histogram!("sightline_query_duration_seconds", "api" => api, "endpoint" => endpoint.clone())
        .record(elapsed);
    metrics::counter!("sightline_query_requests_total", "api" => api, "endpoint" => endpoint, "status" => status)
        .increment(1);
    response
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn a_request_past_the_time_limit_answers_503_naming_the_setting() {
        let app = axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fast", axum::routing::get(|| async { "soon" }))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(50),
                time_limit,
            ));
        let call = |path: &'static str| {
            app.clone().oneshot(
                http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
        };
        let slow = call("/slow").await.unwrap();
        assert_eq!(slow.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(slow.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("query.timeout_seconds"),
            "{body}"
        );
        assert_eq!(body["errors"][0]["code"], 503);
        assert_eq!(call("/fast").await.unwrap().status(), http::StatusCode::OK);
    }

    #[test]
    fn tenant_header_only_counts_with_multi_tenancy() {
        let mut headers = HeaderMap::new();
        headers.insert(TENANT_HEADER, HeaderValue::from_static("team-a"));
        assert_eq!(
            tenant_from_headers(&headers, false).unwrap().as_str(),
            "default"
        );
        assert_eq!(
            tenant_from_headers(&headers, true).unwrap().as_str(),
            "team-a"
        );
        assert_eq!(
            tenant_from_headers(&HeaderMap::new(), true)
                .unwrap()
                .as_str(),
            "default"
        );
        let mut authenticated = headers.clone();
        authenticated.insert(
            AUTHENTICATED_TENANT_HEADER,
            HeaderValue::from_static("team-b"),
        );
        assert_eq!(
            tenant_from_headers(&authenticated, false).unwrap().as_str(),
            "team-b",
            "the authenticated tenant wins, multi-tenancy or not"
        );
        headers.insert(TENANT_HEADER, HeaderValue::from_static("../etc"));
        let error = tenant_from_headers(&headers, true).unwrap_err();
        assert_eq!(error.to_http().0, http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn trace_ids_parse_or_explain() {
        assert!(parse_trace_id("5b8efff798038103d269b633813fc60c").is_ok());
        assert!(matches!(
            parse_trace_id("not-hex"),
            Err(Error::InvalidTraceId { .. })
        ));
    }
}
