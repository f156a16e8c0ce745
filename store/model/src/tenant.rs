//! Tenants: every stored byte belongs to one, and no query crosses them.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Why a tenant id is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant id {0:?}: use 1 to 64 characters of a-z, A-Z, 0-9, '-' and '_'")]
pub struct TenantIdError(pub String);

/// A tenant's id. Safe to use as a path segment: 1 to 64 characters of `[A-Za-z0-9_-]`.
/// Deserializing validates too (a WAL record or a stored row cannot smuggle in another id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct TenantId(Arc<str>);

impl TryFrom<String> for TenantId {
    type Error = TenantIdError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(&id)
    }
}

impl TenantId {
    /// The tenant used when multi-tenancy is off.
    pub const DEFAULT: &'static str = "default";

    /// Validates and wraps a tenant id.
    ///
    /// # Errors
    /// [`TenantIdError`] when the id is empty, too long, or has characters outside
    /// `[A-Za-z0-9_-]`.
    pub fn new(id: &str) -> Result<Self, TenantIdError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(Arc::from(id)))
        } else {
            Err(TenantIdError(id.to_string()))
        }
    }

    /// Returns the default tenant.
    pub fn default_tenant() -> Self {
        Self(Arc::from(Self::DEFAULT))
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializing_validates() {
        let tenant: TenantId = serde_json::from_str("\"team-a\"").unwrap();
        assert_eq!(tenant.as_str(), "team-a");
        assert!(serde_json::from_str::<TenantId>("\"../etc\"").is_err());
        assert_eq!(serde_json::to_string(&tenant).unwrap(), "\"team-a\"");
    }

    #[test]
    fn rejects_path_tricks() {
        assert!(TenantId::new("team-a_1").is_ok());
        for bad in ["", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(TenantId::new(bad).is_err(), "{bad}");
        }
    }
}
