//! Which tenant an export belongs to. With authentication on (any bearer token configured,
//! see [`sightline_store::TokenRegistry`]): the tenant of the request's token, which must
//! allow `ingest` (an `admin` token may name another with `X-Scope-OrgID`). Without it:
//! `X-Scope-OrgID` (the Cortex/Tempo/Loki convention) when multi-tenancy is on, the default
//! tenant otherwise.

use sightline_model::auth::{bearer_secret, Scope};
use sightline_model::TenantId;
use sightline_store::TokenRegistry;

use crate::error::Error;

/// The header (HTTP) and metadata key (gRPC) bearer tokens come in.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// Authenticates an export and resolves its tenant (see the module docs).
///
/// # Errors
/// [`Error::Unauthenticated`] without a known token, [`Error::Forbidden`] when it does not
/// allow ingest, and [`resolve_tenant`]'s errors.
pub(crate) fn ingest_tenant(
    tokens: Option<&TokenRegistry>,
    multi_tenancy: bool,
    authorization: Option<&[u8]>,
    tenant_header: Option<&[u8]>,
) -> Result<TenantId, Error> {
    let Some(tokens) = tokens.filter(|tokens| tokens.is_enabled()) else {
        return resolve_tenant(multi_tenancy, tenant_header);
    };
    let principal = authorization
        .and_then(bearer_secret)
        .and_then(|secret| tokens.authenticate(secret))
        .ok_or(Error::Unauthenticated)?;
    if !principal.allows(Scope::Ingest) {
        return Err(Error::Forbidden {
            token: principal.name,
        });
    }
    match tenant_header {
        Some(header) if principal.allows(Scope::Admin) => resolve_tenant(true, Some(header)),
        _ => Ok(principal.tenant),
    }
}

/// The header (HTTP) and metadata key (gRPC, lowercase) that names the tenant.
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// Resolves the tenant of a request from the raw `X-Scope-OrgID` value, if any.
///
/// With multi-tenancy off the header is ignored and every span goes to the default tenant.
///
/// # Errors
/// [`Error::MissingTenant`] when multi-tenancy is on and the header is missing or empty;
/// [`Error::InvalidTenant`] when its value is not a valid tenant id.
pub(crate) fn resolve_tenant(
    multi_tenancy: bool,
    header: Option<&[u8]>,
) -> Result<TenantId, Error> {
    if !multi_tenancy {
        return Ok(TenantId::default_tenant());
    }
    let raw = header.ok_or(Error::MissingTenant)?;
    let text = String::from_utf8_lossy(raw);
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::MissingTenant);
    }
    Ok(TenantId::new(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_tenant_ignores_the_header() {
        let tenant = resolve_tenant(false, Some(b"team-a")).unwrap();
        assert_eq!(tenant.as_str(), TenantId::DEFAULT);
    }

    #[test]
    fn multi_tenant_requires_a_valid_header() {
        assert_eq!(
            resolve_tenant(true, Some(b" team-a ")).unwrap().as_str(),
            "team-a"
        );
        assert!(matches!(
            resolve_tenant(true, None),
            Err(Error::MissingTenant)
        ));
        assert!(matches!(
            resolve_tenant(true, Some(b"")),
            Err(Error::MissingTenant)
        ));
        assert!(matches!(
            resolve_tenant(true, Some(b"../etc")),
            Err(Error::InvalidTenant(_))
        ));
    }
}
