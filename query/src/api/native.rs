//! Sightline's own query API under `/api/v1`, for the UI and for export.
//!
//! - `GET /api/v1/traces/{trace_id}`: one trace. Native JSON by default (see
//!   [`render::TraceJson`]); OTLP `TracesData` as protobuf with `Accept:
//!   application/x-protobuf` (or `?format=protobuf`); OTLP/JSON with `?format=otlp`.
//!   `?format=json` forces the native JSON. Unknown id → 404, malformed id → 400.
//! - `GET /api/v1/traces?service=&operation=&spanKind=&attributes=&minDuration=&maxDuration=&status=&start=&end=&limit=`:
//!   trace summaries, most recent first; parameters as in [`crate::search::parse_native_search`].
//!
//! Errors are `{"error": "..."}` with the status from [`Error::to_http`].

pub(crate) mod render;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use prost::Message;
use sightline_model::SpanBatch;

use super::{now_unix_nano, parse_trace_id, record_query_metrics, render_off_reactor, AppState};
use crate::error::Error;
use crate::search::{keep_edge_traces, parse_native_search, EdgeFilter, QueryParams};
use crate::trace::AssembledTrace;

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "native";

/// Builds the `/api/v1` router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/traces", get(search_traces))
        .route("/traces/{trace_id}", get(get_trace))
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

/// An error answered as `{"error": "..."}`.
pub(crate) struct NativeError(Error);

impl From<Error> for NativeError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl IntoResponse for NativeError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.to_http();
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// How a single trace is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TraceFormat {
    Native,
    OtlpJson,
    OtlpProtobuf,
}

/// Chooses the trace format from `?format=` and the `Accept` header.
fn choose_trace_format(params: &QueryParams, headers: &HeaderMap) -> Result<TraceFormat, Error> {
    let wants_protobuf = headers.get_all(ACCEPT).iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.contains("application/x-protobuf") || text.contains("application/protobuf")
        })
    });
    match params.get("format") {
        None if wants_protobuf => Ok(TraceFormat::OtlpProtobuf),
        None | Some("json") => Ok(TraceFormat::Native),
        Some("otlp") if wants_protobuf => Ok(TraceFormat::OtlpProtobuf),
        Some("otlp") => Ok(TraceFormat::OtlpJson),
        Some("protobuf") => Ok(TraceFormat::OtlpProtobuf),
        Some(other) => Err(Error::invalid_parameter(
            "format",
            format!("{other:?} is not one of json, otlp, protobuf"),
        )),
    }
}

async fn get_trace(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, NativeError> {
    let Path(text) =
        path.map_err(|rejection| Error::invalid_parameter("trace_id", rejection.body_text()))?;
    let Query(pairs) =
        query.map_err(|rejection| Error::invalid_parameter("query", rejection.body_text()))?;
    let params = QueryParams::new(pairs);
    let trace_id = parse_trace_id(&text)?;
    let format = choose_trace_format(&params, &headers)?;
    let tenant = state.tenant(&headers)?;
    let trace = state.load_trace(&tenant, trace_id).await?;
    let (content_type, body) = render_off_reactor(move || render_trace(&trace, format)).await?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response())
}

/// Encodes one trace in the chosen format; returns the content type and the body.
fn render_trace(
    trace: &AssembledTrace,
    format: TraceFormat,
) -> Result<(&'static str, Vec<u8>), Error> {
    match format {
        TraceFormat::Native => {
            let body =
                serde_json::to_vec(&render::TraceJson::from_trace(trace)).map_err(|error| {
                    Error::Encode {
                        what: "trace json",
                        reason: error.to_string(),
                    }
                })?;
            Ok(("application/json", body))
        }
        TraceFormat::OtlpJson => {
            let body =
                serde_json::to_vec(&otlp_traces_data(trace)).map_err(|error| Error::Encode {
                    what: "otlp json",
                    reason: error.to_string(),
                })?;
            Ok(("application/json", body))
        }
        TraceFormat::OtlpProtobuf => Ok((
            "application/x-protobuf",
            otlp_traces_data(trace).encode_to_vec(),
        )),
    }
}

/// Converts the trace's (deduplicated) spans to OTLP, grouped by resource and scope.
fn otlp_traces_data(trace: &AssembledTrace) -> opentelemetry_proto::tonic::trace::v1::TracesData {
    let batch = SpanBatch::from_rows(trace.spans.iter().map(|span| &span.row));
    sightline_store::otlp::spans_to_otlp(&batch)
}

async fn search_traces(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, NativeError> {
    let Query(pairs) =
        query.map_err(|rejection| Error::invalid_parameter("query", rejection.body_text()))?;
    let params = QueryParams::new(pairs);
    let span_query = parse_native_search(&params, &state.config, now_unix_nano())?;
    let edge = EdgeFilter::from_params(&params)?;
    let tenant = state.tenant(&headers)?;
    let candidates = edge.as_ref().map(|edge| edge.candidate_query(&span_query));
    let trace_ids = state
        .store
        .search_trace_ids(&tenant, candidates.as_ref().unwrap_or(&span_query))
        .await
        .map_err(Error::from)?;
    let mut traces = state.load_traces(&tenant, trace_ids).await?;
    if let Some(edge) = &edge {
        traces = keep_edge_traces(traces, edge, span_query.limit);
    }
    let response = render::SearchResponseJson {
        traces: traces
            .iter()
            .map(render::TraceSummaryJson::from_trace)
            .collect(),
        limit: span_query.limit,
    };
    Ok(Json(response).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn format_follows_param_then_accept() {
        let none = HeaderMap::new();
        assert_eq!(
            choose_trace_format(&params(&[]), &none).unwrap(),
            TraceFormat::Native
        );
        assert_eq!(
            choose_trace_format(&params(&[]), &accept("application/x-protobuf")).unwrap(),
            TraceFormat::OtlpProtobuf
        );
        assert_eq!(
            choose_trace_format(&params(&[("format", "otlp")]), &none).unwrap(),
            TraceFormat::OtlpJson
        );
        assert_eq!(
            choose_trace_format(&params(&[("format", "otlp")]), &accept("application/json"))
                .unwrap(),
            TraceFormat::OtlpJson
        );
        assert_eq!(
            choose_trace_format(
                &params(&[("format", "json")]),
                &accept("application/x-protobuf")
            )
            .unwrap(),
            TraceFormat::Native
        );
        assert!(matches!(
            choose_trace_format(&params(&[("format", "xml")]), &none),
            Err(Error::InvalidParameter { name: "format", .. })
        ));
    }

    #[test]
    fn native_json_trace_renders() {
        use crate::trace::fixtures::row;
        let trace = crate::trace::assemble_trace(vec![row("a", 1, 0, 10, 20)]).unwrap();
        let (content_type, body) = render_trace(&trace, TraceFormat::Native).unwrap();
        assert_eq!(content_type, "application/json");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["spanCount"], 1);
    }
}
