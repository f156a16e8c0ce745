//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over classic histograms (series of cumulative `le` buckets), ported
//! from Prometheus' `BucketQuantile`. Native histograms are not supported.

use std::collections::HashMap;

use crate::promql::aggregate::format_go_float;
use crate::promql::value::{Labels, Sample, Vector, METRIC_NAME_LABEL};
use crate::promql::Error;

/// The bucket label of classic histograms.
const BUCKET_LABEL: &str = "le";

/// Differences between adjacent cumulative counts this small (relative) are float noise.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Groups classic bucket samples by their labels minus `le` (the metric name is removed
/// from the result, but distinct names stay distinct groups, as in Prometheus). Samples
/// whose `le` is missing or not a number are ignored.
fn group_buckets(vector: Vector) -> Vec<(Labels, Vec<(f64, f64)>)> {
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for sample in vector {
        let Some(upper_bound) = sample.labels.get(BUCKET_LABEL).and_then(parse_go_float) else {
            continue;
        };
        let mut key = sample.labels;
        key.remove(BUCKET_LABEL);
        match index.get(&key) {
            Some(&i) => groups[i].1.push((upper_bound, sample.value)),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![(upper_bound, sample.value)]));
            }
        }
    }
    for (labels, _) in &mut groups {
        labels.remove(METRIC_NAME_LABEL);
    }
    groups
}

/// `histogram_quantile(q, buckets)`: one result per bucket group.
pub(crate) fn histogram_quantile(q: f64, vector: Vector, timestamp_ms: i64) -> Vector {
    group_buckets(vector)
        .into_iter()
        .map(|(labels, buckets)| Sample::new(labels, timestamp_ms, bucket_quantile(q, buckets)))
        .collect()
}

/// `histogram_quantiles(buckets, label, q…)`: one result per group and quantile, the
/// quantile written into `label`.
///
/// # Errors
/// When a group already has `label`.
pub(crate) fn histogram_quantiles(
    vector: Vector,
    label: &str,
    quantiles: &[f64],
    timestamp_ms: i64,
) -> Result<Vector, Error> {
    let mut out = Vec::new();
    for (labels, buckets) in group_buckets(vector) {
        if labels.get(label).is_some() {
            return Err(Error::execution(format!(
                "label {label:?} already exists on the input series"
            )));
        }
        for q in quantiles {
            let mut labels = labels.clone();
            labels.set(label, format_quantile_label(*q));
            out.push(Sample::new(
                labels,
                timestamp_ms,
                bucket_quantile(*q, buckets.clone()),
            ));
        }
    }
    Ok(out)
}

/// Formats a quantile as a label value with at least one decimal (`0.0`, `1.0`, `0.25`).
fn format_quantile_label(q: f64) -> String {
    let text = format_go_float(q);
    if text.contains(['.', 'e', 'N', 'I']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// `histogram_fraction(lower, upper, buckets)`: the estimated share of observations between
/// the bounds, per group.
pub(crate) fn histogram_fraction(
    lower: f64,
    upper: f64,
    vector: Vector,
    timestamp_ms: i64,
) -> Vector {
    group_buckets(vector)
        .into_iter()
        .map(|(labels, buckets)| {
            Sample::new(labels, timestamp_ms, bucket_fraction(lower, upper, buckets))
        })
        .collect()
}

/// Prometheus' `BucketFraction`: interpolates linearly inside the buckets holding the bounds.
fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some((bound, _)) if *bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut buckets = coalesce_buckets(buckets);
    ensure_monotonic(&mut buckets);
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    for (i, &(upper_bound, bucket_count)) in buckets.iter().enumerate() {
        let lower_bound = match i {
            0 if upper_bound > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => buckets[i - 1].0,
        };
        // An infinitely wide bucket is not interpolated: its observations count as lying
        // at its infinite end, so a bound inside it takes none of them.
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                bucket_count
            } else if upper_bound == f64::INFINITY {
                rank
            } else {
                rank + (bucket_count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if lower_rank.is_none() && lower_bound >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lower_bound >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_none() && lower_bound < lower && upper_bound > lower {
            lower_rank = Some(interpolate(lower));
        }
        if upper_rank.is_none() && lower_bound < upper && upper_bound > upper {
            upper_rank = Some(interpolate(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = bucket_count;
    }
    let lower_rank = lower_rank.map_or(count, |r: f64| r.min(count));
    let upper_rank = upper_rank.map_or(count, |r: f64| r.min(count));
    (upper_rank - lower_rank) / count
}

/// Parses a float as Go's `strconv.ParseFloat` does for bucket bounds.
fn parse_go_float(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// The `q`-quantile of cumulative buckets `(upper bound, count)`, interpolating linearly
/// inside the bucket that holds the rank.
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some((bound, _)) if *bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut buckets = coalesce_buckets(buckets);
    ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last].partition_point(|(_, count)| *count < rank);
    if b == last {
        return buckets[last - 1].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut bucket_start, bucket_end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        bucket_start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Merges buckets with the same upper bound by adding their counts.
fn coalesce_buckets(buckets: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (bound, count) in buckets {
        match out.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => out.push((bound, count)),
        }
    }
    out
}

/// Forces counts to be non-decreasing and irons out float noise between neighbours.
fn ensure_monotonic(buckets: &mut [(f64, f64)]) {
    let Some(&(_, mut previous)) = buckets.first() else {
        return;
    };
    for bucket in buckets.iter_mut().skip(1) {
        let current = bucket.1;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) || current < previous {
            bucket.1 = previous;
            continue;
        }
        previous = current;
    }
}

/// Prometheus' `almost.Equal`: relative difference below `epsilon`, special values exact.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_inside_the_bucket() {
        let buckets = vec![(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 20.0)];
        assert_eq!(bucket_quantile(0.5, buckets.clone()), 1.0);
        assert_eq!(bucket_quantile(0.75, buckets.clone()), 1.5);
        assert_eq!(bucket_quantile(1.0, buckets), 2.0);
        assert!(bucket_quantile(0.5, vec![(1.0, 1.0)]).is_nan());
    }
}
