//! OTLP metrics → [`MetricBatch`] (Prometheus' data model), by the OpenTelemetry
//! "Prometheus and OpenMetrics Compatibility" specification
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/>) and
//! what Prometheus 3's own OTLP receiver does with its default translation strategy
//! (`UnderscoreEscapingWithSuffixes`).
//!
//! [`metrics_from_otlp`] is the entry point; the collector calls it after decoding protobuf
//! or JSON. What it produces:
//! - **Names and labels** ([`naming`]): sanitised, with unit and type suffixes; attributes
//!   become labels, colliding names joined with `;`.
//! - **Resource**: `job` = `service.namespace/service.name` (or `service.name`), `instance` =
//!   `service.instance.id`, on every series. The other resource attributes go to one
//!   `target_info` series (value 1, with `job` and `instance`) per resource that has any, at
//!   every timestamp the resource's points have, so that `* on (job, instance) group_left
//!   target_info` joins find it.
//! - **Scope**: `otel_scope_name` and `otel_scope_version` labels on every series.
//! - **Gauges** → gauges; **sums**: monotonic → counters (`_total`), others → gauges.
//! - **Histograms** → `_bucket{le}` (cumulative, ending with `+Inf` = count), `_sum` (when
//!   set), `_count`.
//! - **Exponential histograms** → classic buckets too, since the model has no native
//!   histograms: the point is downscaled to scale ≤ 8 and at most 160 buckets per sign, then
//!   each negative bucket `i` gives `le = -base^i` (most negative first), the zero bucket
//!   `le = zero_threshold` (always present, `"0"` for a zero threshold), and each positive
//!   bucket `i` gives `le = base^(i+1)`, before `+Inf`. Upper bounds are inclusive in
//!   Prometheus but exclusive for negative exponential buckets; the difference is only at
//!   exact bucket boundaries. When an SDK changes scale, the `le` values change and new
//!   bucket series start: `histogram_quantile` works per timestamp, but a `rate()` over a
//!   scale change sees the old buckets end and new ones begin.
//! - **Summaries** → `{quantile}` series, `_sum`, `_count`.
//! - **Delta** sums, histograms and exponential histograms → cumulative through a
//!   [`DeltaToCumulative`] the caller keeps between requests. (The spec drops delta
//!   non-monotonic sums and delta exponential histograms; both add up as well as the others,
//!   so they are converted too.)
//! - **`NoRecordedValue`** → Prometheus' staleness marker ([`STALE_NAN_BITS`]) on every
//!   series of the point. Timestamps are converted from nanoseconds to milliseconds.
//! - **Exemplars** on histograms and monotonic sums keep their trace and span ids (as
//!   [`Exemplar::trace_id`]/[`Exemplar::span_id`] and as `trace_id`/`span_id` hex labels)
//!   and their filtered attributes as labels (dropped when all labels would pass
//!   OpenMetrics' 128 characters). A histogram's exemplar goes to the `_bucket` series whose
//!   bound holds its value. Exemplars on other points are dropped, as the spec says.
//! - **[`MetricMetadata`]** per family: type, help (the description), unit in Prometheus'
//!   words (`seconds`, `bytes`).
//!
//! Not produced: `_created` series (Prometheus 3 does not write them either) and
//! `otel_scope_info`. A point that breaks a rule (see the reasons in [`DecodedMetrics`]) is
//! dropped and counted; the rest of the request is kept.
//!
//! Modules, in data-path order: [`naming`] (names, units, labels, values), `context`
//! (resource, scope and exemplar labels), `points` (one data point of each type → samples),
//! `delta` ([`DeltaToCumulative`]), `exponential` (exponential buckets → classic ones),
//! `batch` (samples → [`MetricBatch`]).

mod batch;
mod context;
mod delta;
mod exponential;
pub mod naming;
mod points;

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::metrics::v1 as proto_metrics;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use sightline_model::{
    Exemplar, Labels, MetricBatch, MetricMetadata, MetricType, TenantId, METRIC_NAME_LABEL,
};

use batch::BatchBuilder;
use context::{exemplar_from_otlp, PointContext, ResourceContext};
use delta::DeltaValue;
pub use delta::{DeltaToCumulative, DeltaToCumulativeConfig};
use exponential::ExponentialError;
use naming::{prometheus_metric_name, NameKind};

/// The bit pattern of Prometheus' staleness marker, a NaN that says "this series ended".
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The metric that carries resource attributes.
pub const TARGET_INFO: &str = "target_info";

/// OTLP's `DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK`.
const NO_RECORDED_VALUE: u32 = 1;
/// The `metadata` key that carries a Prometheus type through OTLP.
const PROMETHEUS_TYPE_KEY: &str = "prometheus.type";

/// The translated samples of an export request, with what was rejected and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecodedMetrics {
    /// The series, exemplars and family metadata to append.
    pub batch: MetricBatch,
    /// OTLP data points accepted (one point may become many samples).
    pub accepted_points: usize,
    /// OTLP data points rejected and dropped.
    pub rejected_points: usize,
    /// Rejected points per bounded reason label, for metrics: `empty_metric_name`,
    /// `unknown_data_type`, `unspecified_temporality`, `missing_value`, `missing_timestamp`,
    /// `bucket_count_mismatch`, `invalid_bucket_bounds`, `invalid_exponential_scale`,
    /// `invalid_zero_threshold`, `invalid_quantile`, `delta_out_of_order`.
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
    /// The first rejection, for OTLP's `partial_success.error_message`.
    pub first_rejection: Option<String>,
}

/// Returns Prometheus' staleness marker.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Why a data point was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum PointRejection {
    #[error("metric name is empty or has no valid character")]
    EmptyMetricName,
    #[error("metric has no data of a known type")]
    UnknownDataType,
    #[error("aggregation temporality is unspecified")]
    UnspecifiedTemporality,
    #[error("data point has no value")]
    MissingValue,
    #[error("data point has no timestamp")]
    MissingTimestamp,
    #[error(
        "{buckets} bucket counts for {bounds} explicit bounds: want one more count than bounds"
    )]
    BucketCountMismatch { buckets: usize, bounds: usize },
    #[error("explicit bounds are not strictly increasing numbers")]
    InvalidBucketBounds,
    #[error("exponential histogram scale {0} is outside -10..=20")]
    InvalidExponentialScale(i32),
    #[error("exponential histogram zero threshold is negative or not a number")]
    InvalidZeroThreshold,
    #[error("quantile {0} is outside 0..=1")]
    InvalidQuantile(f64),
    #[error("delta point ends before the start of its cumulative stream")]
    DeltaOutOfOrder,
}

impl PointRejection {
    /// A bounded label for metrics.
    fn reason_label(&self) -> &'static str {
        match self {
            PointRejection::EmptyMetricName => "empty_metric_name",
            PointRejection::UnknownDataType => "unknown_data_type",
            PointRejection::UnspecifiedTemporality => "unspecified_temporality",
            PointRejection::MissingValue => "missing_value",
            PointRejection::MissingTimestamp => "missing_timestamp",
            PointRejection::BucketCountMismatch { .. } => "bucket_count_mismatch",
            PointRejection::InvalidBucketBounds => "invalid_bucket_bounds",
            PointRejection::InvalidExponentialScale(_) => "invalid_exponential_scale",
            PointRejection::InvalidZeroThreshold => "invalid_zero_threshold",
            PointRejection::InvalidQuantile(_) => "invalid_quantile",
            PointRejection::DeltaOutOfOrder => "delta_out_of_order",
        }
    }
}

impl From<ExponentialError> for PointRejection {
    fn from(error: ExponentialError) -> Self {
        match error {
            ExponentialError::Scale(scale) => PointRejection::InvalidExponentialScale(scale),
            ExponentialError::ZeroThreshold => PointRejection::InvalidZeroThreshold,
        }
    }
}

/// Translates an OTLP export request for `tenant`, turning delta points into cumulative ones
/// with `deltas` (which the caller keeps for as long as the streams should add up).
///
/// Invalid points are dropped and counted in [`DecodedMetrics::rejected_points`], with the
/// first reason in [`DecodedMetrics::first_rejection`] (e.g. `metric 'http.server.duration'
/// point 2: 3 bucket counts for 3 explicit bounds: want one more count than bounds`).
pub fn metrics_from_otlp(
    request: ExportMetricsServiceRequest,
    tenant: &TenantId,
    deltas: &DeltaToCumulative,
) -> DecodedMetrics {
    let mut translator = Translator {
        tenant,
        deltas,
        decoded: DecodedMetrics::default(),
        batch: BatchBuilder::default(),
    };
    for resource_metrics in request.resource_metrics {
        let resource = ResourceContext::new(resource_metrics.resource);
        let mut timestamps = BTreeSet::new();
        for scope_metrics in resource_metrics.scope_metrics {
            let scope = scope_metrics.scope.unwrap_or_default();
            let scope_labels = [
                ("otel_scope_name".to_string(), scope.name),
                ("otel_scope_version".to_string(), scope.version),
            ];
            for metric in scope_metrics.metrics {
                let context = PointContext {
                    scope_labels: &scope_labels,
                    resource: &resource,
                };
                translator.translate_metric(metric, &context, &mut timestamps);
            }
        }
        translator.emit_target_info(&resource, &timestamps);
    }
    let Translator {
        mut decoded, batch, ..
    } = translator;
    decoded.batch = batch.finish();
    decoded
}

/// A metric's family name and how its points are read.
struct Family {
    name: String,
    otlp_name: String,
    delta: bool,
    keep_exemplars: bool,
}

struct Translator<'a> {
    tenant: &'a TenantId,
    deltas: &'a DeltaToCumulative,
    decoded: DecodedMetrics,
    batch: BatchBuilder,
}

impl Translator<'_> {
    fn translate_metric(
        &mut self,
        metric: proto_metrics::Metric,
        context: &PointContext<'_>,
        timestamps: &mut BTreeSet<i64>,
    ) {
        let Some(data) = metric.data else {
            self.reject(&metric.name, None, 1, PointRejection::UnknownDataType);
            return;
        };
        let prometheus_type = metric
            .metadata
            .iter()
            .find(|kv| kv.key == PROMETHEUS_TYPE_KEY)
            .map(|kv| naming::attribute_value_text(kv.value.as_ref()));
        let (kind, metric_type, temporality, points) = describe(&data, prometheus_type.as_deref());
        let name = prometheus_metric_name(&metric.name, &metric.unit, kind);
        let Some(name) = name.filter(|_| !metric.name.trim().is_empty()) else {
            let rejection = PointRejection::EmptyMetricName;
            self.reject(&metric.name, None, points.max(1), rejection);
            return;
        };
        let delta = match temporality {
            Some(proto_metrics::AggregationTemporality::Delta) => true,
            Some(proto_metrics::AggregationTemporality::Cumulative) | None => false,
            Some(proto_metrics::AggregationTemporality::Unspecified) => {
                let rejection = PointRejection::UnspecifiedTemporality;
                self.reject(&metric.name, None, points.max(1), rejection);
                return;
            }
        };
        let family = Family {
            name,
            otlp_name: metric.name,
            delta,
            keep_exemplars: matches!(metric_type, MetricType::Counter | MetricType::Histogram),
        };
        let accepted_before = self.decoded.accepted_points;
        match data {
            Data::Gauge(gauge) => self.translate_points(
                &family,
                context,
                gauge.data_points,
                timestamps,
                Self::number,
            ),
            Data::Sum(sum) => {
                self.translate_points(&family, context, sum.data_points, timestamps, Self::number)
            }
            Data::Histogram(histogram) => self.translate_points(
                &family,
                context,
                histogram.data_points,
                timestamps,
                Self::histogram,
            ),
            Data::ExponentialHistogram(histogram) => self.translate_points(
                &family,
                context,
                histogram.data_points,
                timestamps,
                Self::exponential_histogram,
            ),
            Data::Summary(summary) => self.translate_points(
                &family,
                context,
                summary.data_points,
                timestamps,
                Self::summary,
            ),
        }
        if self.decoded.accepted_points > accepted_before {
            self.batch.add_metadata(MetricMetadata {
                metric_family: family.name,
                metric_type,
                help: metric.description,
                unit: naming::prometheus_unit(&metric.unit),
            });
        }
    }

    /// Runs `translate` over the points (in time order for deltas, so that consecutive
    /// intervals line up), counting what is accepted and rejected.
    fn translate_points<P: DataPoint>(
        &mut self,
        family: &Family,
        context: &PointContext<'_>,
        points: Vec<P>,
        timestamps: &mut BTreeSet<i64>,
        translate: fn(&mut Self, &Family, Labels, P) -> Result<(), PointRejection>,
    ) {
        let mut points: Vec<(usize, P)> = points.into_iter().enumerate().collect();
        if family.delta {
            points.sort_by_key(|(_, point)| point.time_unix_nano());
        }
        for (index, point) in points {
            let time_unix_nano = point.time_unix_nano();
            let result = if time_unix_nano == 0 {
                Err(PointRejection::MissingTimestamp)
            } else {
                let labels = context.labels(point.attributes());
                translate(self, family, labels, point)
            };
            match result {
                Ok(()) => {
                    self.decoded.accepted_points += 1;
                    timestamps.insert(nanos_to_millis(time_unix_nano));
                }
                Err(rejection) => self.reject(&family.otlp_name, Some(index), 1, rejection),
            }
        }
    }

    /// Adds a delta point to its stream; the cumulative total, or a rejection when the point
    /// is older than the stream.
    fn accumulate<P: DataPoint>(
        &self,
        key: &Labels,
        point: &P,
        delta: DeltaValue,
    ) -> Result<DeltaValue, PointRejection> {
        self.deltas
            .accumulate(
                self.tenant,
                key,
                point.start_time_unix_nano(),
                point.time_unix_nano(),
                delta,
            )
            .ok_or(PointRejection::DeltaOutOfOrder)
    }

    fn exemplars(
        &self,
        family: &Family,
        exemplars: Vec<proto_metrics::Exemplar>,
        point_timestamp_ms: i64,
    ) -> Vec<Exemplar> {
        if !family.keep_exemplars {
            return Vec::new();
        }
        exemplars
            .into_iter()
            .filter_map(|exemplar| exemplar_from_otlp(exemplar, point_timestamp_ms))
            .collect()
    }

    fn emit_target_info(&mut self, resource: &ResourceContext, timestamps: &BTreeSet<i64>) {
        let Some(labels) = &resource.target_info else {
            return;
        };
        if timestamps.is_empty() {
            return;
        }
        for timestamp_ms in timestamps {
            self.batch
                .push(labels.clone(), *timestamp_ms, 1.0, Vec::new());
        }
        self.batch.add_metadata(MetricMetadata {
            metric_family: TARGET_INFO.to_string(),
            metric_type: MetricType::Info,
            help: "Target metadata".to_string(),
            unit: String::new(),
        });
    }

    fn reject(&mut self, metric: &str, index: Option<usize>, points: usize, why: PointRejection) {
        self.decoded.rejected_points += points;
        *self
            .decoded
            .rejected_by_reason
            .entry(why.reason_label())
            .or_default() += points;
        if self.decoded.first_rejection.is_none() {
            self.decoded.first_rejection = Some(match index {
                Some(index) => format!("metric '{metric}' point {index}: {why}"),
                None => format!("metric '{metric}': {why}"),
            });
        }
    }
}

/// Says what a metric becomes: its name kind, Prometheus type, temporality (for sums and
/// histograms) and number of points.
fn describe(
    data: &Data,
    prometheus_type: Option<&str>,
) -> (
    NameKind,
    MetricType,
    Option<proto_metrics::AggregationTemporality>,
    usize,
) {
    use proto_metrics::AggregationTemporality;
    let temporality =
        |value: i32| Some(AggregationTemporality::try_from(value).unwrap_or_default());
    match data {
        Data::Gauge(gauge) => {
            let metric_type = match prometheus_type {
                Some("unknown") => MetricType::Unknown,
                _ => MetricType::Gauge,
            };
            (NameKind::Gauge, metric_type, None, gauge.data_points.len())
        }
        Data::Sum(sum) => {
            let (kind, metric_type) = match (sum.is_monotonic, prometheus_type) {
                (true, _) => (NameKind::MonotonicCounter, MetricType::Counter),
                (false, Some("info")) => (NameKind::Other, MetricType::Info),
                (false, _) => (NameKind::Other, MetricType::Gauge),
            };
            let points = sum.data_points.len();
            (
                kind,
                metric_type,
                temporality(sum.aggregation_temporality),
                points,
            )
        }
        Data::Histogram(histogram) => (
            NameKind::Other,
            MetricType::Histogram,
            temporality(histogram.aggregation_temporality),
            histogram.data_points.len(),
        ),
        Data::ExponentialHistogram(histogram) => (
            NameKind::Other,
            MetricType::Histogram,
            temporality(histogram.aggregation_temporality),
            histogram.data_points.len(),
        ),
        Data::Summary(summary) => (
            NameKind::Other,
            MetricType::Summary,
            None,
            summary.data_points.len(),
        ),
    }
}

/// The labels of a histogram family (its stream identity): the point's labels and the
/// family name.
fn family_labels(labels: &Labels, family: &Family) -> Labels {
    let mut key = labels.clone();
    key.set(METRIC_NAME_LABEL, family.name.clone());
    key
}

fn nanos_to_millis(nanos: u64) -> i64 {
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// What every OTLP data point type has.
trait DataPoint {
    fn attributes(&self) -> &[proto_common::KeyValue];
    fn start_time_unix_nano(&self) -> u64;
    fn time_unix_nano(&self) -> u64;
}

macro_rules! data_point {
    ($($point:ty),*) => {$(
        impl DataPoint for $point {
            fn attributes(&self) -> &[proto_common::KeyValue] {
                &self.attributes
            }
            fn start_time_unix_nano(&self) -> u64 {
                self.start_time_unix_nano
            }
            fn time_unix_nano(&self) -> u64 {
                self.time_unix_nano
            }
        }
    )*};
}

data_point!(
    proto_metrics::NumberDataPoint,
    proto_metrics::HistogramDataPoint,
    proto_metrics::ExponentialHistogramDataPoint,
    proto_metrics::SummaryDataPoint
);

#[cfg(test)]
mod tests;
