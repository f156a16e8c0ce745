//! Span metrics, as Tempo's `span-metrics` processor and Jaeger's SPM derive them: for every
//! span, one call and one duration observation in the series of its service, span name, span
//! kind, status code and configured dimensions.
//!
//! Series: `traces_span_metrics_calls_total` (counter) and
//! `traces_span_metrics_duration_seconds` (`_bucket{le}`, `_sum`, `_count`), labelled
//! `service` (`service.name`), `span_name`, `span_kind` (`SPAN_KIND_SERVER`, …), `status_code`
//! (`STATUS_CODE_OK`, `STATUS_CODE_ERROR`, `STATUS_CODE_UNSET`), `job` and `instance` (from
//! the resource, by the OpenTelemetry → Prometheus rules: `service.namespace/service.name` and
//! `service.instance.id`), then one label per dimension. A dimension is looked up on the span's
//! attributes, then on its resource's; a missing one leaves its label out. Exemplars (trace
//! and span id, duration) go on the bucket the duration fell in.

use std::borrow::Cow;
use std::sync::Arc;

use hashbrown::DefaultHashBuilder;
use sightline_model::{
    attr::find, AnyValue, MetricMetadata, MetricType, SpanBatch, SpanKind, StatusCode,
};
use sightline_store::otlp::metrics::naming::sanitize_label_name;

use super::series::{
    base_labels, bucket_names, BatchTable, Emit, ExemplarSlot, FlushedSeries, Histogram,
    HistogramDelta, KeyRef, SampleWriter,
};

/// The call counter.
pub(crate) const CALLS: &str = "traces_span_metrics_calls_total";
/// The duration histogram's family name.
pub(crate) const DURATION: &str = "traces_span_metrics_duration_seconds";
/// Labels every span-metrics series has (empty ones are left out), in key order.
pub(crate) const INTRINSIC_LABELS: [&str; 6] = [
    "service",
    "span_name",
    "span_kind",
    "status_code",
    "job",
    "instance",
];
/// Family bit: calls and duration are always written together.
const FAMILY: u8 = 1;

/// The span-metrics processor's settings: label names and bucket bounds.
pub(crate) struct SpanMetrics {
    /// The intrinsic labels, then one per dimension.
    label_names: Vec<String>,
    /// The attribute key of each dimension, in label order.
    dimension_keys: Vec<String>,
    bounds: Arc<[f64]>,
    bucket_names: Vec<String>,
}

impl SpanMetrics {
    /// Builds the processor for valid `dimensions` (see
    /// [`check_dimensions`](super::check_dimensions)) and ascending `bounds`.
    pub(crate) fn new(dimensions: &[String], bounds: Arc<[f64]>) -> Self {
        let mut label_names: Vec<String> = INTRINSIC_LABELS
            .iter()
            .map(|name| name.to_string())
            .collect();
        let mut dimension_keys = Vec::with_capacity(dimensions.len());
        for key in dimensions {
            if let Some(name) = sanitize_label_name(key) {
                label_names.push(name);
                dimension_keys.push(key.clone());
            }
        }
        let bucket_names = bucket_names(&bounds);
        Self {
            label_names,
            dimension_keys,
            bounds,
            bucket_names,
        }
    }

    /// Prometheus series one label set makes: the counter, the buckets with `+Inf`, `_sum`
    /// and `_count`.
    pub(crate) fn series_per_entry(&self) -> usize {
        1 + self.bucket_names.len() + 2
    }

    /// Returns a new, empty histogram over this processor's buckets.
    pub(crate) fn new_histogram(&self) -> Histogram {
        Histogram::new(self.bounds.len())
    }

    /// Aggregates the spans of one export by series. Per span: label values borrowed from the
    /// span and its resource, one hash, one table probe; a series' labels are copied only the
    /// first time the export touches it, and its observations kept as a [`HistogramDelta`]
    /// (no bucket array per series per export).
    pub(crate) fn prepare(
        &self,
        hasher: &DefaultHashBuilder,
        batch: &SpanBatch,
    ) -> BatchTable<HistogramDelta> {
        let mut table = BatchTable::default();
        for resource_spans in &batch.resources {
            let resource = &resource_spans.resource;
            let service = resource.service_name();
            let job: Cow<'_, str> = match find(&resource.attributes, "service.namespace")
                .map(AnyValue::as_text)
                .filter(|namespace| !namespace.is_empty())
            {
                Some(namespace) => Cow::Owned(format!("{namespace}/{service}")),
                None => Cow::Borrowed(service),
            };
            let instance = find(&resource.attributes, "service.instance.id")
                .map(AnyValue::as_text)
                .unwrap_or_default();
            let resource_dimensions: Vec<Cow<'_, str>> = self
                .dimension_keys
                .iter()
                .map(|key| {
                    find(&resource.attributes, key)
                        .map(AnyValue::as_text)
                        .unwrap_or_default()
                })
                .collect();
            let mut values: Vec<Cow<'_, str>> = Vec::with_capacity(self.label_names.len());
            for span in resource_spans.scopes.iter().flat_map(|scope| &scope.spans) {
                values.clear();
                values.extend([
                    Cow::Borrowed(service),
                    Cow::Borrowed(span.name.as_str()),
                    Cow::Borrowed(kind_label(span.kind)),
                    Cow::Borrowed(status_label(span.status_code)),
                    Cow::Borrowed(&*job),
                    Cow::Borrowed(&*instance),
                ]);
                for (key, from_resource) in self.dimension_keys.iter().zip(&resource_dimensions) {
                    values.push(match find(&span.attributes, key) {
                        Some(value) => value.as_text(),
                        None => Cow::Borrowed(&**from_resource),
                    });
                }
                let key = KeyRef::new(hasher, &values);
                let seconds = span.duration_nanos() as f64 / 1e9;
                let exemplar = ExemplarSlot {
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    value: seconds,
                    timestamp_ms: (span.end_time_unix_nano / 1_000_000) as i64,
                };
                table.get_or_insert(&key, HistogramDelta::default).observe(
                    &self.bounds,
                    seconds,
                    exemplar,
                );
            }
        }
        table
    }

    /// Takes what a flush writes of one series, and which families.
    pub(crate) fn snapshot(histogram: &mut Histogram) -> (Histogram, u8) {
        (histogram.take_snapshot(), FAMILY)
    }

    /// Writes the flushed series (and the families' metadata) into `writer`.
    pub(crate) fn write(&self, flushed: &[FlushedSeries<Histogram>], writer: &mut SampleWriter) {
        if flushed.is_empty() {
            return;
        }
        writer.metadata(MetricMetadata {
            metric_family: CALLS.to_string(),
            metric_type: MetricType::Counter,
            help: "Spans received, by service, span name, span kind and status code.".to_string(),
            unit: String::new(),
        });
        writer.metadata(MetricMetadata {
            metric_family: DURATION.to_string(),
            metric_type: MetricType::Histogram,
            help: "Span durations, by service, span name, span kind and status code.".to_string(),
            unit: "seconds".to_string(),
        });
        for series in flushed {
            let base = base_labels(&self.label_names, &series.values);
            let emit = Emit::of(series, FAMILY);
            writer.counter(&base, CALLS, series.snapshot.count, emit);
            writer.histogram(&base, DURATION, &self.bucket_names, &series.snapshot, emit);
        }
    }
}

/// Tempo's `span_kind` values (OTLP's enum names).
pub(crate) fn kind_label(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// Tempo's `status_code` values (OTLP's enum names).
pub(crate) fn status_label(status: StatusCode) -> &'static str {
    match status {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}
