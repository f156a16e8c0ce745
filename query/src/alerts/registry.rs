//! [`AlertRegistry`]: every rule (rule files' and the API's) grouped for evaluation, every
//! receiver (the config file's and the API's), each rule's live state, and a change signal the
//! evaluator follows so that API edits take effect without a restart.
//!
//! API rules and receivers are persisted in the state database through
//! [`AlertingDb`]; writes go to the database first and to memory after, one at a time, so
//! memory never shows a change the database refused. File rules and config receivers belong
//! to the default tenant and are read-only through the API.

mod receivers;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sightline_model::{ErrorClass, TenantId};
use sightline_store::alerting::{DefinitionTable, StoredDefinition};
use sightline_store::state_db::StateDbError;
use sightline_store::AlertingDb;
use tokio::sync::watch;

use receivers::parse_stored_receiver;

use super::notify::{Notifier, ReceiverSpec};
use super::rule::{Rule, RuleDefinition, RuleGroup, RuleSource, ValidRule};
use super::state::RuleState;

/// What went wrong with a rules or receivers operation.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The definition has invalid fields.
    #[error("invalid {what}: {}", .problems.join("; "))]
    Invalid {
        /// `rule` or `receiver`.
        what: &'static str,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// No such rule or receiver in the tenant.
    #[error("no {what} named {name:?}")]
    NotFound {
        /// `rule` or `receiver`.
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The name is taken.
    #[error("a {what} named {name:?} exists already")]
    AlreadyExists {
        /// `rule` or `receiver`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// It comes from a file and cannot be changed through the API.
    #[error(
        "{what} {name:?} is declared in a file and is read-only here; change the file and restart"
    )]
    ReadOnly {
        /// `rule` or `receiver`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The state database failed.
    #[error(transparent)]
    Db(#[from] StateDbError),
}

impl AlertsError {
    /// Returns the class of this error, for the wire mappings.
    pub fn class(&self) -> ErrorClass {
        match self {
            AlertsError::Invalid { .. } | AlertsError::ReadOnly { .. } => ErrorClass::InvalidInput,
            AlertsError::NotFound { .. } => ErrorClass::NotFound,
            AlertsError::AlreadyExists { .. } => ErrorClass::Conflict,
            AlertsError::Db(source) => source.class(),
        }
    }

    fn invalid(what: &'static str, problems: Vec<String>) -> Self {
        AlertsError::Invalid { what, problems }
    }
}

/// A rule's live state and how its last evaluation went.
#[derive(Debug, Clone, Default)]
pub struct RuleRuntime {
    /// Its alerts.
    pub state: RuleState,
    /// When it was last evaluated, ms since the epoch.
    pub last_evaluation_ms: Option<i64>,
    /// How long that took.
    pub last_duration: Duration,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
    /// The series its last evaluation wrote (`ALERTS`, or a recording rule's), so the next
    /// can mark those that ended stale.
    pub written_series: Vec<BTreeMap<String, String>>,
}

/// Key of a rule's runtime: tenant and rule key.
pub type RuntimeKey = (TenantId, String);

/// A group's timing.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupRuntime {
    /// When it was last evaluated, ms since the epoch.
    pub last_evaluation_ms: Option<i64>,
    /// How long its rules took.
    pub last_duration: Duration,
}

struct Inner {
    db: AlertingDb,
    default_interval: Duration,
    file_groups: Vec<RuleGroup>,
    config_receivers: Vec<ReceiverSpec>,
    api_rules: RwLock<BTreeMap<(TenantId, String), ValidRule>>,
    api_receivers: RwLock<BTreeMap<(TenantId, String), ReceiverSpec>>,
    runtimes: Mutex<HashMap<RuntimeKey, RuleRuntime>>,
    group_runtimes: Mutex<HashMap<(TenantId, String, String), GroupRuntime>>,
    /// Serialises writes so that the database and memory change in the same order. A tokio
    /// mutex: it is held across the database call's `.await`.
    writes: tokio::sync::Mutex<()>,
    changes: watch::Sender<u64>,
    notifier: Notifier,
}

/// Every rule, receiver and rule state; clones share one registry.
#[derive(Clone)]
pub struct AlertRegistry {
    inner: Arc<Inner>,
}

impl AlertRegistry {
    /// Loads the API rules and receivers stored in `db` (a stored row that no longer validates
    /// is logged and left out), the persisted rule states, and hands every receiver to
    /// `notifier`.
    ///
    /// # Errors
    /// The database cannot be read.
    pub async fn open(
        db: AlertingDb,
        file_groups: Vec<RuleGroup>,
        config_receivers: Vec<ReceiverSpec>,
        default_interval: Duration,
        notifier: Notifier,
    ) -> Result<Self, AlertsError> {
        let mut api_rules = BTreeMap::new();
        for stored in db.list_definitions(DefinitionTable::AlertRules).await? {
            match parse_stored_rule(&stored, default_interval) {
                Ok((tenant, rule)) => {
                    api_rules.insert((tenant, stored.name.clone()), rule);
                }
                Err(reason) => tracing::warn!(
                    tenant = stored.tenant,
                    rule = stored.name,
                    reason,
                    "stored alert rule left out: unreadable"
                ),
            }
        }
        let mut api_receivers = BTreeMap::new();
        for stored in db.list_definitions(DefinitionTable::AlertReceivers).await? {
            match parse_stored_receiver(&stored) {
                Ok((tenant, spec)) => {
                    let taken = tenant.as_str() == TenantId::DEFAULT
                        && config_receivers
                            .iter()
                            .any(|other| other.name() == spec.name());
                    if taken {
                        tracing::warn!(receiver = stored.name, "stored receiver left out: the config file declares one of the same name");
                        continue;
                    }
                    api_receivers.insert((tenant, stored.name.clone()), spec);
                }
                Err(reason) => tracing::warn!(
                    tenant = stored.tenant,
                    receiver = stored.name,
                    reason,
                    "stored receiver left out: unreadable"
                ),
            }
        }
        let mut runtimes = HashMap::new();
        for (tenant, rule_key, text) in db.load_states().await? {
            let parsed = TenantId::new(&tenant)
                .map_err(|error| error.to_string())
                .and_then(|tenant| {
                    serde_json::from_str::<RuleState>(&text)
                        .map(|state| (tenant, state))
                        .map_err(|error| error.to_string())
                });
            match parsed {
                Ok((tenant, state)) => {
                    runtimes.insert(
                        (tenant, rule_key),
                        RuleRuntime {
                            state,
                            ..RuleRuntime::default()
                        },
                    );
                }
                Err(reason) => {
                    tracing::warn!(tenant, rule_key, reason, "stored alert state left out")
                }
            }
        }
        let registry = Self {
            inner: Arc::new(Inner {
                db,
                default_interval,
                file_groups,
                config_receivers,
                api_rules: RwLock::new(api_rules),
                api_receivers: RwLock::new(api_receivers),
                runtimes: Mutex::new(runtimes),
                group_runtimes: Mutex::new(HashMap::new()),
                writes: tokio::sync::Mutex::new(()),
                changes: watch::channel(0).0,
                notifier,
            }),
        };
        registry.publish_receivers();
        Ok(registry)
    }

    /// The database alert states and history go to.
    pub fn db(&self) -> &AlertingDb {
        &self.inner.db
    }

    /// The notifier receivers are served by.
    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// The interval of a group that gives none.
    pub fn default_interval(&self) -> Duration {
        self.inner.default_interval
    }

    /// Returns a receiver whose value changes whenever a rule is created, replaced, enabled,
    /// disabled or deleted.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Every group of every tenant: the files' in file order, then the API's by tenant and
    /// name (their rules by name).
    pub fn groups(&self) -> Vec<RuleGroup> {
        let mut groups = self.inner.file_groups.clone();
        let mut api: BTreeMap<(TenantId, String), RuleGroup> = BTreeMap::new();
        for ((tenant, _), valid) in read(&self.inner.api_rules).iter() {
            api.entry((tenant.clone(), valid.group.clone()))
                .or_insert_with(|| RuleGroup::api(tenant, valid))
                .rules
                .push(valid.rule.clone());
        }
        groups.extend(api.into_values());
        groups
    }

    /// The tenant's groups.
    pub fn tenant_groups(&self, tenant: &TenantId) -> Vec<RuleGroup> {
        self.groups()
            .into_iter()
            .filter(|group| &group.tenant == tenant)
            .collect()
    }

    /// Finds a rule by its API id: an API rule's name, or any rule's key.
    ///
    /// # Errors
    /// [`AlertsError::NotFound`].
    pub fn find(&self, tenant: &TenantId, id: &str) -> Result<(RuleGroup, Rule), AlertsError> {
        self.tenant_groups(tenant)
            .into_iter()
            .find_map(|group| {
                let rule = group.rules.iter().find(|rule| {
                    rule.key == id || (rule.source == RuleSource::Api && rule.name() == id)
                })?;
                Some((rule.clone(), group))
            })
            .map(|(rule, group)| (group, rule))
            .ok_or_else(|| AlertsError::NotFound {
                what: "rule",
                name: id.to_string(),
            })
    }

    /// Validates an API definition as a new rule would be (for test-evaluation).
    ///
    /// # Errors
    /// [`AlertsError::Invalid`].
    pub fn validate(&self, definition: &RuleDefinition) -> Result<ValidRule, AlertsError> {
        definition
            .validate(self.inner.default_interval)
            .map_err(|problems| AlertsError::invalid("rule", problems))
    }

    /// Creates an API rule.
    ///
    /// # Errors
    /// [`AlertsError::Invalid`] (also when its group has another interval),
    /// [`AlertsError::AlreadyExists`], database failures.
    pub async fn create_rule(
        &self,
        tenant: &TenantId,
        definition: &RuleDefinition,
    ) -> Result<ValidRule, AlertsError> {
        let valid = self.validate(definition)?;
        let _writes = self.inner.writes.lock().await;
        let key = (tenant.clone(), definition.name.clone());
        if read(&self.inner.api_rules).contains_key(&key) {
            return Err(AlertsError::AlreadyExists {
                what: "rule",
                name: definition.name.clone(),
            });
        }
        self.check_group_interval(tenant, &valid, None)?;
        let stored = serde_json::to_string(definition).unwrap_or_default();
        let table = DefinitionTable::AlertRules;
        if !self
            .inner
            .db
            .insert_definition(table, tenant, &definition.name, stored)
            .await?
        {
            return Err(AlertsError::AlreadyExists {
                what: "rule",
                name: definition.name.clone(),
            });
        }
        write(&self.inner.api_rules).insert(key, valid.clone());
        self.signal();
        Ok(valid)
    }

    /// Replaces an API rule; `definition.name` must be `name`.
    ///
    /// # Errors
    /// [`AlertsError::NotFound`], [`AlertsError::ReadOnly`], [`AlertsError::Invalid`],
    /// database failures.
    pub async fn replace_rule(
        &self,
        tenant: &TenantId,
        name: &str,
        definition: &RuleDefinition,
    ) -> Result<ValidRule, AlertsError> {
        let _writes = self.inner.writes.lock().await;
        let key = self.writable_rule(tenant, name)?;
        if definition.name != name {
            return Err(AlertsError::invalid(
                "rule",
                vec![format!(
                    "name: {:?} differs from {name:?} in the path; a rule cannot be renamed (delete it and create another)",
                    definition.name
                )],
            ));
        }
        let valid = self.validate(definition)?;
        self.check_group_interval(tenant, &valid, Some(name))?;
        let stored = serde_json::to_string(definition).unwrap_or_default();
        self.inner
            .db
            .update_definition(DefinitionTable::AlertRules, tenant, name, stored)
            .await?;
        write(&self.inner.api_rules).insert(key, valid.clone());
        self.signal();
        Ok(valid)
    }

    /// Enables or disables an API rule.
    ///
    /// # Errors
    /// As [`AlertRegistry::replace_rule`].
    pub async fn set_enabled(
        &self,
        tenant: &TenantId,
        name: &str,
        enabled: bool,
    ) -> Result<ValidRule, AlertsError> {
        let mut definition = {
            let key = self.writable_rule(tenant, name)?;
            let rules = read(&self.inner.api_rules);
            rules
                .get(&key)
                .and_then(|valid| valid.rule.definition.clone())
                .ok_or_else(|| AlertsError::NotFound {
                    what: "rule",
                    name: name.to_string(),
                })?
        };
        definition.enabled = enabled;
        self.replace_rule(tenant, name, &definition).await
    }

    /// Deletes an API rule (its alerts are resolved by the evaluator).
    ///
    /// # Errors
    /// [`AlertsError::NotFound`], [`AlertsError::ReadOnly`], database failures.
    pub async fn delete_rule(&self, tenant: &TenantId, name: &str) -> Result<(), AlertsError> {
        let _writes = self.inner.writes.lock().await;
        let key = self.writable_rule(tenant, name)?;
        self.inner
            .db
            .delete_definition(DefinitionTable::AlertRules, tenant, name)
            .await?;
        write(&self.inner.api_rules).remove(&key);
        self.signal();
        Ok(())
    }

    fn writable_rule(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<(TenantId, String), AlertsError> {
        let key = (tenant.clone(), name.to_string());
        if read(&self.inner.api_rules).contains_key(&key) {
            return Ok(key);
        }
        match self.find(tenant, name) {
            Ok(_) => Err(AlertsError::ReadOnly {
                what: "rule",
                name: name.to_string(),
            }),
            Err(error) => Err(error),
        }
    }

    /// API rules of one group share its interval.
    fn check_group_interval(
        &self,
        tenant: &TenantId,
        valid: &ValidRule,
        replacing: Option<&str>,
    ) -> Result<(), AlertsError> {
        let rules = read(&self.inner.api_rules);
        let other = rules.iter().find(|((owner, name), other)| {
            owner == tenant
                && Some(name.as_str()) != replacing
                && other.group == valid.group
                && other.interval != valid.interval
        });
        match other {
            None => Ok(()),
            Some(((_, name), other)) => Err(AlertsError::invalid(
                "rule",
                vec![format!(
                    "interval: group {:?} is evaluated every {} (rule {name:?}); give the same interval or another group",
                    valid.group,
                    super::duration::format_prometheus_duration(other.interval)
                )],
            )),
        }
    }

    /// Runs `f` on a rule's runtime (created empty if missing).
    pub fn with_runtime<T>(&self, key: &RuntimeKey, f: impl FnOnce(&mut RuleRuntime) -> T) -> T {
        let mut runtimes = lock(&self.inner.runtimes);
        f(runtimes.entry(key.clone()).or_default())
    }

    /// A copy of a rule's runtime, if it has one.
    pub fn runtime(&self, key: &RuntimeKey) -> Option<RuleRuntime> {
        lock(&self.inner.runtimes).get(key).cloned()
    }

    /// Removes and returns the runtimes whose rule is not in `keep`.
    pub fn take_runtimes_except(
        &self,
        keep: &std::collections::HashSet<RuntimeKey>,
    ) -> Vec<(RuntimeKey, RuleRuntime)> {
        let mut runtimes = lock(&self.inner.runtimes);
        let gone: Vec<RuntimeKey> = runtimes
            .keys()
            .filter(|key| !keep.contains(*key))
            .cloned()
            .collect();
        gone.into_iter()
            .filter_map(|key| runtimes.remove(&key).map(|runtime| (key, runtime)))
            .collect()
    }

    /// Records a group's evaluation.
    pub fn record_group(&self, group: &RuleGroup, runtime: GroupRuntime) {
        lock(&self.inner.group_runtimes).insert(group.key(), runtime);
    }

    /// A group's last evaluation.
    pub fn group_runtime(&self, group: &RuleGroup) -> GroupRuntime {
        lock(&self.inner.group_runtimes)
            .get(&group.key())
            .copied()
            .unwrap_or_default()
    }

    fn signal(&self) {
        self.inner.changes.send_modify(|version| *version += 1);
    }
}

fn parse_stored_rule(
    stored: &StoredDefinition,
    default_interval: Duration,
) -> Result<(TenantId, ValidRule), String> {
    let tenant = TenantId::new(&stored.tenant).map_err(|error| error.to_string())?;
    let definition: RuleDefinition =
        serde_json::from_str(&stored.definition).map_err(|error| error.to_string())?;
    let valid = definition
        .validate(default_interval)
        .map_err(|problems| problems.join("; "))?;
    Ok((tenant, valid))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
