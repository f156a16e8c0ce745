//! Authentication's vocabulary: the [`Scope`]s a bearer token grants, the [`Principal`] a
//! token stands for, and [`TokenDefinition`], a token as the config file declares it.
//!
//! A token belongs to one tenant: what it ingests goes there and what it reads comes from
//! there. Only an `admin` token may pick another tenant with `X-Scope-OrgID`.

use serde::{Deserialize, Serialize};

use crate::tenant::TenantId;

/// The header the servers set, after authenticating a request, to the tenant it acts for.
/// Any value a client sends is removed first, so handlers can trust it.
pub const AUTHENTICATED_TENANT_HEADER: &str = "x-sightline-authenticated-tenant";

/// Shortest secret a config-file token may have.
pub const MIN_SECRET_LEN: usize = 16;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Sending telemetry: OTLP and Prometheus remote write.
    Ingest,
    /// Reading: every query API, the UI, `/metrics`.
    Read,
    /// Everything, including managing tokens, rules, receivers and health checks.
    Admin,
}

impl Scope {
    /// Its name in the config file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// Its tenant.
    pub tenant: TenantId,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Whether the token allows `scope` (`admin` allows everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|granted| *granted == scope || *granted == Scope::Admin)
    }
}

/// A token as the config file declares it (`[[auth.tokens]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDefinition {
    /// Its name (unique; letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Its tenant; the default tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
    /// What it allows: `ingest`, `read`, `admin`.
    pub scopes: Vec<Scope>,
    /// The secret clients send as `Authorization: Bearer <secret>`: at least 16 characters,
    /// or `sha256:<64 hex digits>`, the SHA-256 of the secret, to keep it out of the file.
    pub secret: String,
}

/// A token's secret as configured: the text itself, or only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfiguredSecret {
    /// The secret.
    Plain(String),
    /// The SHA-256 of the secret.
    Sha256([u8; 32]),
}

/// A validated config-file token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// Who it stands for.
    pub principal: Principal,
    /// Its secret.
    pub secret: ConfiguredSecret,
}

impl TokenDefinition {
    /// Validates the definition.
    ///
    /// # Errors
    /// One line per problem, each starting with the field's name.
    pub fn validate(&self) -> Result<TokenSpec, Vec<String>> {
        let mut problems = Vec::new();
        if let Err(message) = crate::health_check::check_name(&self.name) {
            problems.push(format!("name: {message}"));
        }
        let tenant = match self.tenant.as_deref() {
            None => TenantId::default_tenant(),
            Some(text) => TenantId::new(text).unwrap_or_else(|error| {
                problems.push(format!("tenant: {error}"));
                TenantId::default_tenant()
            }),
        };
        if self.scopes.is_empty() {
            problems.push("scopes: give at least one of ingest, read, admin".to_string());
        }
        let secret = match self.secret.strip_prefix("sha256:") {
            Some(digest) => match parse_sha256_hex(digest) {
                Some(bytes) => ConfiguredSecret::Sha256(bytes),
                None => {
                    problems.push("secret: sha256: must be followed by 64 hex digits".to_string());
                    ConfiguredSecret::Plain(String::new())
                }
            },
            None => {
                if self.secret.chars().count() < MIN_SECRET_LEN
                    || self
                        .secret
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control())
                {
                    problems.push(format!(
                        "secret: must be at least {MIN_SECRET_LEN} characters without spaces"
                    ));
                }
                ConfiguredSecret::Plain(self.secret.clone())
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut scopes = self.scopes.clone();
        scopes.sort();
        scopes.dedup();
        Ok(TokenSpec {
            principal: Principal {
                name: self.name.clone(),
                tenant,
                scopes,
            },
            secret,
        })
    }
}

fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// Reads the secret of an `Authorization: Bearer <secret>` header value.
pub fn bearer_secret(header: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, secret) = text.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| secret.trim())
        .filter(|secret| !secret.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(secret: &str, scopes: Vec<Scope>) -> TokenDefinition {
        TokenDefinition {
            name: "ci".to_string(),
            tenant: Some("team-a".to_string()),
            scopes,
            secret: secret.to_string(),
        }
    }

    #[test]
    fn tokens_validate_and_scopes_imply() {
        let spec = definition(
            "0123456789abcdef",
            vec![Scope::Read, Scope::Ingest, Scope::Read],
        )
        .validate()
        .unwrap();
        assert_eq!(spec.principal.tenant.as_str(), "team-a");
        assert_eq!(spec.principal.scopes, [Scope::Ingest, Scope::Read]);
        assert!(!spec.principal.allows(Scope::Admin));
        let admin = Principal {
            scopes: vec![Scope::Admin],
            ..spec.principal.clone()
        };
        assert!(admin.allows(Scope::Ingest) && admin.allows(Scope::Read));
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            definition(&digest, vec![Scope::Read])
                .validate()
                .unwrap()
                .secret,
            ConfiguredSecret::Sha256([0xab; 32])
        );
        let problems = TokenDefinition {
            name: "bad name".to_string(),
            tenant: Some("../x".to_string()),
            scopes: Vec::new(),
            secret: "short".to_string(),
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = problems
            .iter()
            .map(|problem| problem.split(':').next().unwrap())
            .collect();
        assert_eq!(fields, ["name", "tenant", "scopes", "secret"]);
        assert!(definition("sha256:12", vec![Scope::Read])
            .validate()
            .is_err());
    }

    #[test]
    fn bearer_headers_parse() {
        assert_eq!(bearer_secret(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer_secret(b"bearer  abc "), Some("abc"));
        assert_eq!(bearer_secret(b"Basic abc"), None);
        assert_eq!(bearer_secret(b"Bearer "), None);
        assert_eq!(bearer_secret(b"abc"), None);
    }
}
