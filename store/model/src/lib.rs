//! The data model every Sightline crate shares. No I/O, no async: decode tests compile fast.
//!
//! Modules, in data-path order:
//! - [`ids`]: [`TraceId`] and [`SpanId`], fixed-size byte ids with hex text forms.
//! - [`attr`]: [`AnyValue`] and [`KeyValue`], OTLP's typed attribute values, kept lossless.
//! - [`span`]: [`SpanBatch`] (spans grouped by resource and scope, as received) and
//!   [`SpanRow`] (one span with its resource and scope, as stored and queried).
//! - [`hot`]: the attribute keys promoted to dedicated columns.
//! - [`log`]: [`LogBatch`] and [`LogRow`], OTLP log records as received and as stored.
//! - [`labels`]: [`Labels`], a metric series' identity.
//! - [`metric`]: [`MetricBatch`], samples in Prometheus' data model, as every metric source
//!   is translated before the store sees it.
//! - [`counter`]: [`CounterFold`] and [`CounterRollup`], what a counter counted in a window.
//! - [`health_check`]: [`HealthCheckDefinition`] (a probe target as written in the config
//!   file or an API body) and [`HealthCheckSpec`] (validated), with the labels of its series.
//! - [`tenant`]: [`TenantId`], whose data is kept apart from every other tenant's.
//! - [`time`]: calendar arithmetic (civil dates of day counts and back).
//! - [`error`]: [`ErrorClass`], what kind of failure an error is, for the wire mappings.
//!
//! Persisted forms: [`SpanBatch`], [`MetricBatch`] and [`LogBatch`] are written to the WAL with postcard, so renaming or
//! reordering fields or enum variants in `attr`, `span` or `ids` changes the WAL format:
//! bump `sightline_store::wal::FORMAT_VERSION` and keep a decoder for the old one.
#![deny(missing_docs)]

pub mod attr;
pub mod auth;
pub mod counter;
pub mod error;
pub mod health_check;
pub mod hot;
pub mod ids;
pub mod labels;
pub mod log;
pub mod metric;
pub mod peer;
pub mod span;
pub mod tenant;
pub mod time;

pub use attr::{AnyValue, KeyValue};
pub use counter::{CounterFold, CounterRollup};
pub use error::ErrorClass;
pub use health_check::{HealthCheckDefinition, HealthCheckSpec, ProbeKind, ProbeTarget};
pub use ids::{IdParseError, SpanId, TraceId};
pub use labels::{Labels, METRIC_NAME_LABEL};
pub use log::{LogBatch, LogRecord, LogRow, ResourceLogs, ScopeLogs};
pub use metric::{Exemplar, MetricBatch, MetricMetadata, MetricSample, MetricType, SeriesSamples};
pub use peer::Peer;
pub use span::{
    Event, Link, Resource, ResourceSpans, Scope, ScopeSpans, Span, SpanBatch, SpanKind, SpanRow,
    StatusCode,
};
pub use tenant::{TenantId, TenantIdError};
