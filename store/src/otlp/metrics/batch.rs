//! Collects translated samples into a [`MetricBatch`]: one series per label set (samples
//! sorted by time), classic histograms written as `_bucket`/`_sum`/`_count` series with their
//! exemplars on the right bucket, and one metadata entry per family.

use std::collections::{HashMap, HashSet};

use sightline_model::{
    Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, SeriesSamples, METRIC_NAME_LABEL,
};

use super::naming::format_float;
use super::stale_nan;

/// A classic histogram sample: `(bound, cumulative count)` without `+Inf`, the count (the
/// `+Inf` bucket), the sum, and whether the point is a staleness marker.
pub(super) struct ClassicHistogram<'a> {
    pub(super) buckets: &'a [(f64, u64)],
    pub(super) count: u64,
    pub(super) sum: Option<f64>,
    pub(super) stale: bool,
}

/// Collects samples into series (one per label set, samples sorted by time) and metadata
/// (one per family, the first seen).
#[derive(Default)]
pub(super) struct BatchBuilder {
    series: Vec<SeriesSamples>,
    index: HashMap<Labels, usize>,
    metadata: Vec<MetricMetadata>,
    families: HashSet<String>,
}

impl BatchBuilder {
    pub(super) fn push(
        &mut self,
        labels: Labels,
        timestamp_ms: i64,
        value: f64,
        exemplars: Vec<Exemplar>,
    ) {
        let sample = MetricSample {
            timestamp_ms,
            value,
        };
        let position = match self.index.get(&labels) {
            Some(position) => *position,
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(SeriesSamples {
                    labels,
                    ..SeriesSamples::default()
                });
                self.series.len() - 1
            }
        };
        let series = &mut self.series[position];
        series.samples.push(sample);
        series.exemplars.extend(exemplars);
    }

    /// Writes `_bucket{le}` series (each exemplar on the first bucket whose bound holds its
    /// value), `_sum` when known (or stale), and `_count`.
    pub(super) fn push_histogram(
        &mut self,
        family: &str,
        labels: &Labels,
        timestamp_ms: i64,
        histogram: &ClassicHistogram<'_>,
        exemplars: Vec<Exemplar>,
    ) {
        let value = |value: f64| if histogram.stale { stale_nan() } else { value };
        let buckets = histogram.buckets;
        let mut by_bucket: Vec<Vec<Exemplar>> = vec![Vec::new(); buckets.len() + 1];
        for exemplar in exemplars {
            let bucket = buckets
                .iter()
                .position(|(bound, _)| exemplar.value <= *bound)
                .unwrap_or(buckets.len());
            by_bucket[bucket].push(exemplar);
        }
        let bucket_name = format!("{family}_bucket");
        let bounds = buckets
            .iter()
            .map(|(bound, cumulative)| (format_float(*bound), *cumulative))
            .chain([("+Inf".to_string(), histogram.count)]);
        for ((le, cumulative), exemplars) in bounds.zip(by_bucket) {
            let mut series = labels.clone();
            series.set("le", le);
            series.set(METRIC_NAME_LABEL, bucket_name.clone());
            self.push(series, timestamp_ms, value(cumulative as f64), exemplars);
        }
        let sum = match (histogram.sum, histogram.stale) {
            (_, true) => Some(stale_nan()),
            (sum, false) => sum,
        };
        let count = Some(value(histogram.count as f64));
        for (suffix, sample) in [("_sum", sum), ("_count", count)] {
            if let Some(sample) = sample {
                let mut series = labels.clone();
                series.set(METRIC_NAME_LABEL, format!("{family}{suffix}"));
                self.push(series, timestamp_ms, sample, Vec::new());
            }
        }
    }

    pub(super) fn add_metadata(&mut self, metadata: MetricMetadata) {
        if self.families.insert(metadata.metric_family.clone()) {
            self.metadata.push(metadata);
        }
    }

    /// Sorts each series' samples by time; of samples with the same timestamp the last one
    /// received is kept.
    pub(super) fn finish(self) -> MetricBatch {
        let mut series = self.series;
        for one in &mut series {
            one.samples.sort_by_key(|sample| sample.timestamp_ms);
            let mut kept: Vec<MetricSample> = Vec::with_capacity(one.samples.len());
            for sample in one.samples.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.timestamp_ms == sample.timestamp_ms => *last = sample,
                    _ => kept.push(sample),
                }
            }
            one.samples = kept;
        }
        MetricBatch {
            series,
            metadata: self.metadata,
        }
    }
}
