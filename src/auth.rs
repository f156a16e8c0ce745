//! Authentication of the query port (`:7878`): once any bearer token exists, every request but
//! `/healthz` and `/readyz` needs `Authorization: Bearer <token>` with the scope its endpoint
//! asks for — `read` for queries (GET, and the POST forms of the Prometheus, Loki and
//! test-evaluation endpoints), `admin` for changes (rules, receivers, health checks, tokens).
//! Prometheus remote write authenticates `ingest` itself, as the OTLP receivers do.
//!
//! A request let in carries its token's tenant in
//! [`AUTHENTICATED_TENANT_HEADER`](sightline_model::auth::AUTHENTICATED_TENANT_HEADER) (an
//! `admin` token may name another with `X-Scope-OrgID`); whatever a client put in that header
//! is removed first, with or without authentication.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sightline_model::auth::{bearer_secret, Scope, AUTHENTICATED_TENANT_HEADER};
use sightline_model::TenantId;
use sightline_store::TokenRegistry;

/// The header an `admin` token names another tenant with.
const TENANT_HEADER: &str = "x-scope-orgid";

/// The scope a request needs; `None` for open endpoints and those that authenticate
/// themselves.
pub fn required_scope(method: &Method, path: &str) -> Option<Scope> {
    let reads_by_post = path.starts_with("/prometheus/api/v1/")
        || path.starts_with("/loki/api/v1/")
        || (path.starts_with("/api/v1/alerts/rules/") && path.ends_with("/test"));
    match path {
        "/healthz" | "/readyz" | "/prometheus/api/v1/write" => None,
        "/api/v1/tokens" => Some(Scope::Admin),
        _ if path.starts_with("/api/v1/tokens/") => Some(Scope::Admin),
        _ if method == Method::GET || method == Method::HEAD => Some(Scope::Read),
        _ if reads_by_post => Some(Scope::Read),
        _ => Some(Scope::Admin),
    }
}

fn refuse(status: StatusCode, message: String) -> Response {
    let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The middleware: authenticates, checks the scope, and sets the request's tenant.
pub async fn authenticate(
    State(tokens): State<TokenRegistry>,
    mut request: Request,
    next: Next,
) -> Response {
    request.headers_mut().remove(AUTHENTICATED_TENANT_HEADER);
    let Some(scope) = required_scope(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    if !tokens.is_enabled() {
        return next.run(request).await;
    }
    let principal = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer_secret(value.as_bytes()))
        .and_then(|secret| tokens.authenticate(secret));
    let Some(principal) = principal else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or unknown bearer token: send Authorization: Bearer <token>".to_string(),
        );
    };
    if !principal.allows(scope) {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "token {:?} does not allow {}",
                principal.name,
                scope.as_str()
            ),
        );
    }
    let chosen = request
        .headers()
        .get(TENANT_HEADER)
        .filter(|_| principal.allows(Scope::Admin))
        .map(|value| TenantId::new(String::from_utf8_lossy(value.as_bytes()).trim()));
    let tenant = match chosen {
        None => principal.tenant,
        Some(Ok(tenant)) => tenant,
        Some(Err(error)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("invalid X-Scope-OrgID header: {error}"),
            )
        }
    };
    if let Ok(value) = HeaderValue::from_str(tenant.as_str()) {
        request
            .headers_mut()
            .insert(AUTHENTICATED_TENANT_HEADER, value);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_endpoint() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(required_scope(&get, "/healthz"), None);
        assert_eq!(required_scope(&post, "/prometheus/api/v1/write"), None);
        assert_eq!(
            required_scope(&get, "/api/v1/traces/abc"),
            Some(Scope::Read)
        );
        assert_eq!(required_scope(&get, "/metrics"), Some(Scope::Read));
        assert_eq!(
            required_scope(&post, "/prometheus/api/v1/query"),
            Some(Scope::Read)
        );
        assert_eq!(
            required_scope(&post, "/loki/api/v1/query_range"),
            Some(Scope::Read)
        );
        assert_eq!(
            required_scope(&post, "/api/v1/alerts/rules/x/test"),
            Some(Scope::Read)
        );
        assert_eq!(
            required_scope(&post, "/api/v1/alerts/rules"),
            Some(Scope::Admin)
        );
        assert_eq!(
            required_scope(&Method::DELETE, "/api/v1/health-checks/x"),
            Some(Scope::Admin)
        );
        assert_eq!(required_scope(&get, "/api/v1/tokens"), Some(Scope::Admin));
        assert_eq!(
            required_scope(&Method::DELETE, "/api/v1/tokens/x"),
            Some(Scope::Admin)
        );
    }
}
