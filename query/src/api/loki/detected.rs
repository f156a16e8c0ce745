//! `detected_fields` and `detected_field/{name}/values`, which Grafana's Logs Drilldown and
//! query builder use to offer filters: the fields of the newest lines of a query (at most
//! `line_limit`, default 1000), from structured metadata, labels the query's own parsers
//! extracted, and, when the query has no parser, what `| json` (for lines that look like
//! JSON) or `| logfmt` finds.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::params::{LokiRequest, HOUR_NANOS};
use super::{LokiError, LokiState};
use crate::api::now_unix_nano;
use crate::error::Error;
use crate::logql::ast::{Expr, Stage};
use crate::logql::pipeline::{run_pipeline, Category, Row, ERROR_DETAILS_LABEL, ERROR_LABEL};
use crate::logql::QueryResult;
use crate::logql::{self, parse_bytes, parse_duration_nanos, Direction, Engine, QueryParams};

/// Lines read by default, as Loki's `line_limit`.
const DEFAULT_LINE_LIMIT: usize = 1000;

/// What is known of one field.
#[derive(Default)]
struct Field {
    values: BTreeSet<String>,
    parsers: BTreeSet<&'static str>,
    kind: Option<&'static str>,
}

/// `GET /detected_fields`: `{"fields":[{"label","type","cardinality","parsers"}],"limit"}`.
pub(super) async fn detected_fields(
    State(state): State<LokiState>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let fields = collect_fields(&state, &request).await?;
    let limit = positive(&request, "limit")?.unwrap_or(DEFAULT_LINE_LIMIT);
    let detected: Vec<Value> = fields
        .iter()
        .take(limit)
        .map(|(label, field)| {
            let parsers: Option<Vec<&str>> =
                (!field.parsers.is_empty()).then(|| field.parsers.iter().copied().collect());
            json!({
                "label": label,
                "type": field.kind.unwrap_or("string"),
                "cardinality": field.values.len(),
                "parsers": parsers,
            })
        })
        .collect();
    Ok(Json(json!({"fields": detected, "limit": limit})))
}

/// `GET /detected_field/{name}/values`: `{"values":[…]}`.
pub(super) async fn detected_field_values(
    State(state): State<LokiState>,
    Path(name): Path<String>,
    request: LokiRequest,
) -> Result<Json<Value>, LokiError> {
    let mut fields = collect_fields(&state, &request).await?;
    let values: Vec<String> = fields
        .remove(&name)
        .map(|field| field.values.into_iter().collect())
        .unwrap_or_default();
    Ok(Json(json!({"values": values})))
}

fn positive(request: &LokiRequest, name: &'static str) -> Result<Option<usize>, LokiError> {
    request
        .first(name)
        .map(|text| {
            text.parse::<usize>()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| {
                    LokiError::from(Error::invalid_parameter(
                        name,
                        format!("cannot parse {text:?} as a positive integer"),
                    ))
                })
        })
        .transpose()
}

/// Runs the query's log part over the newest lines and gathers their fields.
async fn collect_fields(
    state: &LokiState,
    request: &LokiRequest,
) -> Result<BTreeMap<String, Field>, LokiError> {
    let tenant = state.tenant(request)?;
    let log = match logql::parse(request.query()?)? {
        Expr::Log(log) => log,
        Expr::Metric(_) => {
            return Err(Error::invalid_parameter("query", "expected a log query").into())
        }
    };
    let (start, end) = request.time_range(now_unix_nano(), HOUR_NANOS)?;
    let line_limit = positive(request, "line_limit")?.unwrap_or(DEFAULT_LINE_LIMIT);
    let has_parser = log
        .pipeline
        .iter()
        .any(|stage| matches!(stage, Stage::Json(_) | Stage::Logfmt { .. }));
    let source = state.source.clone();
    let deadline = state.deadline();
    state
        .run_blocking(deadline, move || {
            let engine = Engine::new(source.as_ref(), &tenant).with_deadline(deadline);
            let params = QueryParams {
                start_unix_nano: start,
                end_unix_nano: end,
                step_nanos: 0,
                limit: line_limit.min(super::params::MAX_LIMIT),
                direction: Direction::Backward,
            };
            let QueryResult::Streams(rows) = engine.evaluate(&Expr::Log(log), &params)? else {
                return Ok(BTreeMap::new());
            };
            let mut fields = BTreeMap::new();
            for row in rows {
                gather(&mut fields, &row, has_parser);
            }
            Ok(fields)
        })
        .await
}

/// Adds a row's structured metadata and parsed fields to `fields`.
fn gather(fields: &mut BTreeMap<String, Field>, row: &Row, has_parser: bool) {
    let mut add = |name: &str, value: &str, parser: Option<&'static str>| {
        if name == ERROR_LABEL || name == ERROR_DETAILS_LABEL {
            return;
        }
        let field = fields.entry(name.to_string()).or_default();
        field.kind.get_or_insert_with(|| value_kind(value));
        field.values.insert(value.to_string());
        if let Some(parser) = parser {
            field.parsers.insert(parser);
        }
    };
    for (name, value) in row.labels_of(Category::Metadata).iter() {
        add(name, value, None);
    }
    if has_parser {
        for (name, value) in row.labels_of(Category::Parsed).iter() {
            add(name, value, None);
        }
        return;
    }
    let (parser, stage) = if row.line.trim_start().starts_with('{') {
        ("json", Stage::Json(Vec::new()))
    } else {
        (
            "logfmt",
            Stage::Logfmt {
                strict: false,
                extractions: Vec::new(),
            },
        )
    };
    let mut parsed = row.clone();
    run_pipeline(std::slice::from_ref(&stage), &mut parsed);
    if parsed.get(ERROR_LABEL).is_some() && row.get(ERROR_LABEL).is_none() {
        return;
    }
    for (name, value) in parsed.labels_of(Category::Parsed).iter() {
        add(name, value, Some(parser));
    }
}

/// Guesses a value's type as Loki names them.
fn value_kind(value: &str) -> &'static str {
    if value.parse::<i64>().is_ok() {
        "int"
    } else if value.parse::<f64>().is_ok() {
        "float"
    } else if value == "true" || value == "false" {
        "boolean"
    } else if value.ends_with(|c: char| c.is_ascii_alphabetic())
        && parse_duration_nanos(value).is_some()
    {
        "duration"
    } else if value.ends_with(['B', 'b']) && parse_bytes(value).is_some() {
        "bytes"
    } else {
        "string"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(value_kind("42"), "int");
        assert_eq!(value_kind("4.2"), "float");
        assert_eq!(value_kind("true"), "boolean");
        assert_eq!(value_kind("250ms"), "duration");
        assert_eq!(value_kind("20MB"), "bytes");
        assert_eq!(value_kind("checkout"), "string");
    }
}
