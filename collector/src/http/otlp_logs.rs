//! OTLP/HTTP `POST /v1/logs`: the same checks, limits and answers as `/v1/traces` (415,
//! 401/400, 413, 429, 400, 503/500), then validation ([`logs_from_otlp`]) off the reactor and
//! [`LogStore::append`](sightline_store::LogStore::append). A success answers an
//! `ExportLogsServiceResponse` in the request's format, with `partial_success` when records
//! were rejected.

use axum::extract::{Request, State};
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::StatusCode;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use sightline_store::otlp::logs::logs_from_otlp;

use super::{error_response, header_text, receive_body, with_content_type, UNKNOWN_PROTOCOL};
use crate::decode::{decode_http_body_off_reactor_with, BodyFormat};
use crate::error::Error;
use crate::handoff::otlp_logs::{hand_off_logs, record_logs_success, LogsExportOutcome};
use crate::handoff::record_failure;
use crate::Collector;

/// Handles `POST /v1/logs`.
pub(super) async fn export_logs(State(collector): State<Collector>, request: Request) -> Response {
    let format = BodyFormat::from_content_type(header_text(request.headers(), CONTENT_TYPE)).ok();
    let protocol = format.map_or(UNKNOWN_PROTOCOL, BodyFormat::protocol_label);
    // Errors before the content type is known are answered in JSON.
    let response_format = format.unwrap_or(BodyFormat::Json);
    match export(&collector, protocol, request).await {
        Ok(outcome) => {
            record_logs_success(protocol, &outcome);
            success_response(response_format, &outcome)
        }
        Err(error) => {
            let message = record_failure(protocol, &error);
            error_response(response_format, &error, message)
        }
    }
}

async fn export(
    collector: &Collector,
    protocol: &'static str,
    request: Request,
) -> Result<LogsExportOutcome, Error> {
    // Refused before the body is read while the log store is over its budget (see the
    // gRPC routes).
    collector.inner.logs.admit()?;
    let received = receive_body(collector, protocol, "logs", request).await?;
    let decoded = decode_http_body_off_reactor_with(
        received.body,
        received.format,
        received.encoding,
        collector.config().max_body_size_bytes,
        |request: ExportLogsServiceRequest| logs_from_otlp(request),
    )
    .await?;
    collector.charge_items(&received.tenant, decoded.accepted_records);
    let outcome = hand_off_logs(&collector.inner.logs, &received.tenant, protocol, decoded).await?;
    drop(received.reservation);
    Ok(outcome)
}

fn success_response(format: BodyFormat, outcome: &LogsExportOutcome) -> Response {
    let response = outcome.to_response();
    let body = match format {
        BodyFormat::Protobuf => response.encode_to_vec(),
        // `{}` rather than `{"partialSuccess":null}` when nothing was rejected.
        BodyFormat::Json if response.partial_success.is_none() => b"{}".to_vec(),
        BodyFormat::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    };
    with_content_type(StatusCode::OK, format, body)
}

#[cfg(test)]
mod tests;
