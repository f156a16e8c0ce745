//! What alerting keeps in the [`StateDb`]: rule and receiver definitions created through the
//! API, each rule's active alerts (so a restart neither re-fires nor forgets them), and the
//! history of state changes.
//!
//! Definitions and states are stored as JSON text the query crate owns (it validates them on
//! load; a row that no longer validates is the caller's to log and skip). This module only
//! moves rows: SQL stays in the store crate.
//!
//! Stored formats: `alert_rules.definition` is the JSON of the query crate's
//! `RuleDefinition`, `alert_receivers.definition` of its `ReceiverDefinition`,
//! `alert_states.state` of its persisted rule state; their field names are stored formats.

#[cfg(test)]
mod tests;

use rusqlite::OptionalExtension;
use sightline_model::TenantId;

use crate::state_db::{unix_millis_now, StateDb, StateDbError};

/// A table of named JSON definitions, one namespace per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionTable {
    /// `alert_rules`: rules created through the API.
    AlertRules,
    /// `alert_receivers`: notification receivers created through the API.
    AlertReceivers,
}

impl DefinitionTable {
    fn sql_name(self) -> &'static str {
        match self {
            DefinitionTable::AlertRules => "alert_rules",
            DefinitionTable::AlertReceivers => "alert_receivers",
        }
    }
}

/// A stored definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    /// Its tenant, as stored (validate before use).
    pub tenant: String,
    /// Its name, unique in the tenant.
    pub name: String,
    /// Its JSON text.
    pub definition: String,
    /// When it was created, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// When it last changed, ms since the Unix epoch.
    pub updated_at_ms: i64,
}

/// One state change of one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The tenant.
    pub tenant: TenantId,
    /// The rule's stable key (see the query crate's rule keys).
    pub rule_key: String,
    /// The alert's name.
    pub alertname: String,
    /// The alert's labels as a JSON object.
    pub labels_json: String,
    /// The state entered: `pending`, `firing` or `inactive` (resolved).
    pub state: String,
    /// The value of the expression's sample when it happened (`None` on resolution).
    pub value: Option<f64>,
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
}

/// Which history entries to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryFilter {
    /// Only this rule.
    pub rule_key: Option<String>,
    /// Only this alert name.
    pub alertname: Option<String>,
    /// Only entries into this state.
    pub state: Option<String>,
    /// At or after, ms.
    pub start_ms: i64,
    /// At or before, ms.
    pub end_ms: i64,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Alerting's rows in the state database; clones share the database.
#[derive(Debug, Clone)]
pub struct AlertingDb {
    db: StateDb,
}

impl AlertingDb {
    /// Wraps the state database.
    pub fn new(db: StateDb) -> Self {
        Self { db }
    }

    /// Returns every definition of `table`, by tenant and name.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn list_definitions(
        &self,
        table: DefinitionTable,
    ) -> Result<Vec<StoredDefinition>, StateDbError> {
        let sql = format!(
            "SELECT tenant, name, definition, created_at_ms, updated_at_ms FROM {} ORDER BY tenant, name",
            table.sql_name()
        );
        self.db
            .call("load definitions", move |connection| {
                let mut statement = connection.prepare(&sql)?;
                let rows = statement.query_map([], |row| {
                    Ok(StoredDefinition {
                        tenant: row.get(0)?,
                        name: row.get(1)?,
                        definition: row.get(2)?,
                        created_at_ms: row.get(3)?,
                        updated_at_ms: row.get(4)?,
                    })
                })?;
                rows.collect()
            })
            .await
    }

    /// Inserts a definition; returns `false` (and changes nothing) when the name is taken.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn insert_definition(
        &self,
        table: DefinitionTable,
        tenant: &TenantId,
        name: &str,
        definition: String,
    ) -> Result<bool, StateDbError> {
        let sql = format!(
            "INSERT OR IGNORE INTO {} (tenant, name, definition, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
            table.sql_name()
        );
        self.write_definition("insert definition", sql, tenant, name, Some(definition))
            .await
    }

    /// Replaces a definition; returns `false` when there is none of that name.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn update_definition(
        &self,
        table: DefinitionTable,
        tenant: &TenantId,
        name: &str,
        definition: String,
    ) -> Result<bool, StateDbError> {
        let sql = format!(
            "UPDATE {} SET definition = ?3, updated_at_ms = ?4 WHERE tenant = ?1 AND name = ?2",
            table.sql_name()
        );
        self.write_definition("update definition", sql, tenant, name, Some(definition))
            .await
    }

    /// Deletes a definition; returns `false` when there was none of that name.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn delete_definition(
        &self,
        table: DefinitionTable,
        tenant: &TenantId,
        name: &str,
    ) -> Result<bool, StateDbError> {
        let sql = format!(
            "DELETE FROM {} WHERE tenant = ?1 AND name = ?2",
            table.sql_name()
        );
        self.write_definition("delete definition", sql, tenant, name, None)
            .await
    }

    /// Runs one statement on a definition row: parameters `?1` tenant, `?2` name, and with a
    /// `definition`, `?3` it and `?4` the time now. Says whether a row changed.
    async fn write_definition(
        &self,
        what: &str,
        sql: String,
        tenant: &TenantId,
        name: &str,
        definition: Option<String>,
    ) -> Result<bool, StateDbError> {
        let (tenant, name) = (tenant.as_str().to_string(), name.to_string());
        let changed = self
            .db
            .call(what, move |connection| match definition {
                Some(definition) => connection.execute(
                    &sql,
                    rusqlite::params![tenant, name, definition, unix_millis_now()],
                ),
                None => connection.execute(&sql, rusqlite::params![tenant, name]),
            })
            .await?;
        Ok(changed > 0)
    }

    /// Returns every rule's persisted state: `(tenant, rule key, state JSON)`.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn load_states(&self) -> Result<Vec<(String, String, String)>, StateDbError> {
        self.db
            .call("load alert states", |connection| {
                let mut statement = connection.prepare(
                    "SELECT tenant, rule_key, state FROM alert_states ORDER BY tenant, rule_key",
                )?;
                let rows =
                    statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
                rows.collect()
            })
            .await
    }

    /// Reads one rule's persisted state.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn load_state(
        &self,
        tenant: &TenantId,
        rule_key: &str,
    ) -> Result<Option<String>, StateDbError> {
        let (tenant, rule_key) = (tenant.as_str().to_string(), rule_key.to_string());
        self.db
            .call("load alert state", move |connection| {
                connection
                    .query_row(
                        "SELECT state FROM alert_states WHERE tenant = ?1 AND rule_key = ?2",
                        rusqlite::params![tenant, rule_key],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .await
    }

    /// Saves a rule's state (or deletes it when `state` is `None`) and appends `history`, in
    /// one transaction: a crash keeps both or neither.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn save_state(
        &self,
        tenant: &TenantId,
        rule_key: &str,
        state: Option<String>,
        history: Vec<HistoryEntry>,
    ) -> Result<(), StateDbError> {
        let (tenant, rule_key) = (tenant.as_str().to_string(), rule_key.to_string());
        self.db
            .call("save alert state", move |connection| {
                let transaction = connection.transaction()?;
                match state {
                    Some(state) => transaction.execute(
                        "INSERT INTO alert_states (tenant, rule_key, state, updated_at_ms) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (tenant, rule_key) DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms",
                        rusqlite::params![tenant, rule_key, state, unix_millis_now()],
                    )?,
                    None => transaction.execute(
                        "DELETE FROM alert_states WHERE tenant = ?1 AND rule_key = ?2",
                        rusqlite::params![tenant, rule_key],
                    )?,
                };
                {
                    let mut insert = transaction.prepare_cached(
                        "INSERT INTO alert_history (tenant, rule_key, alertname, labels, state, value, at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?;
                    for entry in &history {
                        insert.execute(rusqlite::params![
                            entry.tenant.as_str(),
                            entry.rule_key,
                            entry.alertname,
                            entry.labels_json,
                            entry.state,
                            entry.value.filter(|value| value.is_finite()),
                            entry.at_ms
                        ])?;
                    }
                }
                transaction.commit()
            })
            .await
    }

    /// Reads `tenant`'s history entries matching `filter`, newest first.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn history(
        &self,
        tenant: &TenantId,
        filter: HistoryFilter,
    ) -> Result<Vec<HistoryEntry>, StateDbError> {
        let tenant = tenant.clone();
        self.db
            .call("read alert history", move |connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT rule_key, alertname, labels, state, value, at_ms FROM alert_history
                     WHERE tenant = ?1 AND at_ms >= ?2 AND at_ms <= ?3
                       AND (?4 IS NULL OR rule_key = ?4)
                       AND (?5 IS NULL OR alertname = ?5)
                       AND (?6 IS NULL OR state = ?6)
                     ORDER BY at_ms DESC, id DESC LIMIT ?7",
                )?;
                let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
                let rows = statement.query_map(
                    rusqlite::params![
                        tenant.as_str(),
                        filter.start_ms,
                        filter.end_ms,
                        filter.rule_key,
                        filter.alertname,
                        filter.state,
                        limit
                    ],
                    |row| {
                        Ok(HistoryEntry {
                            tenant: tenant.clone(),
                            rule_key: row.get(0)?,
                            alertname: row.get(1)?,
                            labels_json: row.get(2)?,
                            state: row.get(3)?,
                            value: row.get(4)?,
                            at_ms: row.get(5)?,
                        })
                    },
                )?;
                rows.collect()
            })
            .await
    }

    /// Deletes history entries older than `before_ms`; returns how many.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn prune_history(&self, before_ms: i64) -> Result<usize, StateDbError> {
        self.db
            .call("prune alert history", move |connection| {
                connection.execute(
                    "DELETE FROM alert_history WHERE at_ms < ?1",
                    rusqlite::params![before_ms],
                )
            })
            .await
    }
}
