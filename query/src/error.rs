//! The query crate's error and its single HTTP mapping.

use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;
use sightline_model::{ErrorClass, IdParseError, TenantIdError, TraceId};

/// What went wrong while answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query parameter is missing, malformed or out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name as the client sent it, such as `minDuration`.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A trace id in the path is not valid hex of the right length.
    #[error("invalid trace id {text:?}: {source}")]
    InvalidTraceId {
        /// The text received.
        text: String,
        /// Why it is not an id.
        source: IdParseError,
    },
    /// The `X-Scope-OrgID` header does not hold a valid tenant id.
    #[error("invalid X-Scope-OrgID header: {0}")]
    InvalidTenant(#[from] TenantIdError),
    /// No span of the trace is stored.
    #[error("trace {trace_id} not found")]
    TraceNotFound {
        /// The trace asked for.
        trace_id: TraceId,
    },
    /// A service the health API was asked about has no data in the window.
    #[error("service {service:?} has no span metrics or health checks in the window")]
    ServiceNotFound {
        /// The service asked for.
        service: String,
    },
    /// Reading from the store failed.
    #[error("store read failed: {0}")]
    Store(#[from] sightline_store::Error),
    /// A PromQL query could not be parsed or evaluated, or ran past its deadline; the message
    /// is the evaluator's (Prometheus' wording where Prometheus has one).
    #[error(transparent)]
    Promql(#[from] crate::promql::Error),
    /// A response could not be encoded.
    #[error("encoding {what} failed: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A blocking task (trace assembly, query evaluation) panicked or was cancelled.
    #[error("background task failed: {0}")]
    TaskFailed(String),
}

impl Error {
    /// Builds an [`Error::InvalidParameter`].
    pub fn invalid_parameter(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    /// Returns the class of this error, for the wire mapping.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidParameter { .. }
            | Error::InvalidTraceId { .. }
            | Error::InvalidTenant(_) => ErrorClass::InvalidInput,
            Error::TraceNotFound { .. } | Error::ServiceNotFound { .. } => ErrorClass::NotFound,
            Error::Store(source) => source.class(),
            Error::Promql(source) => source.class(),
            Error::Encode { .. } | Error::TaskFailed(_) => ErrorClass::Internal,
        }
    }

    /// Says whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }

    /// Maps the error to an HTTP status and the message a client may see. This is the one HTTP
    /// mapping every router uses; each API only wraps the message in its own JSON shape.
    ///
    /// `Internal` errors answer with a generic message naming a request number, and the full
    /// detail is logged under that number.
    pub fn to_http(&self) -> (StatusCode, String) {
        let class = self.class();
        let status =
            StatusCode::from_u16(class.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if class != ErrorClass::Internal {
            return (status, self.to_string());
        }
        let request = next_request_number();
        tracing::error!(request, error = %self, "query failed");
        (
            status,
            format!("internal error (request {request}); details are in the server log"),
        )
    }
}

/// Numbers internal failures so a client's report can be matched with the log line.
fn next_request_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_statuses() {
        let bad = Error::invalid_parameter("limit", "must be at least 1");
        assert_eq!(
            bad.to_http(),
            (
                StatusCode::BAD_REQUEST,
                "invalid parameter limit: must be at least 1".into()
            )
        );
        let missing = Error::TraceNotFound {
            trace_id: TraceId([1; 16]),
        };
        assert_eq!(missing.to_http().0, StatusCode::NOT_FOUND);
    }

    #[test]
    fn promql_errors_keep_their_class() {
        let parse = Error::from(crate::promql::Error::Parse {
            message: "unexpected end of input".into(),
        });
        assert_eq!(parse.class(), ErrorClass::InvalidInput);
        assert_eq!(parse.to_http().1, "parse error: unexpected end of input");
        let timeout = Error::from(crate::promql::Error::Timeout);
        assert_eq!(timeout.to_http().0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(timeout.is_retryable());
    }

    #[test]
    fn internal_errors_are_generic() {
        let error = Error::Encode {
            what: "trace json",
            reason: "secret detail".into(),
        };
        let (status, message) = error.to_http();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("secret"));
        assert!(message.starts_with("internal error (request "));
    }
}
