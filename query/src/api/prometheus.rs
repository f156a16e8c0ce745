//! Prometheus' HTTP API under `/prometheus/api/v1`, so Grafana's Prometheus data source (and
//! any Prometheus API client) works against Sightline unchanged. Every endpoint answers GET;
//! those Prometheus also answers on POST take the same parameters form-encoded in the body.
//!
//! - `query` (`query`, `time`, `timeout`, `lookback_delta`) and `query_range` (`start`, `end`,
//!   `step` as float seconds or a duration; at most 11,000 steps): PromQL over the metric
//!   store, evaluated on a blocking thread (see `super::evaluate`).
//! - `series` (`match[]` required, `start`, `end`, `limit`), `labels` and
//!   `label/{name}/values` (`match[]`, `start`, `end`, `limit`): metadata over the series
//!   with samples in the range; a `limit` that cuts the answer adds a warning.
//! - `metadata` (`metric`, `limit`), `query_exemplars` (`query`, `start`, `end`).
//! - `format_query`, `status/buildinfo`, `status/flags`.
//!
//! Answers are Prometheus' envelope: `{"status":"success","data":…,"warnings":[…]}`, or
//! `{"status":"error","errorType":…,"error":…}`. The error types and their statuses are
//! Prometheus' contract, not [`Error::to_http`]'s: `bad_data` 400, `execution` 422,
//! `timeout`/`canceled`/`unavailable` 503, `not_found` 404, `internal` 500 (with the generic
//! message of [`Error::to_http`]). See [`error_type`].

mod metadata;
mod params;
mod render;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::Expr;
use sightline_model::ErrorClass;
use tokio::sync::Semaphore;

use self::metadata::{label_names, label_values, metadata, query_exemplars, series};
use self::params::{duration_param, required_time_param, time_param, FormParams, PromRequest};
use super::evaluate::{evaluate_off_reactor, MAX_CONCURRENT_QUERIES};
use super::{now_unix_nano, record_query_metrics, AppState};
use crate::error::Error;
use crate::promql::engine::{parse_query, MAX_POINTS_PER_SERIES};
use crate::promql::{self, Engine, Value};
use crate::QueryConfig;

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "prometheus";

/// The Prometheus version whose API and PromQL this router answers like; clients such as
/// Grafana read it from `status/buildinfo` to pick features.
const PROMETHEUS_COMPATIBLE_VERSION: &str = "3.0.0";

/// Creates the permits that bound concurrent PromQL evaluations, one set per router.
pub(crate) fn new_query_permits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_CONCURRENT_QUERIES))
}

/// Builds the `/prometheus/api/v1` router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/query", get(instant_query).post(instant_query))
        .route("/query_range", get(range_query).post(range_query))
        .route(
            "/query_exemplars",
            get(query_exemplars).post(query_exemplars),
        )
        .route("/format_query", get(format_query).post(format_query))
        .route("/series", get(series).post(series))
        .route("/labels", get(label_names).post(label_names))
        .route("/label/{name}/values", get(label_values))
        .route("/metadata", get(metadata))
        .route("/status/buildinfo", get(build_info))
        .route("/status/flags", get(flags))
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

/// Prometheus' `errorType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    NotFound,
    Unavailable,
    Internal,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
            ErrorType::Internal => "internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Canceled | ErrorType::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Classifies an error as Prometheus would: PromQL that cannot run is `execution`, not bad
/// input; everything else follows its [`ErrorClass`].
pub(crate) fn error_type(error: &Error) -> ErrorType {
    match error {
        Error::Promql(promql::Error::Parse { .. } | promql::Error::InvalidParameter { .. }) => {
            ErrorType::BadData
        }
        Error::Promql(promql::Error::Execution { .. } | promql::Error::Unsupported { .. }) => {
            ErrorType::Execution
        }
        Error::Promql(promql::Error::Timeout) => ErrorType::Timeout,
        Error::Promql(promql::Error::Canceled) => ErrorType::Canceled,
        other => match other.class() {
            ErrorClass::Internal => ErrorType::Internal,
            ErrorClass::Unavailable | ErrorClass::RateLimited => ErrorType::Unavailable,
            ErrorClass::NotFound => ErrorType::NotFound,
            ErrorClass::InvalidInput
            | ErrorClass::TooLarge
            | ErrorClass::UnsupportedMediaType
            | ErrorClass::Unauthenticated
            | ErrorClass::Forbidden
            | ErrorClass::Conflict => ErrorType::BadData,
        },
    }
}

/// An error answered in Prometheus' error envelope.
pub(crate) struct PrometheusError(Error);

impl<E: Into<Error>> From<E> for PrometheusError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for PrometheusError {
    fn into_response(self) -> Response {
        let error_type = error_type(&self.0);
        let (_, message) = self.0.to_http();
        let body = serde_json::json!({
            "status": "error",
            "errorType": error_type.as_str(),
            "error": message,
        });
        (
            error_type.status(),
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body.to_string(),
        )
            .into_response()
    }
}

type Answer = Result<Response, PrometheusError>;

/// Answers `data` (already JSON) in the success envelope.
fn success(data: &[u8], warnings: &[String]) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        render::success_envelope(data, warnings),
    )
        .into_response()
}

/// Answers a serde value in the success envelope.
fn success_json(data: &impl serde::Serialize) -> Answer {
    let data = serde_json::to_vec(data).map_err(|error| Error::Encode {
        what: "prometheus json",
        reason: error.to_string(),
    })?;
    Ok(success(&data, &[]))
}

fn now_ms() -> i64 {
    i64::try_from(now_unix_nano() / 1_000_000).unwrap_or(i64::MAX)
}

/// The query's timeout: the `timeout` parameter, capped by (and defaulting to)
/// [`QueryConfig::promql_timeout_seconds`].
fn query_timeout(params: &FormParams, config: &QueryConfig) -> Result<Duration, Error> {
    let limit = Duration::from_secs(config.promql_timeout_seconds);
    Ok(match duration_param(params, "timeout")? {
        None => limit,
        Some(nanos) => Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)).min(limit),
    })
}

/// The engine for one request: defaults, with the configured sample limit and the
/// `lookback_delta` parameter applied.
fn engine_for(params: &FormParams, config: &QueryConfig) -> Result<Engine, Error> {
    let mut engine = config.promql_engine();
    match duration_param(params, "lookback_delta")? {
        Some(nanos) if nanos < 0 => {
            return Err(Error::invalid_parameter(
                "lookback_delta",
                "lookback delta must not be negative",
            ))
        }
        Some(nanos) if nanos > 0 => {
            engine.lookback_delta = Duration::from_nanos(nanos.unsigned_abs());
        }
        _ => {}
    }
    Ok(engine)
}

async fn instant_query(State(state): State<AppState>, request: PromRequest) -> Answer {
    let params = &request.params;
    let time_ms = time_param(params, "time", now_ms())?;
    let timeout = query_timeout(params, &state.config)?;
    let engine = engine_for(params, &state.config)?;
    let query = params.first("query").unwrap_or_default().to_string();
    let tenant = state.tenant(&request.headers)?;
    let data = evaluate_off_reactor(&state, tenant, timeout, move |source| {
        let value = engine.instant_query(source, &query, time_ms)?;
        Ok(render::query_data(&value, time_ms))
    })
    .await?;
    Ok(success(&data, &[]))
}

/// The parameters of a range query, checked in Prometheus' order with its messages.
#[derive(Debug)]
struct RangeParams {
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
}

fn range_params(params: &FormParams) -> Result<RangeParams, Error> {
    let start_ms = required_time_param(params, "start")?;
    let end_ms = required_time_param(params, "end")?;
    if end_ms < start_ms {
        return Err(Error::invalid_parameter(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_nanos = match duration_param(params, "step")? {
        Some(nanos) => nanos,
        None => {
            return Err(Error::invalid_parameter(
                "step",
                "cannot parse \"\" to a valid duration",
            ))
        }
    };
    if step_nanos <= 0 {
        return Err(Error::invalid_parameter(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let range_nanos = (i128::from(end_ms) - i128::from(start_ms)) * 1_000_000;
    if range_nanos / i128::from(step_nanos) > i128::from(MAX_POINTS_PER_SERIES) {
        return Err(Error::invalid_parameter(
            "step",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let step_ms = step_nanos / 1_000_000;
    if step_ms == 0 {
        return Err(Error::invalid_parameter(
            "step",
            "query resolution step must be at least 1ms",
        ));
    }
    Ok(RangeParams {
        start_ms,
        end_ms,
        step_ms,
    })
}

/// Rejects expressions a range query cannot evaluate, before any step runs, as Prometheus
/// does when it prepares the query.
fn check_range_expression(expr: &Expr) -> Result<(), Error> {
    let type_name = match expr.value_type() {
        ValueType::Vector | ValueType::Scalar => return Ok(()),
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    };
    Err(Error::Promql(promql::Error::InvalidParameter {
        name: "query",
        reason: format!(
            "invalid expression type \"{type_name}\" for range query, must be Scalar or instant Vector"
        ),
    }))
}

async fn range_query(State(state): State<AppState>, request: PromRequest) -> Answer {
    let params = &request.params;
    let range = range_params(params)?;
    let ms_to_nanos = |ms: i64| u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000);
    state
        .config
        .check_time_range(ms_to_nanos(range.start_ms), ms_to_nanos(range.end_ms))?;
    let timeout = query_timeout(params, &state.config)?;
    let engine = engine_for(params, &state.config)?;
    let query = params.first("query").unwrap_or_default().to_string();
    let tenant = state.tenant(&request.headers)?;
    let data = evaluate_off_reactor(&state, tenant, timeout, move |source| {
        check_range_expression(&parse_query(&query)?)?;
        let matrix =
            engine.range_query(source, &query, range.start_ms, range.end_ms, range.step_ms)?;
        Ok(render::query_data(&Value::Matrix(matrix), range.start_ms))
    })
    .await?;
    Ok(success(&data, &[]))
}

async fn format_query(request: PromRequest) -> Answer {
    let query = request.params.first("query").unwrap_or_default();
    let expr = parse_query(query)?;
    success_json(&expr.prettify())
}

async fn build_info() -> Answer {
    success_json(&serde_json::json!({
        "version": PROMETHEUS_COMPATIBLE_VERSION,
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
        "application": "Sightline",
        "sightlineVersion": env!("CARGO_PKG_VERSION"),
    }))
}

/// The settings that correspond to Prometheus' query flags.
async fn flags(State(state): State<AppState>) -> Answer {
    let engine = state.config.promql_engine();
    let timeout = Duration::from_secs(state.config.promql_timeout_seconds);
    success_json(&serde_json::json!({
        "query.lookback-delta": promql_parser::util::display_duration(&engine.lookback_delta),
        "query.max-concurrency": MAX_CONCURRENT_QUERIES.to_string(),
        "query.max-samples": engine.max_samples.to_string(),
        "query.timeout": promql_parser::util::display_duration(&timeout),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_follow_prometheus() {
        let parse = Error::Promql(promql::Error::Parse {
            message: "x".into(),
        });
        assert_eq!(error_type(&parse), ErrorType::BadData);
        assert_eq!(error_type(&parse).status(), StatusCode::BAD_REQUEST);
        let execution = Error::Promql(promql::Error::Execution {
            message: "many-to-many matching not allowed".into(),
        });
        assert_eq!(
            error_type(&execution).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            error_type(&Error::Promql(promql::Error::Timeout)),
            ErrorType::Timeout
        );
        assert_eq!(
            error_type(&Error::invalid_parameter("time", "bad")),
            ErrorType::BadData
        );
        assert_eq!(
            error_type(&Error::TaskFailed("panic".into())).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn range_parameters_are_checked_like_prometheus() {
        let params = |pairs: &[(&str, &str)]| {
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            params::tests_support::form(&text.join("&"))
        };
        let ok = range_params(&params(&[("start", "0"), ("end", "60"), ("step", "15s")])).unwrap();
        assert_eq!((ok.start_ms, ok.end_ms, ok.step_ms), (0, 60_000, 15_000));
        // 11,000 steps are allowed, one more is not.
        assert!(range_params(&params(&[("start", "0"), ("end", "11000"), ("step", "1")])).is_ok());
        let error =
            range_params(&params(&[("start", "0"), ("end", "11001"), ("step", "1")])).unwrap_err();
        assert!(error.to_string().contains("11,000 points"));
        for (pairs, name) in [
            (&[("start", "0"), ("end", "60")][..], "step"),
            (&[("start", "x"), ("end", "60"), ("step", "1")][..], "start"),
            (&[("start", "60"), ("end", "0"), ("step", "1")][..], "end"),
            (&[("start", "0"), ("end", "60"), ("step", "0")][..], "step"),
            (&[("start", "0"), ("end", "60"), ("step", "-1")][..], "step"),
        ] {
            match range_params(&params(pairs)) {
                Err(Error::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
                Err(other) => panic!("{pairs:?}: {other}"),
                Ok(_) => panic!("{pairs:?} accepted"),
            }
        }
    }

    #[test]
    fn range_queries_need_vectors_or_scalars() {
        assert!(check_range_expression(&parse_query("sum(up)").unwrap()).is_ok());
        assert!(check_range_expression(&parse_query("1 + 1").unwrap()).is_ok());
        let error = check_range_expression(&parse_query("up[5m]").unwrap()).unwrap_err();
        assert_eq!(error_type(&error), ErrorType::BadData);
        assert!(error.to_string().contains("\"range vector\""));
    }
}
