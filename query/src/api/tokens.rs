//! `/api/v1/tokens`: the bearer tokens (the binary lets only `admin` tokens in here once
//! authentication is on).
//!
//! - `GET /tokens` → `{"tokens": [{"name", "tenant", "scopes", "source", "created_at_unix_ms"}]}`
//!   (never a secret).
//! - `POST /tokens` with `{"name", "tenant"?, "scopes": ["ingest"|"read"|"admin", …]}` → 201 and
//!   the token with its `secret`, shown this once (only its SHA-256 is stored).
//! - `DELETE /tokens/{name}` → 204; requests with it fail from then on. Config-file tokens are
//!   read-only (400).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sightline_model::auth::Scope;
use sightline_model::TenantId;
use sightline_store::tokens::{TokenError, TokenInfo};
use sightline_store::TokenRegistry;

use super::record_query_metrics;
use super::write_error::ApiError;

/// A token to create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    tenant: Option<String>,
    scopes: Vec<Scope>,
}

/// Builds the `/tokens` routes (nested under `/api/v1` by the caller).
pub(crate) fn router(tokens: TokenRegistry) -> Router {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{name}", delete(remove))
        .route_layer(middleware::from_fn_with_state(
            "native",
            record_query_metrics,
        ))
        .with_state(tokens)
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        let problems = match &error {
            TokenError::Invalid(problems) => problems.iter().map(|p| json!(p)).collect(),
            _ => Vec::new(),
        };
        ApiError::from_class(error.class(), &error, "token registry", problems)
    }
}

fn token_json(info: &TokenInfo) -> Value {
    json!({
        "name": info.principal.name,
        "tenant": info.principal.tenant.as_str(),
        "scopes": info.principal.scopes,
        "source": info.source,
        "created_at_unix_ms": info.created_at_ms,
    })
}

async fn list(State(tokens): State<TokenRegistry>) -> Json<Value> {
    let listed: Vec<Value> = tokens.list().iter().map(token_json).collect();
    Json(json!({ "tokens": listed }))
}

async fn create(
    State(tokens): State<TokenRegistry>,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(new) = body?;
    let tenant = match new.tenant.as_deref() {
        None => TenantId::default_tenant(),
        Some(text) => TenantId::new(text)
            .map_err(|error| ApiError::bad_request(format!("invalid token: tenant: {error}")))?,
    };
    let (info, secret) = tokens.create(&new.name, tenant, new.scopes).await?;
    let mut body = token_json(&info);
    body["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn remove(
    State(tokens): State<TokenRegistry>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    tokens.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
