//! The state database: small, durable, user-managed state that is not telemetry (health-check
//! targets and alert rules and receivers created through the API, alert states and history;
//! API tokens later), in one embedded SQLite
//! file next to the data, `{data_dir}/sightline.db`.
//!
//! Schema changes are versioned migrations ([`MIGRATIONS`]), applied in order at open, each in
//! its own transaction that also records it in `schema_migrations` and sets SQLite's
//! `user_version`; a crash mid-migration leaves the previous version intact. A file whose
//! version is newer than this binary knows is refused (a downgrade would otherwise write rows
//! the newer schema does not expect).
//!
//! Adding a table: append a [`Migration`] with the next version to [`MIGRATIONS`]. Never edit
//! or reorder a migration that has shipped; change a table with a new migration instead.
//!
//! SQLite calls block, so [`StateDb::call`] runs them on the blocking pool, one at a time
//! (the connection sits behind a `std::sync::Mutex`, held only on that blocking thread).

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use sightline_model::ErrorClass;

/// The database's file name inside the data directory.
pub const STATE_DB_FILE_NAME: &str = "sightline.db";

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version: 1 for the first, then one more for each.
    pub version: u32,
    /// A short name, recorded in `schema_migrations`.
    pub name: &'static str,
    /// The statements (run with `execute_batch`, inside the migration's transaction).
    pub sql: &'static str,
}

/// Every migration of the state database, in order. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "health_checks",
        sql: "CREATE TABLE health_checks (
              tenant TEXT NOT NULL,
              name TEXT NOT NULL,
              definition TEXT NOT NULL,
              created_at_ms INTEGER NOT NULL,
              updated_at_ms INTEGER NOT NULL,
              PRIMARY KEY (tenant, name)
          ) STRICT;",
    },
    Migration {
        version: 2,
        name: "alerting",
        sql: "CREATE TABLE alert_rules (
              tenant TEXT NOT NULL,
              name TEXT NOT NULL,
              definition TEXT NOT NULL,
              created_at_ms INTEGER NOT NULL,
              updated_at_ms INTEGER NOT NULL,
              PRIMARY KEY (tenant, name)
          ) STRICT;
          CREATE TABLE alert_receivers (
              tenant TEXT NOT NULL,
              name TEXT NOT NULL,
              definition TEXT NOT NULL,
              created_at_ms INTEGER NOT NULL,
              updated_at_ms INTEGER NOT NULL,
              PRIMARY KEY (tenant, name)
          ) STRICT;
          CREATE TABLE alert_states (
              tenant TEXT NOT NULL,
              rule_key TEXT NOT NULL,
              state TEXT NOT NULL,
              updated_at_ms INTEGER NOT NULL,
              PRIMARY KEY (tenant, rule_key)
          ) STRICT;
          CREATE TABLE alert_history (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              tenant TEXT NOT NULL,
              rule_key TEXT NOT NULL,
              alertname TEXT NOT NULL,
              labels TEXT NOT NULL,
              state TEXT NOT NULL,
              value REAL,
              at_ms INTEGER NOT NULL
          ) STRICT;
          CREATE INDEX alert_history_by_time ON alert_history (tenant, at_ms);",
    },
    Migration {
        version: 3,
        name: "api_tokens",
        sql: "CREATE TABLE api_tokens (
              name TEXT PRIMARY KEY,
              tenant TEXT NOT NULL,
              scopes TEXT NOT NULL,
              secret_sha256 TEXT NOT NULL UNIQUE,
              created_at_ms INTEGER NOT NULL
          ) STRICT;",
    },
];

/// What went wrong with the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateDbError {
    /// SQLite refused an operation.
    #[error("state database {path}: {operation}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done, e.g. "apply migration 2 (alert_rules)".
        operation: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer Sightline.
    #[error("state database {path} has schema version {found}, newer than the {known} this binary knows; upgrade Sightline or restore an older backup")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The file's version.
        found: u32,
        /// The newest version this binary knows.
        known: u32,
    },
    /// The migration list itself is wrong: a bug.
    #[error("state database migrations are not numbered 1, 2, 3, …: {0}")]
    BadMigrationList(String),
    /// The blocking task running a call failed or panicked: a bug.
    #[error("state database task failed: {0}")]
    Task(String),
}

impl StateDbError {
    /// Returns the class of this error, for the wire mappings.
    pub fn class(&self) -> ErrorClass {
        match self {
            StateDbError::Sqlite { source, .. } if is_busy(source) => ErrorClass::Unavailable,
            _ => ErrorClass::Internal,
        }
    }

    /// Says whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DiskFull)
    )
}

/// A handle on the state database; clones share one connection.
#[derive(Clone)]
pub struct StateDb {
    path: Arc<PathBuf>,
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("path", &self.path).finish()
    }
}

impl StateDb {
    /// Opens (creating if needed) `{data_dir}/sightline.db` and applies [`MIGRATIONS`], on the
    /// blocking pool.
    ///
    /// # Errors
    /// The directory or file cannot be opened, a migration fails, or the file is newer than
    /// this binary.
    pub async fn open(data_dir: &Path) -> Result<Self, StateDbError> {
        let path = data_dir.join(STATE_DB_FILE_NAME);
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, MIGRATIONS))
            .await
            .map_err(|error| StateDbError::Task(error.to_string()))?
    }

    /// Opens `path` and applies `migrations`, blocking. For tests and tools; the server uses
    /// [`StateDb::open`].
    ///
    /// # Errors
    /// As [`StateDb::open`].
    pub fn open_blocking(path: &Path, migrations: &[Migration]) -> Result<Self, StateDbError> {
        let sqlite = |operation: &str| {
            let path = path.to_path_buf();
            let operation = operation.to_string();
            move |source| StateDbError::Sqlite {
                path,
                operation,
                source,
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| StateDbError::Sqlite {
                path: path.to_path_buf(),
                operation: "create its directory".to_string(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(error)),
            })?;
        }
        let mut connection = Connection::open(path).map_err(sqlite("open"))?;
        // WAL journaling: readers do not wait for the writer; FULL: a committed change
        // survives power loss, as the API promises once it answers.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(sqlite("set pragmas"))?;
        migrate(&mut connection, path, migrations)?;
        Ok(Self {
            path: Arc::new(path.to_path_buf()),
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `operation` on the connection on the blocking pool. Calls run one at a time.
    ///
    /// # Errors
    /// [`StateDbError::Sqlite`] naming `what` when `operation` fails.
    pub async fn call<T, F>(&self, what: &str, operation: F) -> Result<T, StateDbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let connection = self.connection.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            operation(&mut connection)
        })
        .await
        .map_err(|error| StateDbError::Task(error.to_string()))?;
        result.map_err(|source| StateDbError::Sqlite {
            path: self.path.to_path_buf(),
            operation: what.to_string(),
            source,
        })
    }

    /// Returns the schema version the file is at.
    ///
    /// # Errors
    /// SQLite failures.
    pub async fn schema_version(&self) -> Result<u32, StateDbError> {
        self.call("read user_version", |connection| user_version(connection))
            .await
    }
}

fn user_version(connection: &Connection) -> rusqlite::Result<u32> {
    connection.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies the migrations the file has not seen, each in its own transaction.
fn migrate(
    connection: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<(), StateDbError> {
    for (index, migration) in migrations.iter().enumerate() {
        if migration.version as usize != index + 1 {
            return Err(StateDbError::BadMigrationList(format!(
                "migration {:?} at position {} has version {}",
                migration.name,
                index + 1,
                migration.version
            )));
        }
    }
    let sqlite = |operation: String| {
        let path = path.to_path_buf();
        move |source| StateDbError::Sqlite {
            path,
            operation,
            source,
        }
    };
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at_ms INTEGER NOT NULL
             );",
        )
        .map_err(sqlite("create schema_migrations".to_string()))?;
    let found = user_version(connection).map_err(sqlite("read user_version".to_string()))?;
    let known = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    if found > known {
        return Err(StateDbError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for migration in migrations.iter().skip(found as usize) {
        let operation = format!("apply migration {} ({})", migration.version, migration.name);
        let apply = |connection: &mut Connection| -> rusqlite::Result<()> {
            let transaction = connection.transaction()?;
            transaction.execute_batch(migration.sql)?;
            transaction.execute(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)",
                rusqlite::params![migration.version, migration.name, unix_millis_now()],
            )?;
            // PRAGMA takes no parameters; the version is a number we own.
            transaction.execute_batch(&format!("PRAGMA user_version = {}", migration.version))?;
            transaction.commit()
        };
        apply(connection).map_err(sqlite(operation))?;
        tracing::info!(
            path = %path.display(),
            version = migration.version,
            name = migration.name,
            "state database migrated"
        );
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, now (zero before 1970).
pub(crate) fn unix_millis_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
