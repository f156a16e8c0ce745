//! OTLP/HTTP receiver: `POST /v1/traces`, ([`otlp_metrics`]) `POST /v1/metrics` and
//! ([`otlp_logs`]) `POST /v1/logs` with
//! protobuf or JSON bodies, optionally gzip-encoded
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>).
//!
//! Order of work per request, cheapest refusal first: content type and encoding (415), tenant
//! (401/400), declared length (413), byte budget (429 with `Retry-After: 1`), body read with a
//! limit (413), decode off the reactor (400), hand-off to the store (503 with `Retry-After` when
//! retryable, 500 generic otherwise). Responses use the request's content type; error bodies are
//! a `google.rpc.Status` (`code`, `message`) as the spec asks.

mod otlp_logs;
mod otlp_metrics;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prost::Message;
use sightline_model::TenantId;

use crate::decode::{decode_http_body_off_reactor, BodyEncoding, BodyFormat};
use crate::error::{grpc_code_for_class, http_status_for_class, Error};
use crate::handoff::{
    hand_off_spans, record_failure, record_request_bytes, record_success, ExportOutcome,
};
use crate::limits::BudgetReservation;
use crate::tenant::{AUTHORIZATION_HEADER, TENANT_HEADER};
use crate::Collector;

/// The OTLP/HTTP traces path.
pub const TRACES_PATH: &str = "/v1/traces";

/// The OTLP/HTTP metrics path.
pub const METRICS_PATH: &str = "/v1/metrics";

/// The OTLP/HTTP logs path.
pub const LOGS_PATH: &str = "/v1/logs";

/// The `protocol` label when the content type is not recognised.
const UNKNOWN_PROTOCOL: &str = "http";

/// `google.rpc.Status` without details: the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Builds the router with `POST /v1/traces`, `POST /v1/metrics` and `POST /v1/logs`.
pub(crate) fn otlp_router(collector: Collector) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export_traces))
        .route(METRICS_PATH, post(otlp_metrics::export_metrics))
        .route(LOGS_PATH, post(otlp_logs::export_logs))
        .with_state(collector)
}

async fn export_traces(State(collector): State<Collector>, request: Request) -> Response {
    let format = BodyFormat::from_content_type(header_text(request.headers(), CONTENT_TYPE)).ok();
    let protocol = format.map_or(UNKNOWN_PROTOCOL, BodyFormat::protocol_label);
    // Errors before the content type is known are answered in JSON.
    let response_format = format.unwrap_or(BodyFormat::Json);
    match export(&collector, protocol, request).await {
        Ok(outcome) => {
            record_success(protocol, &outcome);
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
) -> Result<ExportOutcome, Error> {
    let received = receive_body(collector, protocol, "traces", request).await?;
    let max_body_size_bytes = collector.config().max_body_size_bytes;
    let decoded = decode_http_body_off_reactor(
        received.body,
        received.format,
        received.encoding,
        max_body_size_bytes,
    )
    .await?;
    collector.charge_items(&received.tenant, decoded.accepted_spans);
    let outcome = hand_off_spans(collector.store(), &received.tenant, protocol, decoded).await?;
    drop(received.reservation);
    Ok(outcome)
}

/// An export body read within the limits, with what its headers said and the bytes it holds
/// in the in-flight budget (release them after the hand-off).
struct ReceivedBody {
    tenant: TenantId,
    format: BodyFormat,
    encoding: BodyEncoding,
    body: Bytes,
    reservation: BudgetReservation,
}

/// Checks the headers, reserves the body's bytes and reads it, cheapest refusal first (see
/// the module docs).
async fn receive_body(
    collector: &Collector,
    protocol: &'static str,
    signal: &'static str,
    request: Request,
) -> Result<ReceivedBody, Error> {
    let config = collector.config();
    let (parts, body) = request.into_parts();
    let format = BodyFormat::from_content_type(header_text(&parts.headers, CONTENT_TYPE))?;
    let encoding =
        BodyEncoding::from_content_encoding(header_text(&parts.headers, CONTENT_ENCODING))?;
    let tenant = collector.ingest_tenant(
        parts
            .headers
            .get(AUTHORIZATION_HEADER)
            .map(HeaderValue::as_bytes),
        parts.headers.get(TENANT_HEADER).map(HeaderValue::as_bytes),
    )?;
    let max_body_size_bytes = config.max_body_size_bytes;
    let declared_bytes = header_text(&parts.headers, CONTENT_LENGTH)
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared_bytes.is_some_and(|declared| declared > max_body_size_bytes) {
        return Err(Error::BodyTooLarge {
            which: "declared",
            limit_bytes: max_body_size_bytes,
        });
    }
    // A gzip body may inflate up to the limit, and a body of unknown length may be that long.
    let reserve_bytes = match (encoding, declared_bytes) {
        (BodyEncoding::Identity, Some(declared)) => declared,
        _ => max_body_size_bytes,
    };
    let wait = Duration::from_millis(config.budget_wait_millis);
    let mut reservation = collector.budget().reserve(reserve_bytes, wait).await?;
    let body = read_body_with_limit(body, max_body_size_bytes).await?;
    record_request_bytes(protocol, body.len());
    collector.admit(&tenant, signal, body.len())?;
    if encoding == BodyEncoding::Identity {
        reservation.shrink_to(body.len() as u64);
    }
    Ok(ReceivedBody {
        tenant,
        format,
        encoding,
        body,
        reservation,
    })
}

/// Reads the whole body, refusing it as soon as it passes `max_bytes`.
async fn read_body_with_limit(body: Body, max_bytes: u64) -> Result<Bytes, Error> {
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::BodyTooLarge {
                which: "received",
                limit_bytes: max_bytes,
            })
        }
        Err(error) => Err(Error::ReadBody {
            reason: error.to_string(),
        }),
    }
}

fn header_text(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn success_response(format: BodyFormat, outcome: &ExportOutcome) -> Response {
    let response = outcome.to_response();
    let body = match format {
        BodyFormat::Protobuf => response.encode_to_vec(),
        // `{}` rather than `{"partialSuccess":null}` when nothing was rejected.
        BodyFormat::Json if response.partial_success.is_none() => b"{}".to_vec(),
        BodyFormat::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    };
    with_content_type(StatusCode::OK, format, body)
}

fn error_response(format: BodyFormat, error: &Error, message: String) -> Response {
    let class = error.class();
    let status = RpcStatus {
        code: grpc_code_for_class(class) as i32,
        message,
    };
    let body = match format {
        BodyFormat::Protobuf => status.encode_to_vec(),
        BodyFormat::Json => serde_json::json!({ "code": status.code, "message": status.message })
            .to_string()
            .into_bytes(),
    };
    let mut response = with_content_type(http_status_for_class(class), format, body);
    if let Some(seconds) = error.retry_after_seconds() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn with_content_type(status: StatusCode, format: BodyFormat, body: Vec<u8>) -> Response {
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
