//! The class of a failure: one vocabulary that every crate's error maps to, and that exactly
//! one HTTP mapping and one gRPC mapping turn into wire statuses.

/// What kind of failure an error is, independent of the wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request is malformed or violates a rule (HTTP 400, gRPC INVALID_ARGUMENT).
    InvalidInput,
    /// The request is larger than allowed (HTTP 413, gRPC RESOURCE_EXHAUSTED).
    TooLarge,
    /// The content type or encoding is not supported (HTTP 415, gRPC INVALID_ARGUMENT).
    UnsupportedMediaType,
    /// No valid credentials (HTTP 401, gRPC UNAUTHENTICATED).
    Unauthenticated,
    /// Credentials lack the scope (HTTP 403, gRPC PERMISSION_DENIED).
    Forbidden,
    /// The thing asked for does not exist (HTTP 404, gRPC NOT_FOUND).
    NotFound,
    /// The thing to create exists already, or the change conflicts with its state (HTTP 409,
    /// gRPC ALREADY_EXISTS).
    Conflict,
    /// A limit was hit; retry later (HTTP 429, gRPC RESOURCE_EXHAUSTED).
    RateLimited,
    /// The server cannot serve now; retry later (HTTP 503, gRPC UNAVAILABLE).
    Unavailable,
    /// A bug or an unexpected I/O failure (HTTP 500, gRPC INTERNAL).
    Internal,
}

impl ErrorClass {
    /// Returns the HTTP status code for this class.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidInput => 400,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// Says whether a client may retry the same request later with success.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable)
    }
}
