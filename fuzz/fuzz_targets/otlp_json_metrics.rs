//! OTLP/JSON metrics: arbitrary bytes → `ExportMetricsServiceRequest` through serde_json (the
//! collector's OTLP/HTTP JSON decoding) → `metrics_from_otlp`, with a fresh delta accumulator
//! per input so every run is reproducible.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use sightline_model::TenantId;
use sightline_store::otlp::metrics::{
    metrics_from_otlp, DeltaToCumulative, DeltaToCumulativeConfig,
};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ExportMetricsServiceRequest>(data) else {
        return;
    };
    let tenant = TenantId::new(TenantId::DEFAULT).expect("the default tenant id is valid");
    let deltas = DeltaToCumulative::new(DeltaToCumulativeConfig {
        max_streams: 64,
        ..DeltaToCumulativeConfig::default()
    });
    let _ = metrics_from_otlp(request, &tenant, &deltas);
});
