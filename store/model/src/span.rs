//! Spans as received ([`SpanBatch`], grouped by resource and scope like OTLP) and as stored and
//! queried ([`SpanRow`], one span with shared handles on its resource and scope).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attr::{find, AnyValue, KeyValue};
use crate::ids::{SpanId, TraceId};

/// The service name OTLP's semantic conventions prescribe when `service.name` is missing.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The entity that produced telemetry: a service instance, with its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Resource {
    /// Resource attributes such as `service.name` and `host.name`.
    pub attributes: Vec<KeyValue>,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// The schema URL of the enclosing `ResourceSpans`.
    pub schema_url: String,
}

impl Resource {
    /// Returns `service.name`, or [`UNKNOWN_SERVICE`] when it is missing or not a string.
    pub fn service_name(&self) -> &str {
        find(&self.attributes, "service.name")
            .and_then(AnyValue::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(UNKNOWN_SERVICE)
    }
}

/// The instrumentation scope (library) that produced spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Scope {
    /// Scope name, such as `io.opentelemetry.jdbc`.
    pub name: String,
    /// Scope version.
    pub version: String,
    /// Scope attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// The schema URL of the enclosing `ScopeSpans`.
    pub schema_url: String,
}

/// OTLP's span kind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub enum SpanKind {
    /// Unspecified (0).
    #[default]
    Unspecified,
    /// Internal operation (1).
    Internal,
    /// Server side of a synchronous call (2).
    Server,
    /// Client side of a synchronous call (3).
    Client,
    /// Sender of an asynchronous message (4).
    Producer,
    /// Receiver of an asynchronous message (5).
    Consumer,
}

impl SpanKind {
    /// Maps OTLP's enum number; unknown numbers become `Unspecified`.
    pub fn from_otlp(number: i32) -> Self {
        match number {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// Returns OTLP's enum number.
    pub fn to_otlp(self) -> i32 {
        self as i32
    }

    /// Returns the lowercase name Jaeger uses for `span.kind` (empty for unspecified).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }

    /// Parses the lowercase name (as in [`SpanKind::as_str`]).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Unspecified,
            Self::Internal,
            Self::Server,
            Self::Client,
            Self::Producer,
            Self::Consumer,
        ]
        .into_iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
    }
}

/// OTLP's span status code.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub enum StatusCode {
    /// Unset (0).
    #[default]
    Unset,
    /// Ok (1).
    Ok,
    /// Error (2).
    Error,
}

impl StatusCode {
    /// Maps OTLP's enum number; unknown numbers become `Unset`.
    pub fn from_otlp(number: i32) -> Self {
        match number {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// Returns OTLP's enum number.
    pub fn to_otlp(self) -> i32 {
        self as i32
    }

    /// Returns the lowercase name (`unset`, `ok`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "unset",
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }

    /// Parses the lowercase name (as in [`StatusCode::as_str`]).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Unset, Self::Ok, Self::Error]
            .into_iter()
            .find(|code| code.as_str().eq_ignore_ascii_case(text))
    }
}

/// A time-stamped event inside a span (an exception, a log line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Event {
    /// When it happened.
    pub time_unix_nano: u64,
    /// Event name, such as `exception`.
    pub name: String,
    /// Event attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
}

/// A link from a span to a span of this or another trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// W3C trace state of the link.
    pub trace_state: String,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// W3C trace flags of the link.
    pub flags: u32,
}

/// One span, as OTLP defines it, without its resource and scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Span {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// W3C trace state.
    pub trace_state: String,
    /// The parent span, `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// W3C trace flags.
    pub flags: u32,
    /// Operation name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start time.
    pub start_time_unix_nano: u64,
    /// End time.
    pub end_time_unix_nano: u64,
    /// Span attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// Events in time order as received.
    pub events: Vec<Event>,
    /// Events the sender dropped.
    pub dropped_events_count: u32,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// Links the sender dropped.
    pub dropped_links_count: u32,
    /// Status code.
    pub status_code: StatusCode,
    /// Status message (meaningful with `Error`).
    pub status_message: String,
}

impl Span {
    /// Returns the span's duration; zero when the end precedes the start.
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }
}

/// Spans of one scope, as in OTLP's `ScopeSpans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScopeSpans {
    /// The scope that produced the spans.
    pub scope: Scope,
    /// The spans.
    pub spans: Vec<Span>,
}

/// Spans of one resource, as in OTLP's `ResourceSpans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ResourceSpans {
    /// The resource that produced the spans.
    pub resource: Resource,
    /// Spans grouped by scope.
    pub scopes: Vec<ScopeSpans>,
}

/// The accepted spans of one export request, grouped as received. This is the unit the WAL
/// persists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpanBatch {
    /// Spans grouped by resource.
    pub resources: Vec<ResourceSpans>,
}

impl SpanBatch {
    /// Counts the spans in the batch.
    pub fn span_count(&self) -> usize {
        self.resources
            .iter()
            .flat_map(|resource| &resource.scopes)
            .map(|scope| scope.spans.len())
            .sum()
    }

    /// Flattens the batch into rows that share their resource and scope.
    pub fn into_rows(self) -> Vec<SpanRow> {
        let mut rows = Vec::with_capacity(self.span_count());
        for resource_spans in self.resources {
            let resource = Arc::new(resource_spans.resource);
            let service_name: Arc<str> = Arc::from(resource.service_name());
            for scope_spans in resource_spans.scopes {
                let scope = Arc::new(scope_spans.scope);
                rows.extend(scope_spans.spans.into_iter().map(|span| SpanRow {
                    service_name: service_name.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    span,
                }));
            }
        }
        rows
    }

    /// Groups rows back by resource and scope (equal consecutive resources and scopes share a
    /// group), the inverse of [`SpanBatch::into_rows`] for OTLP export.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a SpanRow>) -> Self {
        let mut batch = SpanBatch::default();
        for row in rows {
            let resource_group = match batch
                .resources
                .iter_mut()
                .position(|group| group.resource == *row.resource)
            {
                Some(index) => &mut batch.resources[index],
                None => {
                    batch.resources.push(ResourceSpans {
                        resource: (*row.resource).clone(),
                        scopes: Vec::new(),
                    });
                    batch
                        .resources
                        .last_mut()
                        .expect("invariant: just pushed a resource group")
                }
            };
            let scope_group = match resource_group
                .scopes
                .iter_mut()
                .position(|group| group.scope == *row.scope)
            {
                Some(index) => &mut resource_group.scopes[index],
                None => {
                    resource_group.scopes.push(ScopeSpans {
                        scope: (*row.scope).clone(),
                        spans: Vec::new(),
                    });
                    resource_group
                        .scopes
                        .last_mut()
                        .expect("invariant: just pushed a scope group")
                }
            };
            scope_group.spans.push(row.span.clone());
        }
        batch
    }
}

/// One span with its resource and scope: the unit the head holds and queries return.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRow {
    /// `service.name` of the resource, denormalised for filtering.
    pub service_name: Arc<str>,
    /// The resource, shared by the spans of one `ResourceSpans`.
    pub resource: Arc<Resource>,
    /// The scope, shared by the spans of one `ScopeSpans`.
    pub scope: Arc<Scope>,
    /// The span itself.
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u8) -> Span {
        Span {
            trace_id: TraceId([1; 16]),
            span_id: SpanId([id; 8]),
            name: format!("op{id}"),
            ..Span::default()
        }
    }

    #[test]
    fn rows_round_trip_to_groups() {
        let batch = SpanBatch {
            resources: vec![
                ResourceSpans {
                    resource: Resource {
                        attributes: vec![KeyValue::new(
                            "service.name",
                            AnyValue::String("a".into()),
                        )],
                        ..Resource::default()
                    },
                    scopes: vec![
                        ScopeSpans {
                            scope: Scope {
                                name: "s1".into(),
                                ..Scope::default()
                            },
                            spans: vec![span(1), span(2)],
                        },
                        ScopeSpans {
                            scope: Scope {
                                name: "s2".into(),
                                ..Scope::default()
                            },
                            spans: vec![span(3)],
                        },
                    ],
                },
                ResourceSpans {
                    resource: Resource::default(),
                    scopes: vec![ScopeSpans {
                        scope: Scope::default(),
                        spans: vec![span(4)],
                    }],
                },
            ],
        };
        let rows = batch.clone().into_rows();
        assert_eq!(rows.len(), 4);
        assert_eq!(&*rows[0].service_name, "a");
        assert_eq!(&*rows[3].service_name, UNKNOWN_SERVICE);
        assert_eq!(SpanBatch::from_rows(&rows), batch);
    }
}
