//! Jaeger's UI JSON model (`model/json` in jaeger), and the translation of assembled OTLP
//! traces into it, following the OpenTelemetry collector's Jaeger translator
//! (`pkg/translator/jaeger`, `traces_to_jaegerproto.go`) that Jaeger itself uses:
//!
//! - Parent → first reference, `CHILD_OF`; links → `FOLLOWS_FROM` (or `CHILD_OF` when the link
//!   has `opentracing.ref_type=child_of`); a link to the parent overrides the parent's type.
//! - Tags in the translator's order: `otel.scope.name`, `otel.scope.version`, the span's
//!   attributes, `span.kind` (lowercase, omitted when unspecified), `otel.status_code`
//!   (`OK`/`ERROR`, omitted when unset), `error=true` on errors, `otel.status_description`
//!   when the message is not empty, `w3c.tracestate` when set.
//! - Events → logs; the event name is an `event` field first, unless an attribute is already
//!   called `event`.
//! - Resource attributes except `service.name` → process tags; equal processes share an id
//!   (`p1`, `p2`, … in order of first use).
//! - Values: string, bool, `int64`, `float64`; bytes → `binary` with the value in base64, as
//!   Go's `encoding/json` writes Jaeger's `[]byte`; arrays and maps → `string` holding JSON.
//! - Times in microseconds, truncated. Trace ids print 16 hex digits when the high half is
//!   zero, as Jaeger's `TraceID.String()` does.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use sightline_model::{AnyValue, KeyValue, SpanId, SpanKind, StatusCode, TraceId};

use crate::trace::{AssembledSpan, AssembledTrace};

/// Jaeger's response envelope (`structuredResponse`).
#[derive(Debug, Serialize)]
pub(crate) struct StructuredResponse<T: Serialize> {
    pub(crate) data: T,
    pub(crate) total: usize,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) errors: Option<Vec<StructuredError>>,
}

impl<T: Serialize> StructuredResponse<T> {
    /// Wraps data with no total, as Jaeger does for traces.
    pub(crate) fn data(data: T) -> Self {
        Self {
            data,
            total: 0,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }
}

/// One entry of a response's `errors`.
#[derive(Debug, Serialize)]
pub(crate) struct StructuredError {
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) code: u16,
    pub(crate) msg: String,
    #[serde(rename = "traceID", skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<String>,
}

fn is_zero(code: &u16) -> bool {
    *code == 0
}

/// An operation of `/api/operations`.
#[derive(Debug, Serialize)]
pub(crate) struct Operation {
    pub(crate) name: String,
    #[serde(rename = "spanKind")]
    pub(crate) span_kind: &'static str,
}

/// A link of `/api/dependencies`: `parent` called `child` `callCount` times.
#[derive(Debug, Serialize)]
pub(crate) struct DependencyLink {
    pub(crate) parent: String,
    pub(crate) child: String,
    #[serde(rename = "callCount")]
    pub(crate) call_count: u64,
}

/// Jaeger's name for a span kind: lowercase, empty when unspecified.
pub(crate) fn jaeger_span_kind(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "",
        other => other.as_str(),
    }
}

/// A trace in Jaeger's UI model.
#[derive(Debug, Serialize)]
pub(crate) struct Trace {
    #[serde(rename = "traceID")]
    trace_id: String,
    spans: Vec<Span>,
    processes: BTreeMap<String, Process>,
    warnings: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Span {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(skip_serializing_if = "is_zero_u32")]
    flags: u32,
    operation_name: String,
    references: Vec<Reference>,
    start_time: u64,
    duration: u64,
    tags: Vec<Tag>,
    logs: Vec<Log>,
    #[serde(rename = "processID")]
    process_id: String,
    warnings: Option<Vec<String>>,
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

#[derive(Debug, Serialize)]
struct Reference {
    #[serde(rename = "refType")]
    ref_type: &'static str,
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Process {
    #[serde(rename = "serviceName")]
    service_name: String,
    tags: Vec<Tag>,
}

#[derive(Debug, Serialize)]
struct Log {
    timestamp: u64,
    fields: Vec<Tag>,
}

/// A typed Jaeger key/value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Tag {
    key: String,
    #[serde(rename = "type")]
    value_type: &'static str,
    value: serde_json::Value,
}

impl Tag {
    fn string(key: &str, value: &str) -> Self {
        Self {
            key: key.to_string(),
            value_type: "string",
            value: value.into(),
        }
    }

    fn from_attribute(attribute: &KeyValue) -> Self {
        let (value_type, value) = match &attribute.value {
            AnyValue::String(text) => ("string", serde_json::Value::from(text.as_str())),
            AnyValue::Bool(flag) => ("bool", serde_json::Value::from(*flag)),
            AnyValue::Int(number) => ("int64", serde_json::Value::from(*number)),
            AnyValue::Double(number) => ("float64", serde_json::Value::from(*number)),
            AnyValue::Bytes(bytes) => (
                "binary",
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into(),
            ),
            AnyValue::Empty => ("string", serde_json::Value::from("")),
            AnyValue::Array(_) | AnyValue::KvList(_) => {
                ("string", attribute.value.to_json().to_string().into())
            }
        };
        Self {
            key: attribute.key.clone(),
            value_type,
            value,
        }
    }
}

/// Jaeger's text form of a trace id.
pub(crate) fn jaeger_trace_id(trace_id: &TraceId) -> String {
    let bytes = trace_id.as_bytes();
    if bytes[..8] == [0; 8] {
        hex::encode(&bytes[8..])
    } else {
        trace_id.to_hex()
    }
}

fn jaeger_span_id(span_id: &SpanId) -> String {
    span_id.to_hex()
}

/// Translates an assembled trace into Jaeger's model.
pub(crate) fn jaeger_trace(trace: &AssembledTrace) -> Trace {
    let mut processes: Vec<Process> = Vec::new();
    let spans = trace
        .spans
        .iter()
        .map(|assembled| {
            let process = jaeger_process(assembled);
            let index = match processes.iter().position(|known| *known == process) {
                Some(index) => index,
                None => {
                    processes.push(process);
                    processes.len() - 1
                }
            };
            jaeger_span(assembled, format!("p{}", index + 1))
        })
        .collect();
    let warnings = trace.warnings();
    Trace {
        trace_id: jaeger_trace_id(&trace.trace_id),
        spans,
        processes: processes
            .into_iter()
            .enumerate()
            .map(|(index, p)| (format!("p{}", index + 1), p))
            .collect(),
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn jaeger_process(assembled: &AssembledSpan) -> Process {
    let tags = assembled
        .row
        .resource
        .attributes
        .iter()
        .filter(|attribute| attribute.key != "service.name")
        .map(Tag::from_attribute)
        .collect();
    Process {
        service_name: assembled.row.service_name.to_string(),
        tags,
    }
}

fn jaeger_span(assembled: &AssembledSpan, process_id: String) -> Span {
    let span = &assembled.row.span;
    let mut warnings = Vec::new();
    if assembled.orphan {
        if let Some(parent) = span.parent_span_id {
            warnings.push(format!(
                "invalid parent span IDs={}; skipping clock skew adjustment",
                parent
            ));
        }
    }
    if let Some(skew) = assembled.clock_skew {
        warnings.push(skew.to_string());
    }
    Span {
        trace_id: jaeger_trace_id(&span.trace_id),
        span_id: jaeger_span_id(&span.span_id),
        flags: span.flags & 0xff,
        operation_name: span.name.clone(),
        references: jaeger_references(assembled),
        start_time: span.start_time_unix_nano / 1_000,
        duration: span.duration_nanos() / 1_000,
        tags: jaeger_span_tags(assembled),
        logs: span.events.iter().map(jaeger_log).collect(),
        process_id,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn jaeger_references(assembled: &AssembledSpan) -> Vec<Reference> {
    let span = &assembled.row.span;
    let mut references = Vec::with_capacity(span.links.len() + 1);
    if let Some(parent) = span.parent_span_id {
        references.push(Reference {
            ref_type: "CHILD_OF",
            trace_id: jaeger_trace_id(&span.trace_id),
            span_id: jaeger_span_id(&parent),
        });
    }
    for link in &span.links {
        let ref_type = match sightline_model::attr::find(&link.attributes, "opentracing.ref_type") {
            Some(AnyValue::String(text)) if text == "child_of" => "CHILD_OF",
            _ => "FOLLOWS_FROM",
        };
        if link.trace_id == span.trace_id && Some(link.span_id) == span.parent_span_id {
            if let Some(parent_reference) = references.first_mut() {
                parent_reference.ref_type = ref_type;
            }
            continue;
        }
        references.push(Reference {
            ref_type,
            trace_id: jaeger_trace_id(&link.trace_id),
            span_id: jaeger_span_id(&link.span_id),
        });
    }
    references
}

fn jaeger_span_tags(assembled: &AssembledSpan) -> Vec<Tag> {
    let row = &assembled.row;
    let span = &row.span;
    let mut tags = Vec::with_capacity(span.attributes.len() + 6);
    if !row.scope.name.is_empty() {
        tags.push(Tag::string("otel.scope.name", &row.scope.name));
    }
    if !row.scope.version.is_empty() {
        tags.push(Tag::string("otel.scope.version", &row.scope.version));
    }
    tags.extend(span.attributes.iter().map(Tag::from_attribute));
    if span.kind != SpanKind::Unspecified {
        tags.push(Tag::string("span.kind", span.kind.as_str()));
    }
    match span.status_code {
        StatusCode::Ok => tags.push(Tag::string("otel.status_code", "OK")),
        StatusCode::Error => {
            tags.push(Tag::string("otel.status_code", "ERROR"));
            tags.push(Tag {
                key: "error".to_string(),
                value_type: "bool",
                value: true.into(),
            });
        }
        StatusCode::Unset => {}
    }
    if !span.status_message.is_empty() {
        tags.push(Tag::string("otel.status_description", &span.status_message));
    }
    if !span.trace_state.is_empty() {
        tags.push(Tag::string("w3c.tracestate", &span.trace_state));
    }
    tags
}

fn jaeger_log(event: &sightline_model::Event) -> Log {
    let mut fields = Vec::with_capacity(event.attributes.len() + 1);
    let has_event_attribute = event
        .attributes
        .iter()
        .any(|attribute| attribute.key == "event");
    if !event.name.is_empty() && !has_event_attribute {
        fields.push(Tag::string("event", &event.name));
    }
    fields.extend(event.attributes.iter().map(Tag::from_attribute));
    Log {
        timestamp: event.time_unix_nano / 1_000,
        fields,
    }
}

#[cfg(test)]
mod tests;
