//! The native log API under `/api/v1`, for the UI's log explorer:
//!
//! - `GET /api/v1/logs?q=&service=&severity=&start=&end=&limit=&cursor=&direction=`: one page
//!   of records, newest first (`direction=forward`: oldest first), with `next_cursor` to pass
//!   back as `cursor` for the next page (absent on the last page). `q` is the store's query
//!   language ([`LogFilter`]: words, "phrases", AND/OR/NOT, `key:value`); `severity` is a
//!   minimum, as a number (1–24) or a name (`trace`, `debug`, `info`, `warn`, `error`,
//!   `fatal`); `start`/`end` are unix nanoseconds or RFC 3339 (default: the last hour).
//! - `GET /api/v1/logs/histogram?…&step=` (or `buckets=`): matches per time bucket for the
//!   explorer's chart, same filters.
//! - `GET /api/v1/traces/{trace_id}/logs`: the records of one trace, oldest first.
//! - `GET /api/v1/logs/tail?q=&service=&severity=`: live tail as server-sent events: one
//!   `log` event per new matching record (the record's JSON), a `lagged` event when the client
//!   fell behind and records were skipped.
//!
//! The store is also LogQL's [`LogSource`](crate::logql::LogSource) (`logql_source`), so
//! the Loki API reads the same records.
//!
//! Errors are `{"error": "..."}` with the status from [`Error::to_http`].

mod logql_source;
mod render;
mod tail;

pub(crate) use tail::new_tail_permits;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use http::HeaderMap;
use sightline_store::logs::{LogCursor, LogDirection, LogFilter, LogQuery};

use super::{now_unix_nano, parse_trace_id, record_query_metrics, AppState};
use crate::error::Error;
use crate::search::{parse_duration_nanos, parse_timestamp_unix_nano, QueryParams};

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "native_logs";
/// Records per page when the request gives no `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
const MAX_LIMIT: usize = 5_000;
/// Records of one trace returned at most.
const MAX_TRACE_LOGS: usize = 10_000;
/// Buckets of a histogram when the request gives neither `step` nor `buckets`.
const DEFAULT_BUCKETS: u64 = 60;
/// The most buckets a histogram may have.
const MAX_BUCKETS: u64 = 11_000;
/// The window searched when the request gives no `start`.
const DEFAULT_LOOKBACK_NANOS: u64 = 3_600_000_000_000;

/// Builds the log routes, to be nested under `/api/v1` next to the trace routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/logs", get(search_logs))
        .route("/logs/histogram", get(histogram))
        .route("/logs/tail", get(tail::tail))
        .route("/traces/{trace_id}/logs", get(trace_logs))
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

/// An error answered as `{"error": "..."}`.
pub(crate) struct LogsError(Error);

impl From<Error> for LogsError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl From<sightline_store::Error> for LogsError {
    fn from(error: sightline_store::Error) -> Self {
        Self(Error::from(error))
    }
}

impl IntoResponse for LogsError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.to_http();
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

fn params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<QueryParams, Error> {
    let Query(pairs) =
        query.map_err(|rejection| Error::invalid_parameter("query", rejection.body_text()))?;
    Ok(QueryParams::new(pairs))
}

/// Parses the filters shared by every log endpoint: `q`, `service`, `severity`, `start`,
/// `end`.
pub(crate) fn parse_log_filters(params: &QueryParams, now: u64) -> Result<LogQuery, Error> {
    let filter = LogFilter::parse(params.get("q").unwrap_or_default())
        .map_err(|error| Error::invalid_parameter("q", error.to_string()))?;
    let timestamp = |name: &'static str| -> Result<Option<u64>, Error> {
        params
            .get(name)
            .map(|text| {
                parse_timestamp_unix_nano(text, 1)
                    .map_err(|reason| Error::invalid_parameter(name, reason))
            })
            .transpose()
    };
    let end_unix_nano = timestamp("end")?.unwrap_or(now);
    let start_unix_nano =
        timestamp("start")?.unwrap_or_else(|| end_unix_nano.saturating_sub(DEFAULT_LOOKBACK_NANOS));
    if start_unix_nano > end_unix_nano {
        return Err(Error::invalid_parameter("start", "must not be after end"));
    }
    let min_severity_number = params.get("severity").map(parse_severity).transpose()?;
    Ok(LogQuery {
        start_unix_nano,
        end_unix_nano,
        service: params
            .get("service")
            .filter(|service| !service.is_empty())
            .map(str::to_string),
        min_severity_number,
        filter,
        ..LogQuery::default()
    })
}

/// Parses a minimum severity: an OTLP severity number or a level name.
fn parse_severity(text: &str) -> Result<i32, Error> {
    if let Ok(number) = text.parse::<i32>() {
        if (0..=24).contains(&number) {
            return Ok(number);
        }
    }
    let number = match text.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" | "information" => 9,
        "warn" | "warning" => 13,
        "error" | "err" => 17,
        "fatal" | "critical" => 21,
        _ => {
            return Err(Error::invalid_parameter(
                "severity",
                format!("{text:?} is not a number from 0 to 24 or one of trace, debug, info, warn, error, fatal"),
            ))
        }
    };
    Ok(number)
}

fn parse_limit(params: &QueryParams) -> Result<usize, Error> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            _ => Err(Error::invalid_parameter(
                "limit",
                format!("{text:?} is not a number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

fn parse_direction(params: &QueryParams) -> Result<LogDirection, Error> {
    match params
        .get("direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("backward" | "desc" | "newest") => Ok(LogDirection::Backward),
        Some("forward" | "asc" | "oldest") => Ok(LogDirection::Forward),
        Some(other) => Err(Error::invalid_parameter(
            "direction",
            format!("{other:?} is not one of backward, forward"),
        )),
    }
}

async fn search_logs(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, LogsError> {
    let params = params(query)?;
    let mut log_query = parse_log_filters(&params, now_unix_nano())?;
    log_query.limit = parse_limit(&params)?;
    log_query.direction = parse_direction(&params)?;
    log_query.cursor = params
        .get("cursor")
        .filter(|text| !text.is_empty())
        .map(|text| {
            text.parse::<LogCursor>()
                .map_err(|error| Error::invalid_parameter("cursor", error.to_string()))
        })
        .transpose()?;
    let tenant = state.tenant(&headers)?;
    let page = state.logs.search(&tenant, log_query).await?;
    Ok(Json(render::PageJson::from_page(&page)).into_response())
}

async fn histogram(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, LogsError> {
    let params = params(query)?;
    let log_query = parse_log_filters(&params, now_unix_nano())?;
    let span = log_query.end_unix_nano - log_query.start_unix_nano + 1;
    let step = match (params.get("step"), params.get("buckets")) {
        (Some(text), _) => {
            parse_duration_nanos(text).map_err(|reason| Error::invalid_parameter("step", reason))?
        }
        (None, Some(text)) => match text.parse::<u64>() {
            Ok(buckets) if (1..=MAX_BUCKETS).contains(&buckets) => span.div_ceil(buckets),
            _ => {
                return Err(Error::invalid_parameter(
                    "buckets",
                    format!("{text:?} is not a number from 1 to {MAX_BUCKETS}"),
                )
                .into())
            }
        },
        (None, None) => span.div_ceil(DEFAULT_BUCKETS),
    }
    .max(1);
    let buckets = span.div_ceil(step);
    if buckets > MAX_BUCKETS {
        return Err(Error::invalid_parameter(
            "step",
            format!("the range would have {buckets} buckets; at most {MAX_BUCKETS} are allowed"),
        )
        .into());
    }
    let tenant = state.tenant(&headers)?;
    let start = log_query.start_unix_nano;
    let histogram = state
        .logs
        .histogram(&tenant, log_query, start, step, buckets as usize)
        .await?;
    Ok(Json(render::HistogramJson::from_histogram(&histogram)).into_response())
}

async fn trace_logs(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, LogsError> {
    let Path(text) =
        path.map_err(|rejection| Error::invalid_parameter("trace_id", rejection.body_text()))?;
    let trace_id = parse_trace_id(&text)?;
    let tenant = state.tenant(&headers)?;
    let hits = state
        .logs
        .find_trace_logs(&tenant, trace_id, MAX_TRACE_LOGS)
        .await?;
    Ok(Json(render::TraceLogsJson {
        trace_id: trace_id.to_hex(),
        records: hits.iter().map(render::RecordJson::from_hit).collect(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use sightline_model::{AnyValue, LogBatch, LogRecord, ResourceLogs, ScopeLogs, TenantId};
    use sightline_store::{LogStore, MetricStore, SpanStore, StoreConfig};
    use tower::ServiceExt;

    use super::*;

    fn one_record(body: &str) -> LogBatch {
        LogBatch {
            resources: vec![ResourceLogs {
                scopes: vec![ScopeLogs {
                    logs: vec![LogRecord {
                        time_unix_nano: now_unix_nano(),
                        severity_number: 17,
                        body: Some(AnyValue::String(body.to_string())),
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
    }

    #[tokio::test]
    async fn search_and_live_tail_over_http() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            data_dir: dir.path().to_path_buf(),
            ..StoreConfig::default()
        };
        let logs = LogStore::open(config.clone()).await.unwrap();
        let app = crate::router(
            SpanStore::open(config.clone()).await.unwrap(),
            MetricStore::open(config).await.unwrap(),
            logs.clone(),
            crate::QueryConfig::default(),
        );
        let tenant = TenantId::default_tenant();
        logs.append(&tenant, one_record("disk almost full"))
            .await
            .unwrap();
        let response = app
            .clone()
            .oneshot(
                http::Request::get("/api/v1/logs?q=disk&severity=error")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["records"][0]["body"], "disk almost full", "{json}");
        assert_eq!(json["records"][0]["body_type"], "string");

        let response = app
            .oneshot(
                http::Request::get("/api/v1/logs/tail?q=%22cpu%20hot%22")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        let mut body = response.into_body();
        logs.append(&tenant, one_record("ignored line"))
            .await
            .unwrap();
        logs.append(&tenant, one_record("cpu hot on node 3"))
            .await
            .unwrap();
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
        assert!(text.starts_with("event: log"), "{text}");
        assert!(text.contains("cpu hot on node 3"), "{text}");
        assert!(!text.contains("ignored"), "{text}");
    }

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn filters_parse_or_name_the_parameter() {
        let query = parse_log_filters(
            &params(&[
                ("q", "error NOT debug"),
                ("severity", "warn"),
                ("start", "10"),
                ("end", "20"),
            ]),
            1_000,
        )
        .unwrap();
        assert_eq!(query.min_severity_number, Some(13));
        assert_eq!((query.start_unix_nano, query.end_unix_nano), (10, 20));
        let default = parse_log_filters(&params(&[]), DEFAULT_LOOKBACK_NANOS + 5).unwrap();
        assert_eq!(default.start_unix_nano, 5);
        for (name, value) in [
            ("q", "(open"),
            ("severity", "loud"),
            ("start", "yesterday"),
            ("start", "30"),
        ] {
            let mut pairs = vec![(name, value)];
            if value == "30" {
                pairs.push(("end", "20"));
            }
            let error = parse_log_filters(&params(&pairs), 1_000).unwrap_err();
            assert!(
                matches!(error, Error::InvalidParameter { name: n, .. } if n == name),
                "{name}={value}: {error}"
            );
        }
        assert!(parse_limit(&params(&[("limit", "0")])).is_err());
        assert_eq!(
            parse_direction(&params(&[("direction", "forward")])).unwrap(),
            LogDirection::Forward
        );
        assert!(parse_direction(&params(&[("direction", "up")])).is_err());
    }
}
