//! Loki's metadata endpoints: `labels`, `label/{name}/values`, `series`, `index/stats`,
//! `index/volume`, `index/volume_range` and `detected_labels`, over the streams of a time
//! range (six hours back from now by default, as in Loki).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::params::{default_step_nanos, LokiRequest, HOUR_NANOS};
use super::render::{labels_json, point};
use super::{LokiError, LokiState};
use crate::api::now_unix_nano;
use crate::error::Error;
use crate::logql::ast::{Grouping, LogExpr, MetricExpr, RangeOp, VectorOp};
use crate::logql::eval::MAX_STEPS;
use crate::logql::{self, Engine, LabelMatcher, QueryParams, QueryResult};

/// The default span of metadata queries.
const METADATA_SPAN_NANOS: u64 = 6 * HOUR_NANOS;

/// The default number of series `index/volume` answers.
const DEFAULT_VOLUME_LIMIT: usize = 100;

/// Reads the optional `query` selector and the time range of a metadata request.
fn selector_and_range(request: &LokiRequest) -> Result<(Vec<LabelMatcher>, u64, u64), LokiError> {
    let matchers = match request.first("query") {
        Some(text) => logql::parse_selector(text)?,
        None => Vec::new(),
    };
    let (start, end) = request.time_range(now_unix_nano(), METADATA_SPAN_NANOS)?;
    Ok((matchers, start, end))
}

fn success(data: Value) -> Json<Value> {
    Json(json!({"status": "success", "data": data}))
}

/// `GET|POST /labels`.
pub(super) async fn label_names(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let tenant = state.tenant(&request)?;
    let (matchers, start, end) = selector_and_range(&request)?;
    let source = state.source.clone();
    let names = state
        .run_blocking(state.deadline(), move || {
            Ok(source.label_names(&tenant, &matchers, start, end)?)
        })
        .await?;
    Ok(success(json!(names)))
}

/// `GET /label/{name}/values`.
pub(super) async fn label_values(
    State(state): State<LokiState>,
    Path(name): Path<String>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let tenant = state.tenant(&request)?;
    let (matchers, start, end) = selector_and_range(&request)?;
    let source = state.source.clone();
    let values = state
        .run_blocking(state.deadline(), move || {
            Ok(source.label_values(&tenant, &name, &matchers, start, end)?)
        })
        .await?;
    Ok(success(json!(values)))
}

/// `GET|POST /series`: the streams matching any `match[]` selector.
pub(super) async fn series(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let tenant = state.tenant(&request)?;
    let selectors: Vec<Vec<LabelMatcher>> = request
        .all("match[]")
        .chain(request.all("match"))
        .map(logql::parse_selector)
        .collect::<Result<_, _>>()?;
    if selectors.is_empty() {
        return Err(Error::invalid_parameter("match[]", "at least one match[] is required").into());
    }
    let (start, end) = request.time_range(now_unix_nano(), METADATA_SPAN_NANOS)?;
    let source = state.source.clone();
    let streams = state
        .run_blocking(state.deadline(), move || {
            let mut streams = BTreeSet::new();
            for matchers in &selectors {
                streams.extend(source.series(&tenant, matchers, start, end)?);
            }
            Ok(streams)
        })
        .await?;
    Ok(success(Value::Array(
        streams.iter().map(labels_json).collect(),
    )))
}

/// `GET|POST /index/stats`: `{"streams","chunks","entries","bytes"}` (not enveloped, as in
/// Loki).
pub(super) async fn index_stats(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let tenant = state.tenant(&request)?;
    let (matchers, start, end) = selector_and_range(&request)?;
    let source = state.source.clone();
    let stats = state
        .run_blocking(state.deadline(), move || {
            Ok(source.stats(&tenant, &matchers, start, end)?)
        })
        .await?;
    Ok(Json(json!({
        "streams": stats.streams,
        "chunks": stats.chunks,
        "entries": stats.entries,
        "bytes": stats.bytes,
    })))
}

/// `GET /detected_labels`: each stream label with its number of values.
pub(super) async fn detected_labels(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let tenant = state.tenant(&request)?;
    let (matchers, start, end) = selector_and_range(&request)?;
    let source = state.source.clone();
    let streams = state
        .run_blocking(state.deadline(), move || {
            Ok(source.series(&tenant, &matchers, start, end)?)
        })
        .await?;
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for labels in &streams {
        for (name, value) in labels.iter() {
            values
                .entry(name.to_string())
                .or_default()
                .insert(value.to_string());
        }
    }
    let detected: Vec<Value> = values
        .into_iter()
        .map(|(label, values)| json!({"label": label, "cardinality": values.len()}))
        .collect();
    Ok(Json(json!({"detectedLabels": detected})))
}

/// `GET|POST /index/volume`: line bytes per series (or per `targetLabels`) over the range,
/// largest first, as an instant vector at `end`.
pub(super) async fn volume(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let (expr, _start, end) = volume_expr(&request, None)?;
    let limit = volume_limit(&request)?;
    let params = QueryParams {
        start_unix_nano: end,
        end_unix_nano: end,
        step_nanos: 0,
        limit: 0,
        direction: logql::Direction::Backward,
    };
    let result = evaluate_volume(&state, &request, expr, params).await?;
    let QueryResult::Vector(mut samples) = result else {
        return Ok(success(json!({"resultType": "vector", "result": []})));
    };
    samples.sort_by(|a, b| b.1.total_cmp(&a.1));
    samples.truncate(limit);
    let result: Vec<Value> = samples
        .iter()
        .map(|(labels, value)| json!({"metric": labels_json(labels), "value": point(end, *value)}))
        .collect();
    Ok(success(json!({"resultType": "vector", "result": result})))
}

/// `GET|POST /index/volume_range`: line bytes per series per `step`, as a matrix.
pub(super) async fn volume_range(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let (start, end) = request.time_range(now_unix_nano(), HOUR_NANOS)?;
    let step = request
        .duration("step")?
        .unwrap_or_else(|| default_step_nanos(start, end))
        .max(1);
    if end.saturating_sub(start) / step >= MAX_STEPS as u64 {
        return Err(logql::Error::TooManySteps { limit: MAX_STEPS }.into());
    }
    let (expr, start, end) = volume_expr(&request, Some(step))?;
    let params = QueryParams {
        start_unix_nano: start,
        end_unix_nano: end,
        step_nanos: step,
        limit: 0,
        direction: logql::Direction::Backward,
    };
    let result = evaluate_volume(&state, &request, expr, params).await?;
    let QueryResult::Matrix(series) = result else {
        return Ok(success(json!({"resultType": "matrix", "result": []})));
    };
    let result: Vec<Value> = series
        .iter()
        .map(|(labels, points)| {
            let values: Vec<Value> = points.iter().map(|(t, v)| point(*t, *v)).collect();
            json!({"metric": labels_json(labels), "values": values})
        })
        .collect();
    Ok(success(json!({"resultType": "matrix", "result": result})))
}

fn volume_limit(request: &LokiRequest) -> Result<usize, LokiError> {
    match request.first("limit") {
        None => Ok(DEFAULT_VOLUME_LIMIT),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|limit| *limit > 0)
            .ok_or_else(|| {
                Error::invalid_parameter(
                    "limit",
                    format!("cannot parse {text:?} as a positive integer"),
                )
                .into()
            }),
    }
}

/// Builds `sum by (<targets>) (bytes_over_time({selector}[window]))`: the window is the
/// step for `volume_range` and the whole range for `volume`. The targets are
/// `targetLabels`, or the labels the selector names.
fn volume_expr(
    request: &LokiRequest,
    step_nanos: Option<u64>,
) -> Result<(MetricExpr, u64, u64), LokiError> {
    let matchers = logql::parse_selector(request.query()?)?;
    let (start, end) = request.time_range(now_unix_nano(), HOUR_NANOS)?;
    let targets: Vec<String> = match request.first("targetLabels") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect(),
        None => {
            let names: BTreeSet<String> = matchers.iter().map(|m| m.name.clone()).collect();
            names.into_iter().collect()
        }
    };
    let range_nanos = step_nanos
        .unwrap_or_else(|| end.saturating_sub(start))
        .max(1);
    let expr = MetricExpr::Vector {
        op: VectorOp::Sum,
        grouping: Some(Grouping::By(targets)),
        parameter: None,
        inner: Box::new(MetricExpr::Range {
            op: RangeOp::BytesOverTime,
            log: LogExpr {
                matchers,
                pipeline: Vec::new(),
            },
            range_nanos,
            offset_nanos: 0,
            unwrap: None,
            parameter: None,
            grouping: None,
        }),
    };
    Ok((expr, start, end))
}

async fn evaluate_volume(
    state: &LokiState,
    request: &LokiRequest,
    expr: MetricExpr,
    params: QueryParams,
) -> Result<QueryResult, LokiError> {
    let tenant = state.tenant(request)?;
    let source = state.source.clone();
    let deadline = state.deadline();
    state
        .run_blocking(deadline, move || {
            let engine = Engine::new(source.as_ref(), &tenant).with_deadline(deadline);
            Ok(engine.evaluate(&logql::ast::Expr::Metric(expr), &params)?)
        })
        .await
}
