//! The receivers side of [`AlertRegistry`]: the config file's (default tenant, read-only) and
//! the API's (persisted), handed to the [`Notifier`](crate::alerts::notify::Notifier) whenever
//! they change.

use sightline_model::TenantId;
use sightline_store::alerting::{DefinitionTable, StoredDefinition};

use super::{read, write, AlertRegistry, AlertsError};
use crate::alerts::notify::{ReceiverDefinition, ReceiverSpec};
use crate::alerts::rule::RuleSource;

impl AlertRegistry {
    /// Every receiver of `tenant` with where it was declared.
    pub fn receivers(&self, tenant: &TenantId) -> Vec<(ReceiverSpec, RuleSource)> {
        let mut found: Vec<(ReceiverSpec, RuleSource)> = Vec::new();
        if tenant.as_str() == TenantId::DEFAULT {
            found.extend(
                self.inner
                    .config_receivers
                    .iter()
                    .map(|spec| (spec.clone(), RuleSource::File)),
            );
        }
        found.extend(
            read(&self.inner.api_receivers)
                .iter()
                .filter(|((owner, _), _)| owner == tenant)
                .map(|(_, spec)| (spec.clone(), RuleSource::Api)),
        );
        found
    }

    /// Creates or replaces (`replace`) an API receiver.
    ///
    /// # Errors
    /// [`AlertsError::Invalid`], [`AlertsError::AlreadyExists`], [`AlertsError::NotFound`],
    /// [`AlertsError::ReadOnly`], database failures.
    pub async fn put_receiver(
        &self,
        tenant: &TenantId,
        definition: &ReceiverDefinition,
        replace: Option<&str>,
    ) -> Result<ReceiverSpec, AlertsError> {
        let spec = definition.validate().map_err(|problems| {
            AlertsError::invalid(
                "receiver",
                problems.iter().map(ToString::to_string).collect(),
            )
        })?;
        let _writes = self.inner.writes.lock().await;
        let name = spec.name().to_string();
        let from_config = tenant.as_str() == TenantId::DEFAULT
            && self
                .inner
                .config_receivers
                .iter()
                .any(|other| Some(other.name()) == replace.or(Some(name.as_str())));
        if from_config {
            return Err(AlertsError::ReadOnly {
                what: "receiver",
                name,
            });
        }
        let key = (tenant.clone(), name.clone());
        let exists = read(&self.inner.api_receivers).contains_key(&key);
        let stored = serde_json::to_string(&spec.to_definition()).unwrap_or_default();
        let table = DefinitionTable::AlertReceivers;
        match replace {
            None if exists => {
                return Err(AlertsError::AlreadyExists {
                    what: "receiver",
                    name,
                })
            }
            None => {
                self.inner
                    .db
                    .insert_definition(table, tenant, &name, stored)
                    .await?;
            }
            Some(path_name) if path_name != name => {
                return Err(AlertsError::invalid(
                    "receiver",
                    vec![format!(
                        "name: {name:?} differs from {path_name:?} in the path"
                    )],
                ))
            }
            Some(_) if !exists => {
                return Err(AlertsError::NotFound {
                    what: "receiver",
                    name,
                })
            }
            Some(_) => {
                self.inner
                    .db
                    .update_definition(table, tenant, &name, stored)
                    .await?;
            }
        }
        write(&self.inner.api_receivers).insert(key, spec.clone());
        self.publish_receivers();
        Ok(spec)
    }

    /// Deletes an API receiver.
    ///
    /// # Errors
    /// [`AlertsError::NotFound`], [`AlertsError::ReadOnly`], database failures.
    pub async fn delete_receiver(&self, tenant: &TenantId, name: &str) -> Result<(), AlertsError> {
        let _writes = self.inner.writes.lock().await;
        let key = (tenant.clone(), name.to_string());
        if !read(&self.inner.api_receivers).contains_key(&key) {
            let configured = self
                .receivers(tenant)
                .iter()
                .any(|(spec, _)| spec.name() == name);
            return Err(if configured {
                AlertsError::ReadOnly {
                    what: "receiver",
                    name: name.to_string(),
                }
            } else {
                AlertsError::NotFound {
                    what: "receiver",
                    name: name.to_string(),
                }
            });
        }
        self.inner
            .db
            .delete_definition(DefinitionTable::AlertReceivers, tenant, name)
            .await?;
        write(&self.inner.api_receivers).remove(&key);
        self.publish_receivers();
        Ok(())
    }

    pub(super) fn publish_receivers(&self) {
        let mut all: Vec<(TenantId, ReceiverSpec)> = self
            .inner
            .config_receivers
            .iter()
            .map(|spec| (TenantId::default_tenant(), spec.clone()))
            .collect();
        all.extend(
            read(&self.inner.api_receivers)
                .iter()
                .map(|((tenant, _), spec)| (tenant.clone(), spec.clone())),
        );
        self.inner.notifier.set_receivers(all);
    }
}

pub(super) fn parse_stored_receiver(
    stored: &StoredDefinition,
) -> Result<(TenantId, ReceiverSpec), String> {
    let tenant = TenantId::new(&stored.tenant).map_err(|error| error.to_string())?;
    let definition: ReceiverDefinition =
        serde_json::from_str(&stored.definition).map_err(|error| error.to_string())?;
    let spec = definition.validate().map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok((tenant, spec))
}
