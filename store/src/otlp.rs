//! OTLP trace messages ⇄ model, both directions.
//!
//! [`spans_from_otlp`] validates and converts an export request into a [`SpanBatch`]; the
//! collector calls it after decoding protobuf or JSON. [`spans_to_otlp`] is its exact inverse,
//! used by the query side to export stored spans losslessly.
//!
//! Validation follows the OTLP spec (<https://opentelemetry.io/docs/specs/otlp/>) and the trace
//! API's rules for ids: a span's trace id is 16 bytes and its span id 8 bytes, neither all zeros;
//! the parent span id is empty (root span) or 8 bytes. A span that breaks a rule is dropped and
//! counted; the rest of the request is kept (partial success, never a whole-request error).
//!
//! What is not kept, because the model has no place for it or it is not valid in traces:
//! - `Resource.entity_refs` (development-status field of the resource).
//! - `KeyValue.key_strindex` and `AnyValue.string_value_strindex` (profiles-only dictionary
//!   references); a `string_value_strindex` value becomes [`AnyValue::Empty`].
//! - Resource and scope groups without spans (nothing to store).
//! - A link whose ids have a wrong, non-zero length: the link is dropped and counted in
//!   `dropped_links_count`. Links may carry all-zero (or empty) ids, as the trace SDK spec allows
//!   recording links with an invalid span context when they have attributes or a trace state;
//!   an all-zero link id is encoded back as empty bytes.
//!
//! Canonical OTLP forms that [`spans_to_otlp`] produces, so that round trips compare equal:
//! `resource`, `scope` and `status` are always present, and an empty value is
//! `Some(AnyValue { value: None })` in a `KeyValue`.

pub mod logs;
pub mod metrics;

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::resource::v1 as proto_resource;
use opentelemetry_proto::tonic::trace::v1 as proto_trace;
use sightline_model::{
    AnyValue, Event, IdParseError, KeyValue, Link, Resource, ResourceSpans, Scope, ScopeSpans,
    Span, SpanBatch, SpanId, SpanKind, StatusCode, TraceId,
};

/// The accepted spans of an export request, with what was rejected and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecodedSpans {
    /// Valid spans, grouped by resource and scope as received.
    pub batch: SpanBatch,
    /// How many spans were accepted (the spans in `batch`).
    pub accepted_spans: usize,
    /// How many spans were rejected and dropped.
    pub rejected_spans: usize,
    /// The first rejection reason, for OTLP's `partial_success.error_message`.
    pub first_rejection: Option<String>,
    /// Rejected spans per bounded reason label (such as `invalid_trace_id`), for metrics.
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
}

/// Why a span was rejected: which of its ids is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SpanRejection {
    #[error("invalid trace id: {0}")]
    Trace(IdParseError),
    #[error("invalid span id: {0}")]
    Span(IdParseError),
    #[error("invalid parent span id: {0}")]
    ParentSpan(IdParseError),
}

impl SpanRejection {
    /// A bounded label for metrics.
    fn reason_label(&self) -> &'static str {
        match self {
            SpanRejection::Trace(_) => "invalid_trace_id",
            SpanRejection::Span(_) => "invalid_span_id",
            SpanRejection::ParentSpan(_) => "invalid_parent_span_id",
        }
    }
}

/// Validates and converts an OTLP export request into the model.
///
/// Invalid spans are dropped and counted in [`DecodedSpans::rejected_spans`], with the first
/// reason in [`DecodedSpans::first_rejection`] (e.g. `span 3 of scope 'x': invalid trace id: id
/// must be 32 hex characters, got 0`). Resource and scope groups left without spans are omitted.
pub fn spans_from_otlp(request: ExportTraceServiceRequest) -> DecodedSpans {
    let mut decoded = DecodedSpans::default();
    for resource_spans in request.resource_spans {
        let resource = resource_from_otlp(resource_spans.resource, resource_spans.schema_url);
        let mut scopes = Vec::with_capacity(resource_spans.scope_spans.len());
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_from_otlp(scope_spans.scope, scope_spans.schema_url);
            let mut spans = Vec::with_capacity(scope_spans.spans.len());
            for (index, span) in scope_spans.spans.into_iter().enumerate() {
                match span_from_otlp(span) {
                    Ok(span) => spans.push(span),
                    Err(rejection) => {
                        decoded.rejected_spans += 1;
                        *decoded
                            .rejected_by_reason
                            .entry(rejection.reason_label())
                            .or_default() += 1;
                        if decoded.first_rejection.is_none() {
                            decoded.first_rejection = Some(format!(
                                "span {index} of scope '{}': {rejection}",
                                scope.name
                            ));
                        }
                    }
                }
            }
            if !spans.is_empty() {
                decoded.accepted_spans += spans.len();
                scopes.push(ScopeSpans { scope, spans });
            }
        }
        if !scopes.is_empty() {
            decoded
                .batch
                .resources
                .push(ResourceSpans { resource, scopes });
        }
    }
    decoded
}

/// Converts a batch back into OTLP, the exact inverse of [`spans_from_otlp`] for valid spans in
/// canonical form (see the module docs).
pub fn spans_to_otlp(batch: &SpanBatch) -> proto_trace::TracesData {
    let resource_spans = batch
        .resources
        .iter()
        .map(|resource_spans| proto_trace::ResourceSpans {
            resource: Some(proto_resource::Resource {
                attributes: key_values_to_otlp(&resource_spans.resource.attributes),
                dropped_attributes_count: resource_spans.resource.dropped_attributes_count,
                entity_refs: Vec::new(),
            }),
            scope_spans: resource_spans
                .scopes
                .iter()
                .map(scope_spans_to_otlp)
                .collect(),
            schema_url: resource_spans.resource.schema_url.clone(),
        })
        .collect();
    proto_trace::TracesData { resource_spans }
}

/// Converts an OTLP value into the model; a missing value or a profiles-only string index
/// becomes [`AnyValue::Empty`].
pub fn any_value_from_otlp(value: Option<proto_common::AnyValue>) -> AnyValue {
    match value.and_then(|value| value.value) {
        None | Some(ProtoValue::StringValueStrindex(_)) => AnyValue::Empty,
        Some(ProtoValue::StringValue(text)) => AnyValue::String(text),
        Some(ProtoValue::BoolValue(flag)) => AnyValue::Bool(flag),
        Some(ProtoValue::IntValue(number)) => AnyValue::Int(number),
        Some(ProtoValue::DoubleValue(number)) => AnyValue::Double(number),
        Some(ProtoValue::BytesValue(bytes)) => AnyValue::Bytes(bytes),
        Some(ProtoValue::ArrayValue(array)) => AnyValue::Array(
            array
                .values
                .into_iter()
                .map(|item| any_value_from_otlp(Some(item)))
                .collect(),
        ),
        Some(ProtoValue::KvlistValue(list)) => AnyValue::KvList(key_values_from_otlp(list.values)),
    }
}

/// Converts a model value into OTLP; [`AnyValue::Empty`] becomes an `AnyValue` without a value.
pub fn any_value_to_otlp(value: &AnyValue) -> proto_common::AnyValue {
    let value = match value {
        AnyValue::Empty => None,
        AnyValue::String(text) => Some(ProtoValue::StringValue(text.clone())),
        AnyValue::Bool(flag) => Some(ProtoValue::BoolValue(*flag)),
        AnyValue::Int(number) => Some(ProtoValue::IntValue(*number)),
        AnyValue::Double(number) => Some(ProtoValue::DoubleValue(*number)),
        AnyValue::Bytes(bytes) => Some(ProtoValue::BytesValue(bytes.clone())),
        AnyValue::Array(items) => Some(ProtoValue::ArrayValue(proto_common::ArrayValue {
            values: items.iter().map(any_value_to_otlp).collect(),
        })),
        AnyValue::KvList(pairs) => Some(ProtoValue::KvlistValue(proto_common::KeyValueList {
            values: key_values_to_otlp(pairs),
        })),
    };
    proto_common::AnyValue { value }
}

/// Converts OTLP attributes into the model, keeping order and duplicates as received.
pub fn key_values_from_otlp(attributes: Vec<proto_common::KeyValue>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(|kv| KeyValue {
            key: kv.key,
            value: any_value_from_otlp(kv.value),
        })
        .collect()
}

/// Converts model attributes into OTLP.
pub fn key_values_to_otlp(attributes: &[KeyValue]) -> Vec<proto_common::KeyValue> {
    attributes
        .iter()
        .map(|kv| proto_common::KeyValue {
            key: kv.key.clone(),
            value: Some(any_value_to_otlp(&kv.value)),
            key_strindex: 0,
        })
        .collect()
}

fn resource_from_otlp(resource: Option<proto_resource::Resource>, schema_url: String) -> Resource {
    let resource = resource.unwrap_or_default();
    Resource {
        attributes: key_values_from_otlp(resource.attributes),
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url,
    }
}

fn scope_from_otlp(scope: Option<proto_common::InstrumentationScope>, schema_url: String) -> Scope {
    let scope = scope.unwrap_or_default();
    Scope {
        name: scope.name,
        version: scope.version,
        attributes: key_values_from_otlp(scope.attributes),
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url,
    }
}

fn span_from_otlp(span: proto_trace::Span) -> Result<Span, SpanRejection> {
    let trace_id = TraceId::from_slice(&span.trace_id).map_err(SpanRejection::Trace)?;
    let span_id = SpanId::from_slice(&span.span_id).map_err(SpanRejection::Span)?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(SpanId::from_slice(&span.parent_span_id).map_err(SpanRejection::ParentSpan)?)
    };
    let mut dropped_links_count = span.dropped_links_count;
    let mut links = Vec::with_capacity(span.links.len());
    for link in span.links {
        match link_from_otlp(link) {
            Some(link) => links.push(link),
            None => dropped_links_count = dropped_links_count.saturating_add(1),
        }
    }
    let status = span.status.unwrap_or_default();
    Ok(Span {
        trace_id,
        span_id,
        trace_state: span.trace_state,
        parent_span_id,
        flags: span.flags,
        name: span.name,
        kind: SpanKind::from_otlp(span.kind),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes: key_values_from_otlp(span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span.events.into_iter().map(event_from_otlp).collect(),
        dropped_events_count: span.dropped_events_count,
        links,
        dropped_links_count,
        status_code: StatusCode::from_otlp(status.code),
        status_message: status.message,
    })
}

fn event_from_otlp(event: proto_trace::span::Event) -> Event {
    Event {
        time_unix_nano: event.time_unix_nano,
        name: event.name,
        attributes: key_values_from_otlp(event.attributes),
        dropped_attributes_count: event.dropped_attributes_count,
    }
}

/// Returns `None` when an id has a length other than zero or its exact size.
fn link_from_otlp(link: proto_trace::span::Link) -> Option<Link> {
    Some(Link {
        trace_id: TraceId(link_id_bytes(&link.trace_id)?),
        span_id: SpanId(link_id_bytes(&link.span_id)?),
        trace_state: link.trace_state,
        attributes: key_values_from_otlp(link.attributes),
        dropped_attributes_count: link.dropped_attributes_count,
        flags: link.flags,
    })
}

/// Reads a link id: empty means all zeros; otherwise the exact size is required.
fn link_id_bytes<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    if bytes.is_empty() {
        Some([0; N])
    } else {
        bytes.try_into().ok()
    }
}

/// Writes a link id: all zeros becomes empty, the proto3 "unset" form.
fn link_id_to_otlp(bytes: &[u8]) -> Vec<u8> {
    if bytes.iter().all(|byte| *byte == 0) {
        Vec::new()
    } else {
        bytes.to_vec()
    }
}

fn scope_spans_to_otlp(scope_spans: &ScopeSpans) -> proto_trace::ScopeSpans {
    let scope = &scope_spans.scope;
    proto_trace::ScopeSpans {
        scope: Some(proto_common::InstrumentationScope {
            name: scope.name.clone(),
            version: scope.version.clone(),
            attributes: key_values_to_otlp(&scope.attributes),
            dropped_attributes_count: scope.dropped_attributes_count,
        }),
        spans: scope_spans.spans.iter().map(span_to_otlp).collect(),
        schema_url: scope.schema_url.clone(),
    }
}

fn span_to_otlp(span: &Span) -> proto_trace::Span {
    proto_trace::Span {
        trace_id: span.trace_id.as_bytes().to_vec(),
        span_id: span.span_id.as_bytes().to_vec(),
        trace_state: span.trace_state.clone(),
        parent_span_id: span
            .parent_span_id
            .map(|parent| parent.as_bytes().to_vec())
            .unwrap_or_default(),
        flags: span.flags,
        name: span.name.clone(),
        kind: span.kind.to_otlp(),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes: key_values_to_otlp(&span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span.events.iter().map(event_to_otlp).collect(),
        dropped_events_count: span.dropped_events_count,
        links: span.links.iter().map(link_to_otlp).collect(),
        dropped_links_count: span.dropped_links_count,
        status: Some(proto_trace::Status {
            message: span.status_message.clone(),
            code: span.status_code.to_otlp(),
        }),
    }
}

fn event_to_otlp(event: &Event) -> proto_trace::span::Event {
    proto_trace::span::Event {
        time_unix_nano: event.time_unix_nano,
        name: event.name.clone(),
        attributes: key_values_to_otlp(&event.attributes),
        dropped_attributes_count: event.dropped_attributes_count,
    }
}

fn link_to_otlp(link: &Link) -> proto_trace::span::Link {
    proto_trace::span::Link {
        trace_id: link_id_to_otlp(link.trace_id.as_bytes()),
        span_id: link_id_to_otlp(link.span_id.as_bytes()),
        trace_state: link.trace_state.clone(),
        attributes: key_values_to_otlp(&link.attributes),
        dropped_attributes_count: link.dropped_attributes_count,
        flags: link.flags,
    }
}

#[cfg(test)]
mod tests;
