//! Log records as OTLP defines them: [`LogBatch`] (records grouped by resource and scope, as
//! received and as the WAL persists them) and [`LogRow`] (one record with its resource and
//! scope, as the log index stores and queries return them).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attr::{AnyValue, KeyValue};
use crate::ids::{SpanId, TraceId};
use crate::span::{Resource, Scope};

/// One log record, OTLP's `LogRecord`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogRecord {
    /// When the event happened, unix nanoseconds; 0 when unknown.
    pub time_unix_nano: u64,
    /// When the collector or SDK saw it, unix nanoseconds; 0 when unknown.
    pub observed_time_unix_nano: u64,
    /// OTLP severity number (1–24; 0 unspecified).
    pub severity_number: i32,
    /// Severity as the source wrote it (`ERROR`, `warn`, …).
    pub severity_text: String,
    /// The body, typed (a string for most logs; a map or array for structured ones).
    pub body: Option<AnyValue>,
    /// Log attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// W3C trace flags.
    pub flags: u32,
    /// The trace the record was written in, if any.
    pub trace_id: Option<TraceId>,
    /// The span the record was written in, if any.
    pub span_id: Option<SpanId>,
    /// OTLP's `event_name`, empty when not an event.
    pub event_name: String,
}

impl LogRecord {
    /// The time to order and filter by: the event time, or the observed time when the event
    /// time is unknown (as the OTLP specification recommends).
    pub fn effective_time_unix_nano(&self) -> u64 {
        if self.time_unix_nano != 0 {
            self.time_unix_nano
        } else {
            self.observed_time_unix_nano
        }
    }
}

/// Records of one scope, as in OTLP's `ScopeLogs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScopeLogs {
    /// The scope that produced the records.
    pub scope: Scope,
    /// The records.
    pub logs: Vec<LogRecord>,
}

/// Records of one resource, as in OTLP's `ResourceLogs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ResourceLogs {
    /// The resource that produced the records.
    pub resource: Resource,
    /// Records grouped by scope.
    pub scopes: Vec<ScopeLogs>,
}

/// The accepted records of one export request, grouped as received: the unit the WAL
/// persists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogBatch {
    /// Records grouped by resource.
    pub resources: Vec<ResourceLogs>,
}

impl LogBatch {
    /// Counts the records in the batch.
    pub fn record_count(&self) -> usize {
        self.resources
            .iter()
            .flat_map(|resource| &resource.scopes)
            .map(|scope| scope.logs.len())
            .sum()
    }

    /// Flattens the batch into rows that share their resource and scope.
    pub fn into_rows(self) -> Vec<LogRow> {
        let mut rows = Vec::with_capacity(self.record_count());
        for resource_logs in self.resources {
            let resource = Arc::new(resource_logs.resource);
            for scope_logs in resource_logs.scopes {
                let scope = Arc::new(scope_logs.scope);
                rows.extend(scope_logs.logs.into_iter().map(|record| LogRow {
                    record,
                    resource: resource.clone(),
                    scope: scope.clone(),
                }));
            }
        }
        rows
    }
}

/// One record with the resource and scope it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    /// The record.
    pub record: LogRecord,
    /// Its resource (`service.name` and the other resource attributes).
    pub resource: Arc<Resource>,
    /// Its instrumentation scope.
    pub scope: Arc<Scope>,
}

impl LogRow {
    /// The `service.name` of the record's resource.
    pub fn service_name(&self) -> &str {
        self.resource.service_name()
    }
}
