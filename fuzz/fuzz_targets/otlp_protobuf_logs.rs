//! OTLP/protobuf logs: arbitrary bytes → `ExportLogsServiceRequest` (prost) →
//! `logs_from_otlp`, then back with `logs_to_otlp` for whatever was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use sightline_store::otlp::logs::{logs_from_otlp, logs_to_otlp};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ExportLogsServiceRequest::decode(data) else {
        return;
    };
    let decoded = logs_from_otlp(request);
    let _ = logs_to_otlp(&decoded.batch);
});
