//! OTLP/protobuf traces: arbitrary bytes → `ExportTraceServiceRequest` (prost, as the gRPC
//! receiver and OTLP/HTTP protobuf decode) → `spans_from_otlp` (validation and conversion),
//! then back with `spans_to_otlp` for whatever was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sightline_store::otlp::{spans_from_otlp, spans_to_otlp};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ExportTraceServiceRequest::decode(data) else {
        return;
    };
    let decoded = spans_from_otlp(request);
    let spans_in_batch: usize = decoded
        .batch
        .resources
        .iter()
        .flat_map(|resource| &resource.scopes)
        .map(|scope| scope.spans.len())
        .sum();
    assert_eq!(decoded.accepted_spans, spans_in_batch, "accepted_spans counts the batch");
    let _ = spans_to_otlp(&decoded.batch);
});
