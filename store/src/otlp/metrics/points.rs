//! One OTLP data point of each type → samples: gauges and sums, explicit and exponential
//! histograms (as classic buckets), summaries. Delta points go through the translator's
//! [`DeltaToCumulative`](super::DeltaToCumulative) first.

use opentelemetry_proto::tonic::metrics::v1 as proto_metrics;
use sightline_model::{Labels, METRIC_NAME_LABEL};

use super::batch::ClassicHistogram;
use super::delta::{DeltaValue, ExplicitHistogram};
use super::exponential::ExponentialBuckets;
use super::naming::format_float;
use super::{
    family_labels, nanos_to_millis, stale_nan, Family, PointRejection, Translator,
    NO_RECORDED_VALUE,
};

impl Translator<'_> {
    pub(super) fn number(
        &mut self,
        family: &Family,
        labels: Labels,
        point: proto_metrics::NumberDataPoint,
    ) -> Result<(), PointRejection> {
        use proto_metrics::number_data_point::Value;
        let stale = point.flags & NO_RECORDED_VALUE != 0;
        let value = match point.value {
            _ if stale => stale_nan(),
            Some(Value::AsDouble(value)) => value,
            Some(Value::AsInt(value)) => value as f64,
            None => return Err(PointRejection::MissingValue),
        };
        let mut labels = labels;
        labels.set(METRIC_NAME_LABEL, family.name.clone());
        let value = if family.delta && !stale {
            match self.accumulate(&labels, &point, DeltaValue::Sum(value))? {
                DeltaValue::Sum(total) => total,
                _ => value,
            }
        } else {
            value
        };
        let timestamp_ms = nanos_to_millis(point.time_unix_nano);
        let exemplars = self.exemplars(family, point.exemplars, timestamp_ms);
        self.batch.push(labels, timestamp_ms, value, exemplars);
        Ok(())
    }

    pub(super) fn histogram(
        &mut self,
        family: &Family,
        labels: Labels,
        point: proto_metrics::HistogramDataPoint,
    ) -> Result<(), PointRejection> {
        let (bounds, counts) = (&point.explicit_bounds, &point.bucket_counts);
        if !(counts.is_empty() && bounds.is_empty()) && counts.len() != bounds.len() + 1 {
            return Err(PointRejection::BucketCountMismatch {
                buckets: counts.len(),
                bounds: bounds.len(),
            });
        }
        let increasing = bounds.windows(2).all(|pair| pair[0] < pair[1]);
        if !increasing || bounds.iter().any(|bound| bound.is_nan()) {
            return Err(PointRejection::InvalidBucketBounds);
        }
        let mut histogram = ExplicitHistogram {
            bounds: point.explicit_bounds.clone(),
            bucket_counts: point.bucket_counts.clone(),
            count: point.count,
            sum: point.sum,
        };
        let stale = point.flags & NO_RECORDED_VALUE != 0;
        if family.delta && !stale {
            let key = family_labels(&labels, family);
            if let DeltaValue::Histogram(total) =
                self.accumulate(&key, &point, DeltaValue::Histogram(histogram.clone()))?
            {
                histogram = total;
            }
        }
        // The last bucket (above the last bound) is `+Inf`, whose count is `count`.
        let mut cumulative = 0u64;
        let classic: Vec<(f64, u64)> = histogram
            .bounds
            .iter()
            .zip(&histogram.bucket_counts)
            .map(|(bound, count)| {
                cumulative = cumulative.saturating_add(*count);
                (*bound, cumulative)
            })
            // A `+Inf` explicit bound would repeat the `+Inf` bucket, which `count` already is.
            .filter(|(bound, _)| *bound != f64::INFINITY)
            .collect();
        let timestamp_ms = nanos_to_millis(point.time_unix_nano);
        let exemplars = self.exemplars(family, point.exemplars, timestamp_ms);
        let sample = ClassicHistogram {
            buckets: &classic,
            count: histogram.count,
            sum: histogram.sum,
            stale,
        };
        self.batch
            .push_histogram(&family.name, &labels, timestamp_ms, &sample, exemplars);
        Ok(())
    }

    pub(super) fn exponential_histogram(
        &mut self,
        family: &Family,
        labels: Labels,
        point: proto_metrics::ExponentialHistogramDataPoint,
    ) -> Result<(), PointRejection> {
        let mut buckets = ExponentialBuckets::from_otlp(&point)?;
        let stale = point.flags & NO_RECORDED_VALUE != 0;
        if family.delta && !stale {
            let key = family_labels(&labels, family);
            if let DeltaValue::Exponential(total) =
                self.accumulate(&key, &point, DeltaValue::Exponential(buckets.clone()))?
            {
                buckets = total;
            }
        }
        let classic = buckets.to_classic();
        let timestamp_ms = nanos_to_millis(point.time_unix_nano);
        let exemplars = self.exemplars(family, point.exemplars, timestamp_ms);
        let sample = ClassicHistogram {
            buckets: &classic,
            count: buckets.count,
            sum: buckets.sum,
            stale,
        };
        self.batch
            .push_histogram(&family.name, &labels, timestamp_ms, &sample, exemplars);
        Ok(())
    }

    pub(super) fn summary(
        &mut self,
        family: &Family,
        labels: Labels,
        point: proto_metrics::SummaryDataPoint,
    ) -> Result<(), PointRejection> {
        let mut quantiles = point.quantile_values;
        if let Some(bad) = quantiles
            .iter()
            .find(|q| !(0.0..=1.0).contains(&q.quantile))
        {
            return Err(PointRejection::InvalidQuantile(bad.quantile));
        }
        quantiles.sort_by(|a, b| a.quantile.total_cmp(&b.quantile));
        let stale = point.flags & NO_RECORDED_VALUE != 0;
        let value = |value: f64| if stale { stale_nan() } else { value };
        let timestamp_ms = nanos_to_millis(point.time_unix_nano);
        for quantile in quantiles {
            let mut series = labels.clone();
            series.set("quantile", format_float(quantile.quantile));
            series.set(METRIC_NAME_LABEL, family.name.clone());
            self.batch
                .push(series, timestamp_ms, value(quantile.value), Vec::new());
        }
        for (suffix, sample) in [("_sum", point.sum), ("_count", point.count as f64)] {
            let mut series = labels.clone();
            series.set(METRIC_NAME_LABEL, format!("{}{suffix}", family.name));
            self.batch
                .push(series, timestamp_ms, value(sample), Vec::new());
        }
        Ok(())
    }
}
