//! `--dump-ndjson`: every span sent, as one JSON line in the column form of the OpenTelemetry
//! Collector ClickHouse exporter's `otel_traces` table, so `benches/clickhouse/compare.py` can
//! load the very same spans into ClickHouse.
//!
//! Conversions follow the exporter's `pushTraceData`: ids as lowercase hex (empty when absent),
//! `ServiceName` from the resource's `service.name`, attribute values as text (`AsString`),
//! `SpanKind` and `StatusCode` as pdata's `String()` ("Server", "Error", ...), `Duration` =
//! end − start in nanoseconds. `Timestamp` is written as `"<seconds>.<9 digits>"`, which
//! ClickHouse parses into `DateTime64(9)` exactly (a bare integer would be read as seconds).

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status};

/// Per-connection buffer size before a chunk is handed to the shared file.
const CHUNK_BYTES: usize = 1 << 20;

/// The shared output file; each connection buffers its lines and writes them in large chunks.
pub type Sink = Arc<Mutex<std::fs::File>>;

/// One connection's buffer of NDJSON lines.
pub struct Writer {
    sink: Sink,
    buffer: Vec<u8>,
}

impl Writer {
    pub fn new(sink: Sink) -> Self {
        Self {
            sink,
            buffer: Vec::with_capacity(CHUNK_BYTES + (64 << 10)),
        }
    }

    /// Appends every span of `request`, writing out the buffer when it is full.
    pub fn append(&mut self, request: &ExportTraceServiceRequest) {
        append_request(&mut self.buffer, request);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if !self.buffer.is_empty() {
            let mut file = self.sink.lock().expect("ndjson sink lock");
            file.write_all(&self.buffer).expect("write ndjson");
            self.buffer.clear();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.flush();
    }
}

fn string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("json string");
}

/// The exporter's `Value.AsString()` for the value types the generator sends (and bool/double).
fn value_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => hex::encode(bytes),
        _ => String::new(),
    }
}

fn map(out: &mut Vec<u8>, attributes: &[KeyValue]) {
    out.push(b'{');
    for (index, attribute) in attributes.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(out, &attribute.key);
        out.push(b':');
        string(out, &value_text(attribute.value.as_ref()));
    }
    out.push(b'}');
}

fn timestamp(out: &mut Vec<u8>, unix_nano: u64) {
    write!(
        out,
        "\"{}.{:09}\"",
        unix_nano / 1_000_000_000,
        unix_nano % 1_000_000_000
    )
    .expect("write");
}

fn id(out: &mut Vec<u8>, bytes: &[u8]) {
    write!(out, "\"{}\"", hex::encode(bytes)).expect("write");
}

/// A JSON array of `items`, each written by `item`.
fn array<T>(out: &mut Vec<u8>, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (index, value) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        item(out, value);
    }
    out.push(b']');
}

fn span_kind(kind: i32) -> &'static str {
    match span::SpanKind::try_from(kind).unwrap_or(span::SpanKind::Unspecified) {
        span::SpanKind::Unspecified => "Unspecified",
        span::SpanKind::Internal => "Internal",
        span::SpanKind::Server => "Server",
        span::SpanKind::Client => "Client",
        span::SpanKind::Producer => "Producer",
        span::SpanKind::Consumer => "Consumer",
    }
}

fn status_code(code: i32) -> &'static str {
    match status::StatusCode::try_from(code).unwrap_or(status::StatusCode::Unset) {
        status::StatusCode::Unset => "Unset",
        status::StatusCode::Ok => "Ok",
        status::StatusCode::Error => "Error",
    }
}

/// Appends one line per span of `request` to `out`.
pub fn append_request(out: &mut Vec<u8>, request: &ExportTraceServiceRequest) {
    for resource_spans in &request.resource_spans {
        let resource_attributes = resource_spans
            .resource
            .as_ref()
            .map(|resource| resource.attributes.as_slice())
            .unwrap_or(&[]);
        let service_name = value_text(
            resource_attributes
                .iter()
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()),
        );
        for scope_spans in &resource_spans.scope_spans {
            let (scope_name, scope_version) = scope_spans
                .scope
                .as_ref()
                .map(|scope| (scope.name.as_str(), scope.version.as_str()))
                .unwrap_or(("", ""));
            for span in &scope_spans.spans {
                let (code, message) = span
                    .status
                    .as_ref()
                    .map(|status| (status.code, status.message.as_str()))
                    .unwrap_or((0, ""));
                out.extend_from_slice(b"{\"Timestamp\":");
                timestamp(out, span.start_time_unix_nano);
                out.extend_from_slice(b",\"TraceId\":");
                id(out, &span.trace_id);
                out.extend_from_slice(b",\"SpanId\":");
                id(out, &span.span_id);
                out.extend_from_slice(b",\"ParentSpanId\":");
                id(out, &span.parent_span_id);
                out.extend_from_slice(b",\"TraceState\":");
                string(out, &span.trace_state);
                out.extend_from_slice(b",\"SpanName\":");
                string(out, &span.name);
                write!(
                    out,
                    ",\"SpanKind\":\"{}\",\"ServiceName\":",
                    span_kind(span.kind)
                )
                .expect("write");
                string(out, &service_name);
                out.extend_from_slice(b",\"ResourceAttributes\":");
                map(out, resource_attributes);
                out.extend_from_slice(b",\"ScopeName\":");
                string(out, scope_name);
                out.extend_from_slice(b",\"ScopeVersion\":");
                string(out, scope_version);
                out.extend_from_slice(b",\"SpanAttributes\":");
                map(out, &span.attributes);
                write!(
                    out,
                    ",\"Duration\":{},\"StatusCode\":\"{}\",\"StatusMessage\":",
                    span.end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano),
                    status_code(code)
                )
                .expect("write");
                string(out, message);
                out.extend_from_slice(b",\"Events.Timestamp\":");
                array(out, &span.events, |out, event| {
                    timestamp(out, event.time_unix_nano)
                });
                out.extend_from_slice(b",\"Events.Name\":");
                array(out, &span.events, |out, event| string(out, &event.name));
                out.extend_from_slice(b",\"Events.Attributes\":");
                array(out, &span.events, |out, event| map(out, &event.attributes));
                out.extend_from_slice(b",\"Links.TraceId\":");
                array(out, &span.links, |out, link| id(out, &link.trace_id));
                out.extend_from_slice(b",\"Links.SpanId\":");
                array(out, &span.links, |out, link| id(out, &link.span_id));
                out.extend_from_slice(b",\"Links.TraceState\":");
                array(out, &span.links, |out, link| string(out, &link.trace_state));
                out.extend_from_slice(b",\"Links.Attributes\":");
                array(out, &span.links, |out, link| map(out, &link.attributes));
                out.extend_from_slice(b"}\n");
            }
        }
    }
}
