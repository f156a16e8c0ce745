//! Trace assembly: turns the unordered, possibly duplicated rows the store returns for one trace
//! into a tree with the facts every API renders.
//!
//! - [`assemble`]: dedupe, parent/child tree, roots, orphans, services, display order.
//! - [`skew`]: clock skew between a span and a parent of another service, noted, never fixed.
//! - [`critical_path`]: the segments that determine the trace's end-to-end latency.

mod assemble;
mod critical_path;
mod skew;

pub use assemble::{assemble_trace, AssembledSpan, AssembledTrace, ServiceSpanCount};
pub use critical_path::Segment;
pub use skew::ClockSkew;

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-made rows for the assembly tests.

    use std::sync::Arc;

    use sightline_model::{
        AnyValue, KeyValue, Resource, Scope, Span, SpanId, SpanRow, StatusCode, TraceId,
    };

    /// The trace id every fixture span shares.
    pub const TRACE: TraceId = TraceId([7; 16]);

    /// Builds a row of `service` with span id `id`, parent `parent` (0 = none) and times in
    /// nanoseconds.
    pub fn row(service: &str, id: u8, parent: u8, start: u64, end: u64) -> SpanRow {
        let resource = Resource {
            attributes: vec![KeyValue::new(
                "service.name",
                AnyValue::String(service.into()),
            )],
            ..Resource::default()
        };
        SpanRow {
            service_name: Arc::from(service),
            resource: Arc::new(resource),
            scope: Arc::new(Scope::default()),
            span: Span {
                trace_id: TRACE,
                span_id: SpanId([id; 8]),
                parent_span_id: (parent != 0).then_some(SpanId([parent; 8])),
                name: format!("op{id}"),
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                ..Span::default()
            },
        }
    }

    /// Like [`row`], with an error status.
    pub fn error_row(service: &str, id: u8, parent: u8, start: u64, end: u64) -> SpanRow {
        let mut row = row(service, id, parent, start, end);
        row.span.status_code = StatusCode::Error;
        row
    }

    /// Returns the span id a fixture byte stands for.
    pub fn id(byte: u8) -> SpanId {
        SpanId([byte; 8])
    }
}
