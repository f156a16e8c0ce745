//! Metric samples in Prometheus' data model, the form every metric source is translated to
//! before the store sees it: OTLP metrics (by the OpenTelemetry → Prometheus compatibility
//! rules), Prometheus remote write, and the metrics Sightline derives from spans and probes.
//!
//! A [`MetricBatch`] holds float series ([`SeriesSamples`]: [`Labels`] with `__name__`, and
//! `(timestamp, value)` [`MetricSample`]s), the [`MetricMetadata`] of the metric families
//! they belong to, and [`Exemplar`]s that link a sample to a trace.

use serde::{Deserialize, Serialize};

use crate::ids::{SpanId, TraceId};
use crate::labels::Labels;

/// One float sample of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The value; Prometheus' staleness marker is a NaN with a special bit pattern.
    pub value: f64,
}

/// A sample with the trace it came from, as OTLP exemplars and Prometheus exemplars carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    /// The exemplar's own labels (filtered attributes, and `trace_id`/`span_id` in hex as
    /// Prometheus shows them).
    pub labels: Labels,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The measured value.
    pub value: f64,
    /// The trace the measurement was taken in, if any.
    pub trace_id: Option<TraceId>,
    /// The span the measurement was taken in, if any.
    pub span_id: Option<SpanId>,
}

/// One series with new samples (sorted by time) and exemplars.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SeriesSamples {
    /// The series' identity, `__name__` included.
    pub labels: Labels,
    /// Samples sorted by timestamp.
    pub samples: Vec<MetricSample>,
    /// Exemplars attached to this series (for a histogram, to its `_bucket` series).
    pub exemplars: Vec<Exemplar>,
}

/// A metric family's type, as the Prometheus HTTP API's `metadata` endpoint names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum MetricType {
    /// A monotonic sum (`_total`).
    Counter,
    /// A value that goes up and down (an OTLP gauge, or a non-monotonic sum).
    Gauge,
    /// Classic buckets (`_bucket{le}`, `_sum`, `_count`).
    Histogram,
    /// Precomputed quantiles (`{quantile}`, `_sum`, `_count`).
    Summary,
    /// A series whose labels carry information (`target_info`).
    Info,
    /// Anything else.
    #[default]
    Unknown,
}

impl MetricType {
    /// The name Prometheus' API uses: `counter`, `gauge`, `histogram`, `summary`, `info`,
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::Unknown => "unknown",
        }
    }
}

/// What is known about a metric family besides its samples.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct MetricMetadata {
    /// The family's name: the series' `__name__` without `_bucket`/`_sum`/`_count` (but with
    /// `_total` for counters, as Prometheus 3 reports it).
    pub metric_family: String,
    /// Its type.
    pub metric_type: MetricType,
    /// Its description.
    pub help: String,
    /// Its unit, in Prometheus' words (`seconds`, `bytes`), empty when unknown.
    pub unit: String,
}

/// Samples to append, as one request brought them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricBatch {
    /// The series and their new samples. One label set may appear more than once.
    pub series: Vec<SeriesSamples>,
    /// Metadata of the families the series belong to.
    pub metadata: Vec<MetricMetadata>,
}

impl MetricBatch {
    /// Returns the number of samples in the batch.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|series| series.samples.len()).sum()
    }

    /// Says whether the batch holds no samples, exemplars or metadata.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty()
            && self
                .series
                .iter()
                .all(|series| series.samples.is_empty() && series.exemplars.is_empty())
    }
}
