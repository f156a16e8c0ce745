//! OTLP/JSON logs: arbitrary bytes → `ExportLogsServiceRequest` through serde_json (the
//! collector's OTLP/HTTP JSON decoding) → `logs_from_otlp`, then back with `logs_to_otlp` for
//! whatever was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use sightline_store::otlp::logs::{logs_from_otlp, logs_to_otlp};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ExportLogsServiceRequest>(data) else {
        return;
    };
    let decoded = logs_from_otlp(request);
    let _ = logs_to_otlp(&decoded.batch);
});
