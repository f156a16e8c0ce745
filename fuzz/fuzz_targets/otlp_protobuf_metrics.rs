//! OTLP/protobuf metrics: arbitrary bytes → `ExportMetricsServiceRequest` (prost) →
//! `metrics_from_otlp` (naming, histograms, exponential histograms, summaries, delta →
//! cumulative), with a fresh delta accumulator per input so every run is reproducible.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use sightline_model::TenantId;
use sightline_store::otlp::metrics::{
    metrics_from_otlp, DeltaToCumulative, DeltaToCumulativeConfig,
};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ExportMetricsServiceRequest::decode(data) else {
        return;
    };
    let tenant = TenantId::new(TenantId::DEFAULT).expect("the default tenant id is valid");
    let deltas = DeltaToCumulative::new(DeltaToCumulativeConfig {
        max_streams: 64,
        ..DeltaToCumulativeConfig::default()
    });
    let _ = metrics_from_otlp(request, &tenant, &deltas);
});
