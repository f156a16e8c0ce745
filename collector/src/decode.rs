//! Request bodies → [`DecodedSpans`]: content types, content encodings, gzip with a limit on the
//! *decompressed* size, protobuf and OTLP/JSON decoding, then validation
//! ([`spans_from_otlp`]).
//!
//! OTLP/HTTP: <https://opentelemetry.io/docs/specs/otlp/#otlphttp>. JSON follows the spec's
//! JSON mapping (hex ids, camelCase, enums as integers, 64-bit integers as strings or numbers),
//! which `opentelemetry-proto`'s serde implementation accepts.

use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sightline_store::otlp::{spans_from_otlp, DecodedSpans};

use crate::error::Error;

/// Bodies larger than this are decoded on the blocking pool instead of the reactor
/// (STYLE.md §5: no await-free stretch over about 0.5 ms on the reactor).
pub(crate) const BLOCKING_DECODE_THRESHOLD_BYTES: usize = 64 * 1024;

/// The body format named by `Content-Type`; responses use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl BodyFormat {
    /// Parses a `Content-Type` value, ignoring parameters such as `charset` and letter case.
    ///
    /// # Errors
    /// [`Error::UnsupportedContentType`] for anything else, including a missing header.
    pub(crate) fn from_content_type(content_type: Option<&str>) -> Result<Self, Error> {
        let raw = content_type.unwrap_or_default();
        let essence = raw.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Ok(Self::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Ok(Self::Json)
        } else {
            Err(Error::UnsupportedContentType {
                content_type: raw.to_string(),
            })
        }
    }

    /// Returns the `Content-Type` for responses in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    /// Returns the bounded `protocol` metric label.
    pub(crate) fn protocol_label(self) -> &'static str {
        match self {
            Self::Protobuf => "http_protobuf",
            Self::Json => "http_json",
        }
    }
}

/// The body encoding named by `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyEncoding {
    /// No encoding (header absent or `identity`).
    Identity,
    /// `gzip`.
    Gzip,
}

impl BodyEncoding {
    /// Parses a `Content-Encoding` value.
    ///
    /// # Errors
    /// [`Error::UnsupportedContentEncoding`] for anything but absent, `identity` and `gzip`.
    pub(crate) fn from_content_encoding(encoding: Option<&str>) -> Result<Self, Error> {
        match encoding.map(str::trim) {
            None | Some("") => Ok(Self::Identity),
            Some(value) if value.eq_ignore_ascii_case("identity") => Ok(Self::Identity),
            Some(value) if value.eq_ignore_ascii_case("gzip") => Ok(Self::Gzip),
            Some(value) => Err(Error::UnsupportedContentEncoding {
                encoding: value.to_string(),
            }),
        }
    }
}

/// Inflates a gzip body, refusing it as soon as the output passes `max_decompressed_bytes`:
/// a gzip bomb costs at most that much memory and time, never its full inflated size.
///
/// # Errors
/// [`Error::BodyTooLarge`] over the limit; [`Error::Gzip`] for a corrupt stream.
pub(crate) fn gunzip_with_limit(
    body: &[u8],
    max_decompressed_bytes: u64,
) -> Result<Vec<u8>, Error> {
    let mut decoder = MultiGzDecoder::new(body).take(max_decompressed_bytes.saturating_add(1));
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(1 << 20));
    decoder
        .read_to_end(&mut inflated)
        .map_err(|source| Error::Gzip { source })?;
    if inflated.len() as u64 > max_decompressed_bytes {
        return Err(Error::BodyTooLarge {
            which: "decompressed",
            limit_bytes: max_decompressed_bytes,
        });
    }
    Ok(inflated)
}

/// Decodes an (uncompressed) body into an export request.
///
/// # Errors
/// [`Error::Protobuf`] or [`Error::Json`] when the body is malformed.
pub(crate) fn decode_export_request(
    body: &[u8],
    format: BodyFormat,
) -> Result<ExportTraceServiceRequest, Error> {
    match format {
        BodyFormat::Protobuf => {
            ExportTraceServiceRequest::decode(body).map_err(|source| Error::Protobuf { source })
        }
        BodyFormat::Json => serde_json::from_slice(body).map_err(|source| Error::Json { source }),
    }
}

/// Inflates (if needed), decodes and validates an HTTP body. CPU-bound: callers with large
/// bodies run it through [`decode_http_body_off_reactor`].
///
/// # Errors
/// See [`gunzip_with_limit`] and [`decode_export_request`].
pub(crate) fn decode_http_body(
    body: &[u8],
    format: BodyFormat,
    encoding: BodyEncoding,
    max_body_size_bytes: u64,
) -> Result<DecodedSpans, Error> {
    let request = match encoding {
        BodyEncoding::Identity => decode_export_request(body, format)?,
        BodyEncoding::Gzip => {
            let inflated = gunzip_with_limit(body, max_body_size_bytes)?;
            decode_export_request(&inflated, format)?
        }
    };
    Ok(spans_from_otlp(request))
}

/// Runs [`decode_http_body`] inline for small bodies and on the blocking pool (with the current
/// tracing span) for large or compressed ones.
///
/// # Errors
/// As [`decode_http_body`], plus [`Error::DecodeTask`] if the blocking task fails.
pub(crate) async fn decode_http_body_off_reactor(
    body: Bytes,
    format: BodyFormat,
    encoding: BodyEncoding,
    max_body_size_bytes: u64,
) -> Result<DecodedSpans, Error> {
    if body.len() < BLOCKING_DECODE_THRESHOLD_BYTES && encoding == BodyEncoding::Identity {
        return decode_http_body(&body, format, encoding, max_body_size_bytes);
    }
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        decode_http_body(&body, format, encoding, max_body_size_bytes)
    })
    .await?
}

/// Converts a decoded gRPC request, on the blocking pool when it is large.
///
/// # Errors
/// [`Error::DecodeTask`] if the blocking task fails.
pub(crate) async fn validate_off_reactor(
    request: ExportTraceServiceRequest,
    encoded_len: usize,
) -> Result<DecodedSpans, Error> {
    if encoded_len < BLOCKING_DECODE_THRESHOLD_BYTES {
        return Ok(spans_from_otlp(request));
    }
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        spans_from_otlp(request)
    })
    .await?)
}

#[cfg(test)]
mod tests;
