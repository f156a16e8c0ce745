//! OTLP log messages ⇄ model, both directions.
//!
//! [`logs_from_otlp`] validates and converts an `ExportLogsServiceRequest` into a [`LogBatch`];
//! the collector calls it after decoding protobuf or JSON. [`logs_to_otlp`] is its exact
//! inverse for valid records in canonical form, used to export stored records losslessly.
//!
//! Validation follows the OTLP logs data model
//! (<https://opentelemetry.io/docs/specs/otel/logs/data-model/>): `trace_id` and `span_id` are
//! optional, but when present they have their exact sizes (16 and 8 bytes). A record that
//! breaks a rule is dropped and counted; the rest of the request is kept (partial success).
//!
//! Canonical forms, so that round trips compare equal:
//! - An all-zero trace or span id is the invalid id of the data model ("no trace context") and
//!   is kept as absent; it is encoded back as empty bytes.
//! - `resource` and `scope` are always present in the output, as in [`super::spans_to_otlp`];
//!   a record without a body keeps `body: None`.
//! - What [`super`] documents as not kept (entity refs, string-table indexes) is not kept here
//!   either, and resource and scope groups without records are omitted.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::logs::v1 as proto_logs;
use opentelemetry_proto::tonic::resource::v1 as proto_resource;
use sightline_model::{
    IdParseError, LogBatch, LogRecord, ResourceLogs, Scope, ScopeLogs, SpanId, TraceId,
};

use super::{
    any_value_from_otlp, any_value_to_otlp, key_values_from_otlp, key_values_to_otlp,
    resource_from_otlp, scope_from_otlp,
};

/// The accepted records of an export request, with what was rejected and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecodedLogs {
    /// Valid records, grouped by resource and scope as received.
    pub batch: LogBatch,
    /// How many records were accepted (the records in `batch`).
    pub accepted_records: usize,
    /// How many records were rejected and dropped.
    pub rejected_records: usize,
    /// The first rejection reason, for OTLP's `partial_success.error_message`.
    pub first_rejection: Option<String>,
    /// Rejected records per bounded reason label (such as `invalid_trace_id`), for metrics.
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
}

/// Why a record was rejected: which of its ids is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum LogRejection {
    #[error("invalid trace id: {0}")]
    Trace(IdParseError),
    #[error("invalid span id: {0}")]
    Span(IdParseError),
}

impl LogRejection {
    /// A bounded label for metrics.
    fn reason_label(&self) -> &'static str {
        match self {
            LogRejection::Trace(_) => "invalid_trace_id",
            LogRejection::Span(_) => "invalid_span_id",
        }
    }
}

/// Validates and converts an OTLP logs export request into the model.
///
/// Invalid records are dropped and counted in [`DecodedLogs::rejected_records`], with the first
/// reason in [`DecodedLogs::first_rejection`] (e.g. `log record 2 of scope 'app': invalid trace
/// id: id must be 32 hex characters, got 6`).
pub fn logs_from_otlp(request: ExportLogsServiceRequest) -> DecodedLogs {
    let mut decoded = DecodedLogs::default();
    for resource_logs in request.resource_logs {
        let resource = resource_from_otlp(resource_logs.resource, resource_logs.schema_url);
        let mut scopes = Vec::with_capacity(resource_logs.scope_logs.len());
        for scope_logs in resource_logs.scope_logs {
            let scope = scope_from_otlp(scope_logs.scope, scope_logs.schema_url);
            let mut logs = Vec::with_capacity(scope_logs.log_records.len());
            for (index, record) in scope_logs.log_records.into_iter().enumerate() {
                match record_from_otlp(record) {
                    Ok(record) => logs.push(record),
                    Err(rejection) => {
                        decoded.rejected_records += 1;
                        *decoded
                            .rejected_by_reason
                            .entry(rejection.reason_label())
                            .or_default() += 1;
                        if decoded.first_rejection.is_none() {
                            decoded.first_rejection = Some(format!(
                                "log record {index} of scope '{}': {rejection}",
                                scope.name
                            ));
                        }
                    }
                }
            }
            if !logs.is_empty() {
                decoded.accepted_records += logs.len();
                scopes.push(ScopeLogs { scope, logs });
            }
        }
        if !scopes.is_empty() {
            decoded
                .batch
                .resources
                .push(ResourceLogs { resource, scopes });
        }
    }
    decoded
}

/// Converts a batch back into OTLP, the exact inverse of [`logs_from_otlp`] for valid records
/// in canonical form (see the module docs).
pub fn logs_to_otlp(batch: &LogBatch) -> proto_logs::LogsData {
    let resource_logs = batch
        .resources
        .iter()
        .map(|resource_logs| proto_logs::ResourceLogs {
            resource: Some(proto_resource::Resource {
                attributes: key_values_to_otlp(&resource_logs.resource.attributes),
                dropped_attributes_count: resource_logs.resource.dropped_attributes_count,
                entity_refs: Vec::new(),
            }),
            scope_logs: resource_logs
                .scopes
                .iter()
                .map(|scope_logs| proto_logs::ScopeLogs {
                    scope: Some(scope_to_otlp(&scope_logs.scope)),
                    log_records: scope_logs.logs.iter().map(record_to_otlp).collect(),
                    schema_url: scope_logs.scope.schema_url.clone(),
                })
                .collect(),
            schema_url: resource_logs.resource.schema_url.clone(),
        })
        .collect();
    proto_logs::LogsData { resource_logs }
}

/// Reads an optional id: empty or all zeros (the invalid id) is absent; otherwise the exact
/// size is required.
fn optional_id<T>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<T, IdParseError>,
) -> Result<Option<T>, IdParseError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    match parse(bytes) {
        Ok(id) => Ok(Some(id)),
        Err(IdParseError::Zero) => Ok(None),
        Err(error) => Err(error),
    }
}

fn record_from_otlp(record: proto_logs::LogRecord) -> Result<LogRecord, LogRejection> {
    let trace_id =
        optional_id(&record.trace_id, TraceId::from_slice).map_err(LogRejection::Trace)?;
    let span_id = optional_id(&record.span_id, SpanId::from_slice).map_err(LogRejection::Span)?;
    Ok(LogRecord {
        time_unix_nano: record.time_unix_nano,
        observed_time_unix_nano: record.observed_time_unix_nano,
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body: record.body.map(|body| any_value_from_otlp(Some(body))),
        attributes: key_values_from_otlp(record.attributes),
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id,
        span_id,
        event_name: record.event_name,
    })
}

fn record_to_otlp(record: &LogRecord) -> proto_logs::LogRecord {
    proto_logs::LogRecord {
        time_unix_nano: record.time_unix_nano,
        observed_time_unix_nano: record.observed_time_unix_nano,
        severity_number: record.severity_number,
        severity_text: record.severity_text.clone(),
        body: record.body.as_ref().map(any_value_to_otlp),
        attributes: key_values_to_otlp(&record.attributes),
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id: record
            .trace_id
            .map(|id| id.as_bytes().to_vec())
            .unwrap_or_default(),
        span_id: record
            .span_id
            .map(|id| id.as_bytes().to_vec())
            .unwrap_or_default(),
        event_name: record.event_name.clone(),
    }
}

fn scope_to_otlp(scope: &Scope) -> proto_common::InstrumentationScope {
    proto_common::InstrumentationScope {
        name: scope.name.clone(),
        version: scope.version.clone(),
        attributes: key_values_to_otlp(&scope.attributes),
        dropped_attributes_count: scope.dropped_attributes_count,
    }
}

#[cfg(test)]
mod tests;
