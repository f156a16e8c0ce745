//! Sightline's storage engine for spans.
//!
//! Modules, in data-path order:
//! - [`otlp`]: OTLP protobuf messages ⇄ model ([`sightline_model::SpanBatch`]), both directions,
//!   shared by the collector (decode) and the query side (lossless export); [`otlp::metrics`]
//!   translates OTLP metrics into Prometheus' data model ([`sightline_model::MetricBatch`]).
//! - [`wal`]: the write-ahead log: framed, checksummed records, group commit with one fsync per
//!   batch of appends, replay on start-up, truncation once flushed.
//! - [`head`]: recent spans in memory, queryable at once, indexed by trace id.
//! - [`part`]: Parquet parts (Arrow schema, writer, reader with bloom-filter lookups, catalog).
//! - [`compact`]: merges small parts of a partition into one.
//! - [`retention`]: deletes partitions older than the retention period.
//! - [`objects`]: the `object_store` every part goes through.
//! - [`spans`]: [`SpanStore`], the facade the collector appends to and the query side reads.
//! - [`metrics`]: [`MetricStore`], the same for metric samples, with its own head and parts.
//! - [`logs`]: [`LogStore`], OTLP log records: their own WAL, an in-memory head searchable at
//!   once, and a tantivy index per tenant and day committed about every second;
//!   [`otlp::logs`] converts OTLP logs ⇄ [`sightline_model::LogBatch`].
//! - [`state_db`]: [`StateDb`], the embedded SQLite file `{data_dir}/sightline.db` for
//!   user-managed state (not telemetry), with versioned migrations.
//! - [`alerting`]: [`AlertingDb`], alert rules and receivers created through the API, each
//!   rule's active alerts and the history of state changes, in the state database.
//! - [`tokens`]: [`TokenRegistry`], the bearer tokens of the config file and the API (stored
//!   as their SHA-256), which turn authentication on.
//! - [`health_checks`]: [`HealthCheckRegistry`], health-check targets from the config file and
//!   the API (persisted in the state database), their last results, and a change signal.
//!
//! Write path: collector → [`SpanStore::append`] → `wal` (fsync, ticket resolves) → `head`
//! → (size or age) → `part::writer` → `objects` → `wal` truncation.
//! Read path: query → [`SpanStore::find_trace`] / [`SpanStore::search_trace_ids`] → `head` +
//! `part::catalog` (prune by time, trace-id stats and bloom filters) → `part::reader`.
//!
//! When you change a persisted format, also change:
//! - WAL records (`wal::FORMAT_VERSION`, model types under postcard): keep a reader for the old
//!   version and a fixture test.
//! - Part schema (`part::schema::FORMAT_VERSION`): the catalog accepts every version still
//!   read; readers go by the columns a part has (no layout: every attribute encoded; no
//!   `parent_offset`: every parent an id; row groups pruned by their own statistics), and
//!   compaction rewrites older parts in the current version. Keep a test that reads the old
//!   layout (see `parts_sorted_by_trace_id_merge_into_time_slices`).
//! - State database tables: append a migration to `state_db::MIGRATIONS` (never edit a shipped
//!   one); the stored health-check definition is the JSON of
//!   [`sightline_model::HealthCheckDefinition`], so its field names are a stored format.

pub mod alerting;
pub mod compact;
pub mod config;
pub mod error;
pub mod head;
pub mod health_checks;
pub mod logs;
pub mod metrics;
pub mod objects;
pub mod otlp;
pub mod part;
pub mod retention;
pub mod scan;
pub mod spans;
pub mod state_db;
pub mod tokens;
pub mod wal;

pub use alerting::AlertingDb;
pub use config::StoreConfig;
pub use error::Error;
pub use health_checks::{HealthCheckRegistry, RegistryError};
pub use logs::LogStore;
pub use metrics::{AppendOutcome, MetricStore, SeriesBatches, SeriesMap};
pub use spans::{SpanQuery, SpanStore};
pub use state_db::StateDb;
pub use tokens::TokenRegistry;
