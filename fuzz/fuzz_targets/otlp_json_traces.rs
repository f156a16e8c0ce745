//! OTLP/JSON traces: arbitrary bytes → `ExportTraceServiceRequest` through serde_json (the
//! spec's JSON mapping as `opentelemetry-proto`'s `with-serde` implements it, which is what the
//! collector's OTLP/HTTP JSON path uses) → `spans_from_otlp` → `spans_to_otlp`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use sightline_store::otlp::{spans_from_otlp, spans_to_otlp};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(data) else {
        return;
    };
    let decoded = spans_from_otlp(request);
    let _ = spans_to_otlp(&decoded.batch);
});
