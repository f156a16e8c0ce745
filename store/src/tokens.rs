//! [`TokenRegistry`]: the bearer tokens requests authenticate with — the config file's and those
//! created through the API (stored in the [`StateDb`] as their SHA-256 only; the secret is shown
//! once, when created).
//!
//! While no token exists, authentication is off and every request is let through (the query
//! port then listens on loopback by default). The first token turns it on for every listener.
//! Secrets are looked up by their digest, so the comparison never depends on how much of a
//! guessed secret is right.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use sightline_model::auth::{ConfiguredSecret, Principal, Scope, TokenSpec};
use sightline_model::{ErrorClass, TenantId};

use crate::state_db::{unix_millis_now, StateDb, StateDbError};

/// The prefix of secrets the API makes, so that scanners can recognise leaked ones.
pub const SECRET_PREFIX: &str = "slt_";

/// What went wrong with a token operation.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The request is invalid.
    #[error("invalid token: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// No token of that name.
    #[error("no token named {name:?}")]
    NotFound {
        /// The name.
        name: String,
    },
    /// The name is taken.
    #[error("a token named {name:?} exists already")]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// The token comes from the config file.
    #[error("token {name:?} is declared in the config file and is read-only here; change the file and restart")]
    ReadOnly {
        /// The name.
        name: String,
    },
    /// Two config tokens share a name or a secret.
    #[error("config tokens: {0}")]
    Config(String),
    /// No random bytes for a secret.
    #[error("cannot make a secret: {0}")]
    Random(String),
    /// The state database failed.
    #[error(transparent)]
    Db(#[from] StateDbError),
}

impl TokenError {
    /// Returns the class of this error, for the wire mappings.
    pub fn class(&self) -> ErrorClass {
        match self {
            TokenError::Invalid(_) | TokenError::ReadOnly { .. } => ErrorClass::InvalidInput,
            TokenError::NotFound { .. } => ErrorClass::NotFound,
            TokenError::AlreadyExists { .. } => ErrorClass::Conflict,
            TokenError::Config(_) | TokenError::Random(_) => ErrorClass::Internal,
            TokenError::Db(source) => source.class(),
        }
    }
}

/// A token as the API lists it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Who it stands for.
    pub principal: Principal,
    /// `config` or `api`.
    pub source: &'static str,
    /// When it was created (API tokens), ms since the epoch.
    pub created_at_ms: Option<i64>,
}

struct Entry {
    info: TokenInfo,
    digest: [u8; 32],
}

struct Inner {
    db: StateDb,
    /// By name.
    tokens: RwLock<HashMap<String, Entry>>,
    /// Serialises writes so that the database and memory change in the same order.
    writes: tokio::sync::Mutex<()>,
}

/// Every token; clones share one registry.
#[derive(Clone)]
pub struct TokenRegistry {
    inner: Arc<Inner>,
}

/// The SHA-256 of a secret.
pub fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl TokenRegistry {
    /// Loads the API tokens stored in `db` and adds the config file's.
    ///
    /// # Errors
    /// The database cannot be read; two tokens share a name or a secret.
    pub async fn open(db: StateDb, config: Vec<TokenSpec>) -> Result<Self, TokenError> {
        let mut tokens: HashMap<String, Entry> = HashMap::new();
        for spec in config {
            let digest = match &spec.secret {
                ConfiguredSecret::Plain(secret) => secret_digest(secret),
                ConfiguredSecret::Sha256(digest) => *digest,
            };
            let name = spec.principal.name.clone();
            if tokens.contains_key(&name) || tokens.values().any(|entry| entry.digest == digest) {
                return Err(TokenError::Config(format!(
                    "token {name:?} repeats another's name or secret"
                )));
            }
            let info = TokenInfo {
                principal: spec.principal,
                source: "config",
                created_at_ms: None,
            };
            tokens.insert(name, Entry { info, digest });
        }
        let rows = db
            .call("load tokens", |connection| {
                let mut statement = connection.prepare(
                    "SELECT name, tenant, scopes, secret_sha256, created_at_ms FROM api_tokens",
                )?;
                let rows = statement.query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        for (name, tenant, scopes, digest, created_at_ms) in rows {
            match parse_stored(&name, &tenant, &scopes, &digest) {
                Ok(_) if tokens.contains_key(&name) => {
                    tracing::warn!(
                        token = name,
                        "stored token left out: the config file declares one of the same name"
                    );
                }
                Ok((principal, digest)) => {
                    let info = TokenInfo {
                        principal,
                        source: "api",
                        created_at_ms: Some(created_at_ms),
                    };
                    tokens.insert(name, Entry { info, digest });
                }
                Err(reason) => tracing::warn!(token = name, reason, "stored token left out"),
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                tokens: RwLock::new(tokens),
                writes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Whether any token exists, which turns authentication on.
    pub fn is_enabled(&self) -> bool {
        !self.read().is_empty()
    }

    /// Returns who `secret` belongs to, if anyone.
    pub fn authenticate(&self, secret: &str) -> Option<Principal> {
        let digest = secret_digest(secret);
        self.read()
            .values()
            .find(|entry| entry.digest == digest)
            .map(|entry| entry.info.principal.clone())
    }

    /// Every token, by name.
    pub fn list(&self) -> Vec<TokenInfo> {
        let mut tokens: Vec<TokenInfo> = self
            .read()
            .values()
            .map(|entry| entry.info.clone())
            .collect();
        tokens.sort_by(|a, b| a.principal.name.cmp(&b.principal.name));
        tokens
    }

    /// Creates an API token and returns it with its secret (shown this once).
    ///
    /// # Errors
    /// [`TokenError::Invalid`], [`TokenError::AlreadyExists`], database failures.
    pub async fn create(
        &self,
        name: &str,
        tenant: TenantId,
        mut scopes: Vec<Scope>,
    ) -> Result<(TokenInfo, String), TokenError> {
        let mut problems = Vec::new();
        if let Err(message) = sightline_model::health_check::check_name(name) {
            problems.push(format!("name: {message}"));
        }
        if scopes.is_empty() {
            problems.push("scopes: give at least one of ingest, read, admin".to_string());
        }
        if !problems.is_empty() {
            return Err(TokenError::Invalid(problems));
        }
        scopes.sort();
        scopes.dedup();
        let _writes = self.inner.writes.lock().await;
        if self.read().contains_key(name) {
            return Err(TokenError::AlreadyExists {
                name: name.to_string(),
            });
        }
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|error| TokenError::Random(error.to_string()))?;
        let secret = format!("{SECRET_PREFIX}{}", hex_lower(&random));
        let digest = secret_digest(&secret);
        let created_at_ms = unix_millis_now();
        let scope_text = scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let (row_name, row_tenant, row_digest) = (
            name.to_string(),
            tenant.as_str().to_string(),
            hex_lower(&digest),
        );
        let inserted = self
            .inner
            .db
            .call("insert token", move |connection| {
                connection.execute(
                    "INSERT OR IGNORE INTO api_tokens (name, tenant, scopes, secret_sha256, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![row_name, row_tenant, scope_text, row_digest, created_at_ms],
                )
            })
            .await?;
        if inserted == 0 {
            return Err(TokenError::AlreadyExists {
                name: name.to_string(),
            });
        }
        let info = TokenInfo {
            principal: Principal {
                name: name.to_string(),
                tenant,
                scopes,
            },
            source: "api",
            created_at_ms: Some(created_at_ms),
        };
        self.write().insert(
            name.to_string(),
            Entry {
                info: info.clone(),
                digest,
            },
        );
        Ok((info, secret))
    }

    /// Deletes an API token; requests with it fail from now on.
    ///
    /// # Errors
    /// [`TokenError::NotFound`], [`TokenError::ReadOnly`], database failures.
    pub async fn delete(&self, name: &str) -> Result<(), TokenError> {
        let _writes = self.inner.writes.lock().await;
        match self.read().get(name).map(|entry| entry.info.source) {
            None => {
                return Err(TokenError::NotFound {
                    name: name.to_string(),
                })
            }
            Some("config") => {
                return Err(TokenError::ReadOnly {
                    name: name.to_string(),
                })
            }
            Some(_) => {}
        }
        let row_name = name.to_string();
        self.inner
            .db
            .call("delete token", move |connection| {
                connection.execute("DELETE FROM api_tokens WHERE name = ?1", [row_name])
            })
            .await?;
        self.write().remove(name);
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.inner
            .tokens
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.inner
            .tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn parse_stored(
    name: &str,
    tenant: &str,
    scopes: &str,
    digest: &str,
) -> Result<(Principal, [u8; 32]), String> {
    let tenant = TenantId::new(tenant).map_err(|error| error.to_string())?;
    let scopes = scopes
        .split(',')
        .map(|scope| {
            serde_json::from_value::<Scope>(serde_json::Value::String(scope.to_string()))
                .map_err(|error| error.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut bytes = [0u8; 32];
    if digest.len() != 64 {
        return Err("bad digest".to_string());
    }
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digest[index * 2..index * 2 + 2], 16)
            .map_err(|error| error.to_string())?;
    }
    Ok((
        Principal {
            name: name.to_string(),
            tenant,
            scopes,
        },
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::auth::TokenDefinition;

    #[tokio::test]
    async fn tokens_authenticate_persist_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).await.unwrap();
        let empty = TokenRegistry::open(db.clone(), Vec::new()).await.unwrap();
        assert!(!empty.is_enabled());
        let config = TokenDefinition {
            name: "collector".into(),
            tenant: Some("team-a".into()),
            scopes: vec![Scope::Ingest],
            secret: "0123456789abcdef".into(),
        }
        .validate()
        .unwrap();
        let registry = TokenRegistry::open(db.clone(), vec![config.clone()])
            .await
            .unwrap();
        assert!(registry.is_enabled());
        let who = registry.authenticate("0123456789abcdef").unwrap();
        assert_eq!(
            (who.name.as_str(), who.tenant.as_str()),
            ("collector", "team-a")
        );
        assert!(registry.authenticate("0123456789abcdeF").is_none());

        let (info, secret) = registry
            .create(
                "grafana",
                TenantId::new("team-b").unwrap(),
                vec![Scope::Read],
            )
            .await
            .unwrap();
        assert!(secret.starts_with(SECRET_PREFIX) && secret.len() == 68);
        assert_eq!(info.source, "api");
        assert_eq!(
            registry.authenticate(&secret).unwrap().tenant.as_str(),
            "team-b"
        );
        assert!(matches!(
            registry
                .create("grafana", TenantId::default_tenant(), vec![Scope::Read])
                .await,
            Err(TokenError::AlreadyExists { .. })
        ));
        assert!(matches!(
            registry.delete("collector").await,
            Err(TokenError::ReadOnly { .. })
        ));

        let reopened = TokenRegistry::open(db.clone(), vec![config]).await.unwrap();
        assert_eq!(reopened.list().len(), 2);
        assert!(reopened.authenticate(&secret).is_some());
        reopened.delete("grafana").await.unwrap();
        assert!(reopened.authenticate(&secret).is_none());
        let again = TokenRegistry::open(db, Vec::new()).await.unwrap();
        assert!(!again.is_enabled());
    }
}
