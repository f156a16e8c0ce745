//! The collector's error type and the two wire mappings of [`ErrorClass`]: the only places a
//! class becomes an HTTP status or a gRPC code.

use sightline_model::{ErrorClass, TenantIdError};

/// What went wrong while receiving, decoding or handing off an export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP `Content-Type` is neither `application/x-protobuf` nor `application/json`.
    #[error(
        "unsupported content type {content_type:?}: use application/x-protobuf or application/json"
    )]
    UnsupportedContentType {
        /// The content type received (empty when missing).
        content_type: String,
    },
    /// The HTTP `Content-Encoding` is neither absent, `identity` nor `gzip`.
    #[error("unsupported content encoding {encoding:?}: use gzip or no encoding")]
    UnsupportedContentEncoding {
        /// The encoding received.
        encoding: String,
    },
    /// The body (declared, received or decompressed) is over the limit.
    #[error("{which} request body is larger than the limit of {limit_bytes} bytes")]
    BodyTooLarge {
        /// Which size broke the limit: "declared", "received" or "decompressed".
        which: &'static str,
        /// The limit (`max_body_size_bytes`).
        limit_bytes: u64,
    },
    /// Reading the request body from the connection failed.
    #[error("reading request body: {reason}")]
    ReadBody {
        /// Why, as reported by the HTTP stack.
        reason: String,
    },
    /// The body claims gzip but does not inflate.
    #[error("invalid gzip body: {source}")]
    Gzip {
        /// The inflate error.
        source: std::io::Error,
    },
    /// The body is not a valid protobuf export request.
    #[error("invalid protobuf {message}: {source}")]
    Protobuf {
        /// The expected message, such as `ExportTraceServiceRequest`.
        message: &'static str,
        /// The decode error.
        source: prost::DecodeError,
    },
    /// The body is not a valid OTLP/JSON export request.
    #[error("invalid OTLP/JSON {message}: {source}")]
    Json {
        /// The expected message, such as `ExportMetricsServiceRequest`.
        message: &'static str,
        /// The parse error, with line and column.
        source: serde_json::Error,
    },
    /// The in-flight byte budget had no room within `budget_wait_millis`; retry later.
    #[error("collector is busy: no room for {requested_bytes} request bytes within {waited_millis} ms; retry later")]
    BudgetExhausted {
        /// Bytes the request asked for.
        requested_bytes: u64,
        /// How long it waited.
        waited_millis: u64,
    },
    /// The tenant sends faster than its ingest rate limit.
    #[error("tenant {tenant:?} is over its ingest rate limit ({limit} per second); retry in {}", format_retry(*retry_after))]
    RateLimited {
        /// The tenant.
        tenant: String,
        /// `bytes` or `items`.
        limit: &'static str,
        /// How long until the export would fit.
        retry_after: std::time::Duration,
    },
    /// Multi-tenancy is on and the request has no `X-Scope-OrgID`.
    #[error("missing X-Scope-OrgID header: multi-tenancy is enabled")]
    MissingTenant,
    /// Authentication is on and the request has no bearer token, or an unknown one.
    #[error("missing or unknown bearer token: send Authorization: Bearer <token>")]
    Unauthenticated,
    /// The request's token does not allow ingest.
    #[error("token {token:?} does not allow ingest")]
    Forbidden {
        /// The token's name.
        token: String,
    },
    /// The `X-Scope-OrgID` value is not a valid tenant id.
    #[error("invalid X-Scope-OrgID: {0}")]
    InvalidTenant(#[from] TenantIdError),
    /// The store could not make the spans or samples durable.
    #[error("storing the export: {0}")]
    Store(#[from] sightline_store::Error),
    /// A blocking decode task panicked or was cancelled.
    #[error("decode task failed: {0}")]
    DecodeTask(#[from] tokio::task::JoinError),
    /// A listener or server failed.
    #[error("{protocol} server: {reason}")]
    Serve {
        /// "grpc" or "http".
        protocol: &'static str,
        /// The server error.
        reason: String,
    },
}

impl Error {
    /// Returns the class of this error, for the wire mappings.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::UnsupportedContentType { .. } | Error::UnsupportedContentEncoding { .. } => {
                ErrorClass::UnsupportedMediaType
            }
            Error::BodyTooLarge { .. } => ErrorClass::TooLarge,
            Error::ReadBody { .. }
            | Error::Gzip { .. }
            | Error::Protobuf { .. }
            | Error::Json { .. }
            | Error::InvalidTenant(_) => ErrorClass::InvalidInput,
            Error::BudgetExhausted { .. } | Error::RateLimited { .. } => ErrorClass::RateLimited,
            Error::MissingTenant | Error::Unauthenticated => ErrorClass::Unauthenticated,
            Error::Forbidden { .. } => ErrorClass::Forbidden,
            Error::Store(error) => error.class(),
            Error::DecodeTask(_) | Error::Serve { .. } => ErrorClass::Internal,
        }
    }

    /// Says whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }

    /// How long a client should wait before retrying, when it should: the rate limit's own
    /// wait (rounded up to whole seconds for `Retry-After`), else one second.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ if self.is_retryable() => Some(std::time::Duration::from_secs(1)),
            _ => None,
        }
    }

    /// [`Error::retry_after`] in whole seconds (at least 1), for `Retry-After`.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after()
            .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            .map(|seconds| seconds.max(1))
    }

    /// Returns the message a client may see: the error itself, or a generic text for internal
    /// errors, whose detail only goes to the log.
    pub fn client_message(&self) -> String {
        match self.class() {
            ErrorClass::Internal => "internal error; see the server log".to_string(),
            _ => self.to_string(),
        }
    }
}

fn format_retry(wait: std::time::Duration) -> String {
    format!("{:.3}s", wait.as_secs_f64())
}

/// Maps an error class to its HTTP status: the one HTTP mapping of the collector.
pub fn http_status_for_class(class: ErrorClass) -> http::StatusCode {
    http::StatusCode::from_u16(class.http_status())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Maps an error class to its gRPC code: the one gRPC mapping of the collector.
pub fn grpc_code_for_class(class: ErrorClass) -> tonic::Code {
    match class {
        ErrorClass::InvalidInput | ErrorClass::UnsupportedMediaType => tonic::Code::InvalidArgument,
        ErrorClass::TooLarge | ErrorClass::RateLimited => tonic::Code::ResourceExhausted,
        ErrorClass::Unauthenticated => tonic::Code::Unauthenticated,
        ErrorClass::Forbidden => tonic::Code::PermissionDenied,
        ErrorClass::NotFound => tonic::Code::NotFound,
        ErrorClass::Conflict => tonic::Code::AlreadyExists,
        ErrorClass::Unavailable => tonic::Code::Unavailable,
        ErrorClass::Internal => tonic::Code::Internal,
    }
}

/// Returns a bounded label for an error class, for the `outcome` and `reason` metric labels.
pub(crate) fn class_label(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidInput => "invalid_input",
        ErrorClass::TooLarge => "too_large",
        ErrorClass::UnsupportedMediaType => "unsupported_media_type",
        ErrorClass::Unauthenticated => "unauthenticated",
        ErrorClass::Forbidden => "forbidden",
        ErrorClass::NotFound => "not_found",
        ErrorClass::Conflict => "conflict",
        ErrorClass::RateLimited => "rate_limited",
        ErrorClass::Unavailable => "unavailable",
        ErrorClass::Internal => "internal",
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        tonic::Status::new(grpc_code_for_class(error.class()), error.client_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_maps_to_the_documented_grpc_code() {
        let expected = [
            (ErrorClass::Unavailable, tonic::Code::Unavailable),
            (ErrorClass::RateLimited, tonic::Code::ResourceExhausted),
            (ErrorClass::TooLarge, tonic::Code::ResourceExhausted),
            (ErrorClass::InvalidInput, tonic::Code::InvalidArgument),
            (
                ErrorClass::UnsupportedMediaType,
                tonic::Code::InvalidArgument,
            ),
            (ErrorClass::Unauthenticated, tonic::Code::Unauthenticated),
            (ErrorClass::Forbidden, tonic::Code::PermissionDenied),
            (ErrorClass::NotFound, tonic::Code::NotFound),
            (ErrorClass::Internal, tonic::Code::Internal),
        ];
        for (class, code) in expected {
            assert_eq!(grpc_code_for_class(class), code, "{class:?}");
        }
    }

    #[test]
    fn http_statuses_follow_the_class() {
        assert_eq!(http_status_for_class(ErrorClass::RateLimited), 429);
        assert_eq!(http_status_for_class(ErrorClass::TooLarge), 413);
        assert_eq!(http_status_for_class(ErrorClass::UnsupportedMediaType), 415);
        assert_eq!(http_status_for_class(ErrorClass::Unavailable), 503);
    }

    #[test]
    fn store_errors_keep_their_class_and_internal_detail_stays_hidden() {
        let unavailable = Error::from(sightline_store::Error::WalClosed("shutdown".into()));
        assert_eq!(
            tonic::Status::from(unavailable).code(),
            tonic::Code::Unavailable
        );
        let internal = Error::from(sightline_store::Error::Corrupt {
            what: "wal record",
            path: "/secret/path".into(),
            reason: "bad crc".into(),
        });
        assert!(!internal.is_retryable());
        let status = tonic::Status::from(internal);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
