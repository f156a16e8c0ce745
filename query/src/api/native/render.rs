//! The native JSON shapes. Field names are camelCase like OTLP/JSON.
//!
//! - Timestamps are unix nanoseconds as decimal *strings* (`"startTimeUnixNano"`), since they
//!   exceed JavaScript's exact integer range; durations are numbers of nanoseconds.
//! - Attributes keep their OTLP type: `{"key": "k", "type": "string"|"bool"|"int"|"double"|
//!   "bytes"|"array"|"map"|"empty", "value": ...}`. Ints are JSON numbers, bytes are base64,
//!   arrays hold typed values (`{"type", "value"}`), maps hold typed key/values, non-finite
//!   doubles are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.

use base64::Engine as _;
use serde::Serialize;
use sightline_model::{AnyValue, Event, KeyValue, Link};

use crate::trace::{AssembledSpan, AssembledTrace, ServiceSpanCount};

/// One trace, for `GET /api/v1/traces/{trace_id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TraceJson<'a> {
    trace_id: String,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    duration_nanos: u64,
    root_service_name: Option<&'a str>,
    root_span_name: Option<&'a str>,
    span_count: usize,
    error_count: usize,
    orphan_count: usize,
    duplicate_span_count: usize,
    services: Vec<ServiceJson>,
    warnings: Vec<String>,
    spans: Vec<SpanJson<'a>>,
}

impl<'a> TraceJson<'a> {
    /// Renders an assembled trace; spans keep the assembly's depth-first order.
    pub(crate) fn from_trace(trace: &'a AssembledTrace) -> Self {
        let root = trace.root();
        Self {
            trace_id: trace.trace_id.to_hex(),
            start_time_unix_nano: trace.start_unix_nano.to_string(),
            end_time_unix_nano: trace.end_unix_nano.to_string(),
            duration_nanos: trace.duration_nanos(),
            root_service_name: root.map(|span| &*span.row.service_name),
            root_span_name: root.map(|span| span.row.span.name.as_str()),
            span_count: trace.spans.len(),
            error_count: trace.error_span_count,
            orphan_count: trace.orphans.len(),
            duplicate_span_count: trace.duplicate_span_count,
            services: trace.services.iter().map(ServiceJson::from).collect(),
            warnings: trace.warnings(),
            spans: trace
                .spans
                .iter()
                .map(|span| SpanJson::from_span(trace, span))
                .collect(),
        }
    }
}

/// A service's share of a trace.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceJson {
    name: String,
    span_count: usize,
    error_count: usize,
}

impl From<&ServiceSpanCount> for ServiceJson {
    fn from(service: &ServiceSpanCount) -> Self {
        Self {
            name: service.service_name.clone(),
            span_count: service.span_count,
            error_count: service.error_count,
        }
    }
}

/// One span with its tree links and derived facts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SpanJson<'a> {
    span_id: String,
    parent_span_id: Option<String>,
    depth: usize,
    child_span_ids: Vec<String>,
    service_name: &'a str,
    name: &'a str,
    kind: &'static str,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    duration_nanos: u64,
    status: StatusJson<'a>,
    trace_state: &'a str,
    flags: u32,
    attributes: Vec<TypedKeyValue<'a>>,
    dropped_attributes_count: u32,
    resource: ResourceJson<'a>,
    scope: ScopeJson<'a>,
    events: Vec<EventJson<'a>>,
    dropped_events_count: u32,
    links: Vec<LinkJson<'a>>,
    dropped_links_count: u32,
    orphan: bool,
    clock_skew: Option<ClockSkewJson>,
    critical_path: Vec<SegmentJson>,
}

impl<'a> SpanJson<'a> {
    fn from_span(trace: &'a AssembledTrace, assembled: &'a AssembledSpan) -> Self {
        let row = &assembled.row;
        let span = &row.span;
        Self {
            span_id: span.span_id.to_hex(),
            parent_span_id: span.parent_span_id.map(|id| id.to_hex()),
            depth: assembled.depth,
            child_span_ids: assembled
                .children
                .iter()
                .map(|&child| trace.spans[child].row.span.span_id.to_hex())
                .collect(),
            service_name: &row.service_name,
            name: &span.name,
            kind: span.kind.as_str(),
            start_time_unix_nano: span.start_time_unix_nano.to_string(),
            end_time_unix_nano: span.end_time_unix_nano.to_string(),
            duration_nanos: span.duration_nanos(),
            status: StatusJson {
                code: span.status_code.as_str(),
                message: &span.status_message,
            },
            trace_state: &span.trace_state,
            flags: span.flags,
            attributes: typed_key_values(&span.attributes),
            dropped_attributes_count: span.dropped_attributes_count,
            resource: ResourceJson {
                attributes: typed_key_values(&row.resource.attributes),
                dropped_attributes_count: row.resource.dropped_attributes_count,
                schema_url: &row.resource.schema_url,
            },
            scope: ScopeJson {
                name: &row.scope.name,
                version: &row.scope.version,
                attributes: typed_key_values(&row.scope.attributes),
            },
            events: span.events.iter().map(EventJson::from).collect(),
            dropped_events_count: span.dropped_events_count,
            links: span.links.iter().map(LinkJson::from).collect(),
            dropped_links_count: span.dropped_links_count,
            orphan: assembled.orphan,
            clock_skew: assembled.clock_skew.map(|skew| ClockSkewJson {
                starts_before_parent_nanos: skew.starts_before_parent_nanos,
                ends_after_parent_nanos: skew.ends_after_parent_nanos,
                adjustment_nanos: skew.adjustment_nanos,
                warning: skew.to_string(),
            }),
            critical_path: assembled
                .critical_path
                .iter()
                .map(|segment| SegmentJson {
                    start_time_unix_nano: segment.start_unix_nano.to_string(),
                    end_time_unix_nano: segment.end_unix_nano.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    code: &'static str,
    message: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceJson<'a> {
    attributes: Vec<TypedKeyValue<'a>>,
    dropped_attributes_count: u32,
    schema_url: &'a str,
}

#[derive(Debug, Serialize)]
struct ScopeJson<'a> {
    name: &'a str,
    version: &'a str,
    attributes: Vec<TypedKeyValue<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    time_unix_nano: String,
    name: &'a str,
    attributes: Vec<TypedKeyValue<'a>>,
    dropped_attributes_count: u32,
}

impl<'a> From<&'a Event> for EventJson<'a> {
    fn from(event: &'a Event) -> Self {
        Self {
            time_unix_nano: event.time_unix_nano.to_string(),
            name: &event.name,
            attributes: typed_key_values(&event.attributes),
            dropped_attributes_count: event.dropped_attributes_count,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkJson<'a> {
    trace_id: String,
    span_id: String,
    trace_state: &'a str,
    flags: u32,
    attributes: Vec<TypedKeyValue<'a>>,
    dropped_attributes_count: u32,
}

impl<'a> From<&'a Link> for LinkJson<'a> {
    fn from(link: &'a Link) -> Self {
        Self {
            trace_id: link.trace_id.to_hex(),
            span_id: link.span_id.to_hex(),
            trace_state: &link.trace_state,
            flags: link.flags,
            attributes: typed_key_values(&link.attributes),
            dropped_attributes_count: link.dropped_attributes_count,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClockSkewJson {
    starts_before_parent_nanos: u64,
    ends_after_parent_nanos: u64,
    adjustment_nanos: i64,
    warning: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SegmentJson {
    start_time_unix_nano: String,
    end_time_unix_nano: String,
}

/// An attribute with its type kept.
#[derive(Debug, Serialize)]
pub(crate) struct TypedKeyValue<'a> {
    key: &'a str,
    #[serde(flatten)]
    value: TypedValue<'a>,
}

/// A value tagged with its OTLP type.
#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub(crate) enum TypedValue<'a> {
    Empty,
    String(&'a str),
    Bool(bool),
    Int(i64),
    Double(serde_json::Value),
    Bytes(String),
    Array(Vec<TypedValue<'a>>),
    Map(Vec<TypedKeyValue<'a>>),
}

impl<'a> From<&'a AnyValue> for TypedValue<'a> {
    fn from(value: &'a AnyValue) -> Self {
        match value {
            AnyValue::Empty => Self::Empty,
            AnyValue::String(text) => Self::String(text),
            AnyValue::Bool(flag) => Self::Bool(*flag),
            AnyValue::Int(number) => Self::Int(*number),
            AnyValue::Double(number) => Self::Double(double_json(*number)),
            AnyValue::Bytes(bytes) => {
                Self::Bytes(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            AnyValue::Array(items) => Self::Array(items.iter().map(TypedValue::from).collect()),
            AnyValue::KvList(pairs) => Self::Map(typed_key_values(pairs)),
        }
    }
}

/// A double as a JSON number, or as OTLP/JSON's strings for values JSON cannot hold.
fn double_json(number: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(number) {
        Some(number) => serde_json::Value::Number(number),
        None if number.is_nan() => serde_json::Value::from("NaN"),
        None if number > 0.0 => serde_json::Value::from("Infinity"),
        None => serde_json::Value::from("-Infinity"),
    }
}

fn typed_key_values(attributes: &[KeyValue]) -> Vec<TypedKeyValue<'_>> {
    attributes
        .iter()
        .map(|kv| TypedKeyValue {
            key: &kv.key,
            value: TypedValue::from(&kv.value),
        })
        .collect()
}

/// One trace of a search result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TraceSummaryJson {
    trace_id: String,
    root_service_name: Option<String>,
    root_span_name: Option<String>,
    start_time_unix_nano: String,
    duration_nanos: u64,
    span_count: usize,
    error_count: usize,
    services: Vec<ServiceJson>,
}

impl TraceSummaryJson {
    /// Summarises an assembled trace.
    pub(crate) fn from_trace(trace: &AssembledTrace) -> Self {
        let root = trace.root();
        Self {
            trace_id: trace.trace_id.to_hex(),
            root_service_name: root.map(|span| span.row.service_name.to_string()),
            root_span_name: root.map(|span| span.row.span.name.clone()),
            start_time_unix_nano: trace.start_unix_nano.to_string(),
            duration_nanos: trace.duration_nanos(),
            span_count: trace.spans.len(),
            error_count: trace.error_span_count,
            services: trace.services.iter().map(ServiceJson::from).collect(),
        }
    }
}

/// The answer of `GET /api/v1/traces`.
#[derive(Debug, Serialize)]
pub(crate) struct SearchResponseJson {
    /// Summaries, most recent first.
    pub(crate) traces: Vec<TraceSummaryJson>,
    /// The limit the search ran with.
    pub(crate) limit: usize,
}

#[cfg(test)]
mod tests;
