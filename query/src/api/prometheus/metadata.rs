//! The metadata endpoints: `series`, `labels`, `label/{name}/values`, `metadata` and
//! `query_exemplars`, answered from [`MetricStore`](sightline_store::MetricStore)'s read
//! methods (no PromQL evaluation).

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use promql_parser::parser::{Expr, VectorSelector};
use sightline_model::{Exemplar, Labels};

use super::params::{
    limit_param, parse_matcher_sets, selector_matcher_sets, time_param, FormParams, PromRequest,
    MAX_TIME_MS, MIN_TIME_MS,
};
use super::{render, success, success_json, Answer};
use crate::api::AppState;
use crate::error::Error;
use crate::promql::engine::parse_query;

/// The warning added when `limit` cut an answer (Prometheus' wording).
const TRUNCATED_WARNING: &str = "results truncated due to limit";

/// Reads `start` and `end` of the metadata endpoints, defaulting to all time.
fn metadata_range(params: &FormParams) -> Result<(i64, i64), Error> {
    Ok((
        time_param(params, "start", MIN_TIME_MS)?,
        time_param(params, "end", MAX_TIME_MS)?,
    ))
}

/// How many items to fetch for `limit`: one more, to tell whether the limit cut the answer.
fn fetch_count(limit: Option<usize>) -> usize {
    limit.map_or(usize::MAX, |limit| limit.saturating_add(1))
}

/// Cuts `items` to `limit`, returning the warning to give when it did.
fn truncate<T>(items: &mut Vec<T>, limit: Option<usize>) -> Vec<String> {
    match limit {
        Some(limit) if items.len() > limit => {
            items.truncate(limit);
            vec![TRUNCATED_WARNING.to_string()]
        }
        _ => Vec::new(),
    }
}

pub(super) async fn series(State(state): State<AppState>, request: PromRequest) -> Answer {
    let params = &request.params;
    if params.all("match[]").next().is_none() {
        return Err(Error::invalid_parameter("match[]", "no match[] parameter provided").into());
    }
    let (start_ms, end_ms) = metadata_range(params)?;
    let matcher_sets = parse_matcher_sets(params.all("match[]"))?;
    let limit = limit_param(params)?;
    let tenant = state.tenant(&request.headers)?;
    let mut found = state
        .metrics
        .series(&tenant, &matcher_sets, start_ms, end_ms, fetch_count(limit))
        .await?;
    let warnings = truncate(&mut found, limit);
    Ok(success(&render::label_sets(&found), &warnings))
}

pub(super) async fn label_names(State(state): State<AppState>, request: PromRequest) -> Answer {
    let params = &request.params;
    let (start_ms, end_ms) = metadata_range(params)?;
    let matcher_sets = parse_matcher_sets(params.all("match[]"))?;
    let limit = limit_param(params)?;
    let tenant = state.tenant(&request.headers)?;
    let mut names = state
        .metrics
        .label_names(&tenant, &matcher_sets, start_ms, end_ms, fetch_count(limit))
        .await?;
    let warnings = truncate(&mut names, limit);
    Ok(success(&render::strings(&names), &warnings))
}

pub(super) async fn label_values(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    request: PromRequest,
) -> Answer {
    let Path(name) =
        name.map_err(|rejection| Error::invalid_parameter("name", rejection.body_text()))?;
    let params = &request.params;
    let (start_ms, end_ms) = metadata_range(params)?;
    let matcher_sets = parse_matcher_sets(params.all("match[]"))?;
    let limit = limit_param(params)?;
    let tenant = state.tenant(&request.headers)?;
    let mut values = state
        .metrics
        .label_values(
            &tenant,
            &name,
            &matcher_sets,
            start_ms,
            end_ms,
            fetch_count(limit),
        )
        .await?;
    let warnings = truncate(&mut values, limit);
    Ok(success(&render::strings(&values), &warnings))
}

/// One entry of the `metadata` answer.
#[derive(serde::Serialize)]
struct MetadataJson {
    #[serde(rename = "type")]
    metric_type: &'static str,
    help: String,
    unit: String,
}

pub(super) async fn metadata(State(state): State<AppState>, request: PromRequest) -> Answer {
    let params = &request.params;
    let limit = match params.first("limit") {
        None => usize::MAX,
        Some(text) => {
            let limit: i64 = text
                .parse()
                .map_err(|_| Error::invalid_parameter("limit", "limit must be a number"))?;
            usize::try_from(limit).unwrap_or(usize::MAX)
        }
    };
    let metric = params.first("metric");
    let tenant = state.tenant(&request.headers)?;
    let found = state.metrics.metadata(&tenant, metric, limit).await?;
    let mut by_family: BTreeMap<String, Vec<MetadataJson>> = BTreeMap::new();
    for metadata in found {
        by_family
            .entry(metadata.metric_family)
            .or_default()
            .push(MetadataJson {
                metric_type: metadata.metric_type.as_str(),
                help: metadata.help,
                unit: metadata.unit,
            });
    }
    success_json(&by_family)
}

pub(super) async fn query_exemplars(State(state): State<AppState>, request: PromRequest) -> Answer {
    let params = &request.params;
    let (start_ms, end_ms) = metadata_range(params)?;
    if end_ms < start_ms {
        return Err(Error::invalid_parameter(
            "end",
            "end timestamp must not be before start timestamp",
        )
        .into());
    }
    let expr = parse_query(params.first("query").unwrap_or_default())?;
    let tenant = state.tenant(&request.headers)?;
    let mut by_series: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
    for matchers in selectors_of(&expr)
        .into_iter()
        .flat_map(selector_matcher_sets)
    {
        let found = state
            .metrics
            .exemplars(&tenant, &matchers, start_ms, end_ms)
            .await?;
        for (labels, exemplars) in found {
            let kept = by_series.entry(labels).or_default();
            for exemplar in exemplars {
                if !kept.contains(&exemplar) {
                    kept.push(exemplar);
                }
            }
        }
    }
    for exemplars in by_series.values_mut() {
        exemplars.sort_by_key(|exemplar| exemplar.timestamp_ms);
    }
    Ok(success(&render::exemplars(&by_series), &[]))
}

/// Every series selector in an expression (those of range selectors included), walked
/// without recursion.
fn selectors_of(expr: &Expr) -> Vec<&VectorSelector> {
    let mut selectors = Vec::new();
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::VectorSelector(selector) => selectors.push(selector),
            Expr::MatrixSelector(selector) => selectors.push(&selector.vs),
            Expr::Aggregate(aggregate) => {
                pending.push(&aggregate.expr);
                if let Some(param) = &aggregate.param {
                    pending.push(param);
                }
            }
            Expr::Unary(unary) => pending.push(&unary.expr),
            Expr::Binary(binary) => {
                pending.push(&binary.lhs);
                pending.push(&binary.rhs);
            }
            Expr::Paren(paren) => pending.push(&paren.expr),
            Expr::Subquery(subquery) => pending.push(&subquery.expr),
            Expr::Call(call) => pending.extend(call.args.args.iter().map(|arg| &**arg)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
    selectors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_found_everywhere() {
        let expr =
            parse_query("sum(rate(a[5m])) / on() group_left max_over_time(b[1h:5m]) + c").unwrap();
        let mut names: Vec<_> = selectors_of(&expr)
            .iter()
            .filter_map(|s| s.name.clone())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn truncation_warns() {
        let mut items = vec![1, 2, 3];
        assert!(truncate(&mut items, None).is_empty());
        assert_eq!(truncate(&mut items, Some(2)), [TRUNCATED_WARNING]);
        assert_eq!(items, [1, 2]);
    }
}
