//! Exponential histograms in a sparse form that can be downscaled and added, and their
//! conversion to classic cumulative buckets.
//!
//! At scale `s` the base is `2^(2^-s)`; positive bucket `i` holds values in
//! `(base^i, base^(i+1)]` and negative bucket `i` values in `[-base^(i+1), -base^i)`.
//! Downscaling by `n` merges buckets: index `i` becomes `i >> n` (floor division, which is
//! right for negative indexes too).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// The finest scale kept: the spec asks for downscaling to Prometheus' native-histogram
/// schemas (at most 8), which also keeps the classic bucket count down.
pub(crate) const MAX_SCALE: i32 = 8;

/// Buckets kept per sign: a histogram that spans more is downscaled until it fits. The
/// OpenTelemetry SDKs' default maximum size is the same, so their histograms fit as sent.
pub(crate) const MAX_BUCKETS_PER_SIGN: i64 = 160;

/// The scales the OTLP proto allows (`scale` comment in `metrics.proto`).
const VALID_SCALES: std::ops::RangeInclusive<i32> = -10..=20;

/// An exponential histogram point in sparse form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExponentialBuckets {
    pub(crate) scale: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) zero_count: u64,
    /// Bucket index → count; zero counts of the dense input are kept so that the bucket
    /// layout (and so the `le` series) stays the same from point to point.
    pub(crate) positive: BTreeMap<i64, u64>,
    pub(crate) negative: BTreeMap<i64, u64>,
    pub(crate) count: u64,
    pub(crate) sum: Option<f64>,
}

/// Why an exponential histogram point cannot be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExponentialError {
    /// The scale is outside the range the proto allows.
    Scale(i32),
    /// The zero threshold is negative or not a number.
    ZeroThreshold,
}

impl ExponentialBuckets {
    /// Reads a point, downscaled to at most [`MAX_SCALE`] and [`MAX_BUCKETS_PER_SIGN`].
    pub(crate) fn from_otlp(
        point: &ExponentialHistogramDataPoint,
    ) -> Result<Self, ExponentialError> {
        if !VALID_SCALES.contains(&point.scale) {
            return Err(ExponentialError::Scale(point.scale));
        }
        if point.zero_threshold.is_nan() || point.zero_threshold < 0.0 {
            return Err(ExponentialError::ZeroThreshold);
        }
        let mut buckets = Self {
            scale: point.scale,
            zero_threshold: point.zero_threshold,
            zero_count: point.zero_count,
            positive: dense_to_sparse(point.positive.as_ref()),
            negative: dense_to_sparse(point.negative.as_ref()),
            count: point.count,
            sum: point.sum,
        };
        buckets.fit();
        Ok(buckets)
    }

    /// Adds another point (a delta) to this one, at the coarser of the two scales. Returns
    /// `false`, leaving `self` unchanged, when the zero thresholds differ (a layout change).
    pub(crate) fn add(&mut self, other: &Self) -> bool {
        if self.zero_threshold.to_bits() != other.zero_threshold.to_bits() {
            return false;
        }
        let mut other = other.clone();
        let scale = self.scale.min(other.scale);
        self.downscale_to(scale);
        other.downscale_to(scale);
        for (index, count) in other.positive {
            *self.positive.entry(index).or_default() += count;
        }
        for (index, count) in other.negative {
            *self.negative.entry(index).or_default() += count;
        }
        self.zero_count += other.zero_count;
        self.count += other.count;
        self.sum = self.sum.zip(other.sum).map(|(a, b)| a + b);
        self.fit();
        true
    }

    /// Converts to classic buckets: `(upper bound, cumulative count)` in ascending bound order,
    /// without `+Inf` (whose count is [`ExponentialBuckets::count`]).
    ///
    /// Negative buckets come first (most negative first, bound `-base^i`), then the zero
    /// bucket (bound `zero_threshold`, always present), then positive buckets (bound
    /// `base^(i+1)`). A bound that is not finite or not above the previous one (an overflow at
    /// extreme scales, or a positive bucket inside the zero threshold) is not emitted; its
    /// count is carried into the next bound, as cumulative counts allow.
    pub(crate) fn to_classic(&self) -> Vec<(f64, u64)> {
        let mut classic = Vec::with_capacity(self.positive.len() + self.negative.len() + 1);
        let mut cumulative = 0u64;
        let mut push = |bound: f64, count: u64, classic: &mut Vec<(f64, u64)>| {
            cumulative = cumulative.saturating_add(count);
            let above_previous = classic.last().is_none_or(|(last, _)| bound > *last);
            if bound.is_finite() && above_previous {
                classic.push((bound, cumulative));
            } else if let Some(last) = classic.last_mut().filter(|_| bound.is_finite()) {
                last.1 = cumulative;
            }
        };
        for (&index, &count) in self.negative.iter().rev() {
            push(-self.power(index), count, &mut classic);
        }
        push(self.zero_threshold, self.zero_count, &mut classic);
        for (&index, &count) in &self.positive {
            push(self.power(index + 1), count, &mut classic);
        }
        classic
    }

    /// `base^exponent` at this scale, computed as `2^(exponent / 2^scale)`.
    fn power(&self, exponent: i64) -> f64 {
        if self.scale <= 0 {
            // Exact powers of two; i32 exponents far beyond f64's range saturate to inf or 0.
            let shifted = exponent.saturating_mul(1i64 << (-self.scale));
            let clamped = shifted.clamp(-2000, 2000) as i32;
            2f64.powi(clamped)
        } else {
            (exponent as f64 / f64::from(1u32 << self.scale)).exp2()
        }
    }

    /// Downscales to at most [`MAX_SCALE`], then until each sign spans at most
    /// [`MAX_BUCKETS_PER_SIGN`] buckets.
    fn fit(&mut self) {
        if self.scale > MAX_SCALE {
            self.downscale_to(MAX_SCALE);
        }
        while span(&self.positive).max(span(&self.negative)) > MAX_BUCKETS_PER_SIGN {
            self.downscale_to(self.scale - 1);
        }
    }

    fn downscale_to(&mut self, scale: i32) {
        if scale >= self.scale {
            return;
        }
        let by = u32::try_from(self.scale - scale)
            .unwrap_or(u32::MAX)
            .min(63);
        self.positive = merge_down(std::mem::take(&mut self.positive), by);
        self.negative = merge_down(std::mem::take(&mut self.negative), by);
        self.scale = scale;
    }
}

fn dense_to_sparse(buckets: Option<&Buckets>) -> BTreeMap<i64, u64> {
    let Some(buckets) = buckets else {
        return BTreeMap::new();
    };
    buckets
        .bucket_counts
        .iter()
        .enumerate()
        .map(|(position, count)| (i64::from(buckets.offset) + position as i64, *count))
        .collect()
}

fn merge_down(buckets: BTreeMap<i64, u64>, by: u32) -> BTreeMap<i64, u64> {
    let mut merged = BTreeMap::new();
    for (index, count) in buckets {
        *merged.entry(index >> by).or_default() += count;
    }
    merged
}

fn span(buckets: &BTreeMap<i64, u64>) -> i64 {
    match (buckets.first_key_value(), buckets.last_key_value()) {
        (Some((first, _)), Some((last, _))) => last - first + 1,
        _ => 0,
    }
}
