//! Request bodies → [`DecodedSpans`] (or, through the `_with` variants, any OTLP export request
//! and conversion, such as metrics): content types, content encodings, gzip with a limit on the
//! *decompressed* size, protobuf and OTLP/JSON decoding, then validation ([`spans_from_otlp`]).
//!
//! OTLP/HTTP: <https://opentelemetry.io/docs/specs/otlp/#otlphttp>. JSON follows the spec's
//! JSON mapping (hex ids, camelCase, enums as integers, 64-bit integers as strings or numbers),
//! which `opentelemetry-proto`'s serde implementation accepts.

use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;
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

/// An OTLP export request message that can come as protobuf or OTLP/JSON.
pub(crate) trait ExportRequest:
    Message + Default + DeserializeOwned + Send + 'static
{
    /// The message's name, for error messages.
    const NAME: &'static str;
}

impl ExportRequest for ExportTraceServiceRequest {
    const NAME: &'static str = "ExportTraceServiceRequest";
}

impl ExportRequest for ExportMetricsServiceRequest {
    const NAME: &'static str = "ExportMetricsServiceRequest";
}

impl ExportRequest for ExportLogsServiceRequest {
    const NAME: &'static str = "ExportLogsServiceRequest";
}

/// Decodes an (uncompressed) body into an export request of type `M`.
///
/// # Errors
/// [`Error::Protobuf`] or [`Error::Json`] when the body is malformed.
pub(crate) fn decode_request<M: ExportRequest>(
    body: &[u8],
    format: BodyFormat,
) -> Result<M, Error> {
    match format {
        BodyFormat::Protobuf => M::decode(body).map_err(|source| Error::Protobuf {
            message: M::NAME,
            source,
        }),
        BodyFormat::Json => serde_json::from_slice(body).map_err(|source| Error::Json {
            message: M::NAME,
            source,
        }),
    }
}

/// Inflates (if needed) and decodes an HTTP body into an `M`, then converts it with `convert`.
///
/// # Errors
/// See [`gunzip_with_limit`] and [`decode_request`].
pub(crate) fn decode_http_body_with<M: ExportRequest, T>(
    body: &[u8],
    format: BodyFormat,
    encoding: BodyEncoding,
    max_body_size_bytes: u64,
    convert: impl FnOnce(M) -> T,
) -> Result<T, Error> {
    let request = match encoding {
        BodyEncoding::Identity => decode_request(body, format)?,
        BodyEncoding::Gzip => {
            let inflated = gunzip_with_limit(body, max_body_size_bytes)?;
            decode_request(&inflated, format)?
        }
    };
    Ok(convert(request))
}

/// Runs [`decode_http_body_with`] with [`spans_from_otlp`] inline for small bodies and on the blocking pool (with the current
/// tracing span) for large or compressed ones.
///
/// # Errors
/// As [`decode_http_body_with`], plus [`Error::DecodeTask`] if the blocking task fails.
pub(crate) async fn decode_http_body_off_reactor(
    body: Bytes,
    format: BodyFormat,
    encoding: BodyEncoding,
    max_body_size_bytes: u64,
) -> Result<DecodedSpans, Error> {
    decode_http_body_off_reactor_with(body, format, encoding, max_body_size_bytes, spans_from_otlp)
        .await
}

/// Runs [`decode_http_body_with`] inline for small bodies and on the blocking pool (with the
/// current tracing span) for large or compressed ones.
///
/// # Errors
/// As [`decode_http_body_with`], plus [`Error::DecodeTask`] if the blocking task fails.
pub(crate) async fn decode_http_body_off_reactor_with<M, T, F>(
    body: Bytes,
    format: BodyFormat,
    encoding: BodyEncoding,
    max_body_size_bytes: u64,
    convert: F,
) -> Result<T, Error>
where
    M: ExportRequest,
    T: Send + 'static,
    F: FnOnce(M) -> T + Send + 'static,
{
    if body.len() < BLOCKING_DECODE_THRESHOLD_BYTES && encoding == BodyEncoding::Identity {
        return decode_http_body_with(&body, format, encoding, max_body_size_bytes, convert);
    }
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        decode_http_body_with(&body, format, encoding, max_body_size_bytes, convert)
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
    convert_off_reactor(request, encoded_len, spans_from_otlp).await
}

/// Runs `convert` on a decoded gRPC request, on the blocking pool when it is large.
///
/// # Errors
/// [`Error::DecodeTask`] if the blocking task fails.
pub(crate) async fn convert_off_reactor<M, T, F>(
    request: M,
    encoded_len: usize,
    convert: F,
) -> Result<T, Error>
where
    M: Send + 'static,
    T: Send + 'static,
    F: FnOnce(M) -> T + Send + 'static,
{
    if encoded_len < BLOCKING_DECODE_THRESHOLD_BYTES {
        return Ok(convert(request));
    }
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        convert(request)
    })
    .await?)
}

#[cfg(test)]
mod tests;
