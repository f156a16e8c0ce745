//! [`ApiError`]: how the native API's managed-object endpoints (health checks, alert rules,
//! receivers) answer a failure: `{"error": "...", "problems": [...]}`, `problems` only for
//! invalid definitions, one entry per invalid field.

use std::fmt::Display;

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde_json::{json, Value};
use sightline_model::{ErrorClass, TenantId};

use super::tenant_from_headers;

/// A failed request of a managed-object endpoint.
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    problems: Vec<Value>,
}

impl ApiError {
    /// An error with a status and a message.
    pub(crate) fn plain(status: StatusCode, message: String) -> Self {
        Self {
            status,
            message,
            problems: Vec::new(),
        }
    }

    /// A 400 with a message.
    pub(crate) fn bad_request(message: String) -> Self {
        Self::plain(StatusCode::BAD_REQUEST, message)
    }

    /// An error of class `class`; an internal one is logged (naming `what` failed) and
    /// answered generically.
    pub(crate) fn from_class(
        class: ErrorClass,
        error: &dyn Display,
        what: &str,
        problems: Vec<Value>,
    ) -> Self {
        let status =
            StatusCode::from_u16(class.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if class == ErrorClass::Internal {
            tracing::error!(%error, what, "request failed");
            return Self::plain(
                status,
                "internal error; details are in the server log".to_string(),
            );
        }
        Self {
            status,
            message: error.to_string(),
            problems,
        }
    }
}

/// Selects the request's tenant, answering a bad `X-Scope-OrgID` with a 400.
pub(crate) fn request_tenant(
    headers: &HeaderMap,
    multi_tenancy: bool,
) -> Result<TenantId, ApiError> {
    tenant_from_headers(headers, multi_tenancy).map_err(|error| {
        let (status, message) = error.to_http();
        ApiError::plain(status, message)
    })
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // Serde's message names the field: "missing field `service`", "unknown field `urll`".
        Self::bad_request(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.problems.is_empty() {
            json!({ "error": self.message })
        } else {
            json!({ "error": self.message, "problems": self.problems })
        };
        (self.status, Json(body)).into_response()
    }
}
