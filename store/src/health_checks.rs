//! The registry of health-check targets: the config file's (read-only) and the API's
//! (persisted in the [`StateDb`]), with each target's last probe result, and a change signal the
//! prober's scheduler watches so that edits take effect without a restart.
//!
//! Targets belong to a tenant; a name is unique within its tenant across both sources.
//! Config-file targets belong to the default tenant. If an API target stored earlier has the
//! name a config-file target now uses, the config wins and the stored one is left out (and
//! logged) until the config target goes.
//!
//! Writes (create, replace, delete) go to the database first and to memory after, one at a
//! time, so memory never shows a change the database refused.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use sightline_model::health_check::DefinitionProblem;
use sightline_model::{ErrorClass, HealthCheckDefinition, HealthCheckSpec, TenantId};
use tokio::sync::watch;

use crate::state_db::{unix_millis_now, StateDb, StateDbError};

/// Where a target was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckSource {
    /// The config file's `[[health_checks]]`; read-only through the API.
    Config,
    /// Created through the API; stored in the state database.
    Api,
}

/// The outcome of a target's latest probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Whether the probe succeeded.
    pub success: bool,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed (`None` on success).
    pub error: Option<String>,
    /// When it finished, in milliseconds since the Unix epoch.
    pub finished_unix_ms: i64,
}

/// A target as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheckEntry {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its validated definition.
    pub spec: HealthCheckSpec,
    /// Where it was declared.
    pub source: HealthCheckSource,
    /// Its latest probe result, if it was probed since start-up (or since it last changed).
    pub last_result: Option<ProbeResult>,
}

/// What went wrong with a registry operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The definition has invalid fields.
    #[error("invalid health check: {}", join_problems(.0))]
    Invalid(Vec<DefinitionProblem>),
    /// No target of that name in the tenant.
    #[error("no health check named {name:?}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// A target of that name exists already in the tenant.
    #[error("a health check named {name:?} exists already")]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// The target comes from the config file and cannot be changed through the API.
    #[error("health check {name:?} is declared in the config file and is read-only here; change the file and restart")]
    ReadOnly {
        /// The name.
        name: String,
    },
    /// A replacement's `name` differs from the target it replaces.
    #[error("name: {given:?} differs from {name:?} in the path; a health check cannot be renamed (delete it and create another)")]
    Rename {
        /// The name in the path.
        name: String,
        /// The name in the body.
        given: String,
    },
    /// The state database failed.
    #[error(transparent)]
    Db(#[from] StateDbError),
}

fn join_problems(problems: &[DefinitionProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl RegistryError {
    /// Returns the class of this error, for the wire mappings.
    pub fn class(&self) -> ErrorClass {
        match self {
            RegistryError::Invalid(_)
            | RegistryError::ReadOnly { .. }
            | RegistryError::Rename { .. } => ErrorClass::InvalidInput,
            RegistryError::NotFound { .. } => ErrorClass::NotFound,
            RegistryError::AlreadyExists { .. } => ErrorClass::Conflict,
            RegistryError::Db(source) => source.class(),
        }
    }
}

struct Target {
    spec: HealthCheckSpec,
    source: HealthCheckSource,
    last_result: Option<ProbeResult>,
}

type TargetKey = (TenantId, String);

struct Inner {
    db: StateDb,
    targets: RwLock<BTreeMap<TargetKey, Target>>,
    /// Serialises writes so that the database and memory change in the same order. A tokio
    /// mutex: it is held across the database call's `.await`.
    writes: tokio::sync::Mutex<()>,
    changes: watch::Sender<u64>,
}

/// Every health-check target; clones share one registry.
#[derive(Clone)]
pub struct HealthCheckRegistry {
    inner: Arc<Inner>,
}

impl HealthCheckRegistry {
    /// Loads the API targets stored in `db` and adds the config file's (default tenant).
    /// A stored row that no longer validates, or whose name a config target took, is logged
    /// and left out.
    ///
    /// # Errors
    /// The database cannot be read; two config targets share a name.
    pub async fn open(db: StateDb, config: Vec<HealthCheckSpec>) -> Result<Self, RegistryError> {
        let mut targets = BTreeMap::new();
        for spec in config {
            let key = (TenantId::default_tenant(), spec.name.clone());
            if targets.contains_key(&key) {
                return Err(RegistryError::AlreadyExists { name: spec.name });
            }
            let target = Target {
                spec,
                source: HealthCheckSource::Config,
                last_result: None,
            };
            targets.insert(key, target);
        }
        let rows = db
            .call("load health checks", |connection| {
                let mut statement = connection.prepare(
                    "SELECT tenant, name, definition FROM health_checks ORDER BY tenant, name",
                )?;
                let rows = statement.query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        for (tenant, name, definition) in rows {
            match parse_stored(&tenant, &definition) {
                Err(reason) => {
                    tracing::warn!(
                        tenant,
                        name,
                        reason,
                        "stored health check left out: unreadable"
                    );
                }
                Ok((tenant, spec)) => {
                    let key = (tenant, spec.name.clone());
                    if targets.contains_key(&key) {
                        tracing::warn!(
                            tenant = %key.0,
                            name,
                            "stored health check left out: the config file declares one of the same name"
                        );
                        continue;
                    }
                    let target = Target {
                        spec,
                        source: HealthCheckSource::Api,
                        last_result: None,
                    };
                    targets.insert(key, target);
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                targets: RwLock::new(targets),
                writes: tokio::sync::Mutex::new(()),
                changes: watch::channel(0).0,
            }),
        })
    }

    /// Returns a receiver whose value changes whenever a target is created, replaced or
    /// deleted.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Returns every target of every tenant, enabled or not.
    pub fn snapshot(&self) -> Vec<(TenantId, HealthCheckSpec)> {
        self.read()
            .iter()
            .map(|((tenant, _), target)| (tenant.clone(), target.spec.clone()))
            .collect()
    }

    /// Returns the tenant's targets, by name.
    pub fn list(&self, tenant: &TenantId) -> Vec<HealthCheckEntry> {
        self.read()
            .iter()
            .filter(|((owner, _), _)| owner == tenant)
            .map(|((tenant, _), target)| entry(tenant, target))
            .collect()
    }

    /// Returns one target.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`].
    pub fn get(&self, tenant: &TenantId, name: &str) -> Result<HealthCheckEntry, RegistryError> {
        self.read()
            .get(&(tenant.clone(), name.to_string()))
            .map(|target| entry(tenant, target))
            .ok_or_else(|| RegistryError::NotFound {
                name: name.to_string(),
            })
    }

    /// Records a probe's result, if the target still has exactly `spec` (a result of a target
    /// replaced meanwhile is dropped).
    pub fn record_result(&self, tenant: &TenantId, spec: &HealthCheckSpec, result: ProbeResult) {
        let mut targets = self.write();
        if let Some(target) = targets.get_mut(&(tenant.clone(), spec.name.clone())) {
            if target.spec == *spec {
                target.last_result = Some(result);
            }
        }
    }

    /// Creates an API target in `tenant`.
    ///
    /// # Errors
    /// [`RegistryError::Invalid`], [`RegistryError::AlreadyExists`], database failures.
    pub async fn create(
        &self,
        tenant: &TenantId,
        definition: &HealthCheckDefinition,
    ) -> Result<HealthCheckEntry, RegistryError> {
        let spec = definition.validate().map_err(RegistryError::Invalid)?;
        let _writes = self.inner.writes.lock().await;
        let key = (tenant.clone(), spec.name.clone());
        if self.read().contains_key(&key) {
            return Err(RegistryError::AlreadyExists { name: spec.name });
        }
        let stored = stored_definition(&spec);
        let (tenant_text, name) = (tenant.as_str().to_string(), spec.name.clone());
        let inserted = self
            .inner
            .db
            .call("insert health check", move |connection| {
                let now = unix_millis_now();
                connection.execute(
                    "INSERT OR IGNORE INTO health_checks (tenant, name, definition, created_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    rusqlite::params![tenant_text, name, stored, now],
                )
            })
            .await?;
        if inserted == 0 {
            // A row the config file shadows: the name is taken all the same.
            return Err(RegistryError::AlreadyExists { name: spec.name });
        }
        Ok(self.upsert(key, spec))
    }

    /// Replaces an API target's definition; `definition.name` must be `name`.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::ReadOnly`], [`RegistryError::Rename`],
    /// [`RegistryError::Invalid`], database failures.
    pub async fn replace(
        &self,
        tenant: &TenantId,
        name: &str,
        definition: &HealthCheckDefinition,
    ) -> Result<HealthCheckEntry, RegistryError> {
        let _writes = self.inner.writes.lock().await;
        let key = self.writable_key(tenant, name)?;
        if definition.name != name {
            return Err(RegistryError::Rename {
                name: name.to_string(),
                given: definition.name.clone(),
            });
        }
        let spec = definition.validate().map_err(RegistryError::Invalid)?;
        let stored = stored_definition(&spec);
        let (tenant_text, name_text) = (tenant.as_str().to_string(), name.to_string());
        self.inner
            .db
            .call("update health check", move |connection| {
                connection.execute(
                    "UPDATE health_checks SET definition = ?3, updated_at_ms = ?4 WHERE tenant = ?1 AND name = ?2",
                    rusqlite::params![tenant_text, name_text, stored, unix_millis_now()],
                )
            })
            .await?;
        Ok(self.upsert(key, spec))
    }

    /// Deletes an API target.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::ReadOnly`], database failures.
    pub async fn delete(&self, tenant: &TenantId, name: &str) -> Result<(), RegistryError> {
        let _writes = self.inner.writes.lock().await;
        let key = self.writable_key(tenant, name)?;
        let (tenant_text, name_text) = (tenant.as_str().to_string(), name.to_string());
        self.inner
            .db
            .call("delete health check", move |connection| {
                connection.execute(
                    "DELETE FROM health_checks WHERE tenant = ?1 AND name = ?2",
                    rusqlite::params![tenant_text, name_text],
                )
            })
            .await?;
        self.remove(&key);
        Ok(())
    }

    fn writable_key(&self, tenant: &TenantId, name: &str) -> Result<TargetKey, RegistryError> {
        let key = (tenant.clone(), name.to_string());
        match self.read().get(&key) {
            None => Err(RegistryError::NotFound {
                name: name.to_string(),
            }),
            Some(target) if target.source == HealthCheckSource::Config => {
                Err(RegistryError::ReadOnly {
                    name: name.to_string(),
                })
            }
            Some(_) => Ok(key),
        }
    }

    /// Puts an API target in memory and signals the change.
    fn upsert(&self, key: TargetKey, spec: HealthCheckSpec) -> HealthCheckEntry {
        let target = Target {
            spec,
            source: HealthCheckSource::Api,
            last_result: None,
        };
        let shown = entry(&key.0, &target);
        self.write().insert(key, target);
        self.inner.changes.send_modify(|version| *version += 1);
        shown
    }

    /// Takes a target out of memory and signals the change.
    fn remove(&self, key: &TargetKey) {
        self.write().remove(key);
        self.inner.changes.send_modify(|version| *version += 1);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<TargetKey, Target>> {
        self.inner
            .targets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<TargetKey, Target>> {
        self.inner
            .targets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn entry(tenant: &TenantId, target: &Target) -> HealthCheckEntry {
    HealthCheckEntry {
        tenant: tenant.clone(),
        spec: target.spec.clone(),
        source: target.source,
        last_result: target.last_result.clone(),
    }
}

/// The canonical definition as stored: JSON of [`HealthCheckDefinition`].
fn stored_definition(spec: &HealthCheckSpec) -> String {
    serde_json::to_string(&spec.to_definition()).unwrap_or_default()
}

fn parse_stored(tenant: &str, definition: &str) -> Result<(TenantId, HealthCheckSpec), String> {
    let tenant = TenantId::new(tenant).map_err(|error| error.to_string())?;
    let definition: HealthCheckDefinition =
        serde_json::from_str(definition).map_err(|error| error.to_string())?;
    let spec = definition
        .validate()
        .map_err(|problems| join_problems(&problems))?;
    Ok((tenant, spec))
}

/// Reads `name`'s stored definition directly; for tests of persistence.
#[cfg(test)]
async fn stored_row(db: &StateDb, tenant: &str, name: &str) -> Option<String> {
    use rusqlite::OptionalExtension;
    let (tenant, name) = (tenant.to_string(), name.to_string());
    db.call("read health check", move |connection| {
        connection
            .query_row(
                "SELECT definition FROM health_checks WHERE tenant = ?1 AND name = ?2",
                rusqlite::params![tenant, name],
                |row| row.get(0),
            )
            .optional()
    })
    .await
    .ok()
    .flatten()
}
