//! Functions over range vectors: `rate`, `increase`, `delta` (with Prometheus'
//! extrapolation), `irate`, `idelta`, `deriv`, `predict_linear`, `resets`, `changes` and the
//! `*_over_time` family.

use promql_parser::parser::Expr;

use super::math::{go_max, go_min, kahan_sum_inc, linear_regression, quantile, MeanAccumulator};
use crate::promql::aggregate::variance;
use crate::promql::engine::duration_ms;
use crate::promql::eval::Evaluator;
use crate::promql::value::{Sample, Series, Vector};
use crate::promql::Error;

/// The window `(start, end]` a range argument covers at `timestamp_ms`.
pub(crate) fn range_window(
    evaluator: &Evaluator<'_>,
    expr: &Expr,
    timestamp_ms: i64,
) -> Result<(i64, i64), Error> {
    let (at, offset, range) = match expr {
        Expr::MatrixSelector(selector) => (&selector.vs.at, &selector.vs.offset, selector.range),
        Expr::Subquery(subquery) => (&subquery.at, &subquery.offset, subquery.range),
        Expr::Paren(paren) => return range_window(evaluator, &paren.expr, timestamp_ms),
        _ => {
            return Err(Error::execution(
                "expected a range vector selector or subquery",
            ))
        }
    };
    let end_ms = evaluator.reference_time_ms(at, offset, timestamp_ms);
    Ok((end_ms.saturating_sub(duration_ms(range)), end_ms))
}

/// Applies `per_series` to every series of the range argument; series for which it returns
/// `None` are left out. `keep_name` says whether the metric name survives.
pub(crate) fn over_series(
    matrix: Vec<Series>,
    timestamp_ms: i64,
    keep_name: bool,
    mut per_series: impl FnMut(&[(i64, f64)]) -> Option<f64>,
) -> Vector {
    let mut out = Vec::with_capacity(matrix.len());
    for series in matrix {
        if let Some(value) = per_series(&series.points) {
            out.push(Sample {
                labels: series.labels,
                timestamp_ms,
                value,
                drop_name: series.drop_name || !keep_name,
            });
        }
    }
    out
}

/// A range function that takes nothing but its range argument and computes one value per
/// series from the samples in the window: what the per-step evaluator and the series-by-series
/// sweep (`crate::promql::sweep`) both apply, so that they agree to the bit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowFunction {
    kind: WindowKind,
    /// Whether the metric name survives (`last_over_time`, `first_over_time`).
    pub(crate) keeps_name: bool,
}

/// Resolved once, so the per-window call does not compare names.
#[derive(Debug, Clone, Copy)]
enum WindowKind {
    /// `rate`, `increase` or `delta`.
    Extrapolated {
        is_counter: bool,
        is_rate: bool,
    },
    /// `irate` or `idelta`.
    Instant {
        is_rate: bool,
    },
    Deriv,
    /// One of [`simple_over_time`]'s.
    Simple(&'static str),
}

impl WindowFunction {
    /// The function called `name`, if it is one.
    pub(crate) fn named(name: &'static str) -> Option<Self> {
        let kind = match name {
            "rate" | "increase" | "delta" => WindowKind::Extrapolated {
                is_counter: name != "delta",
                is_rate: name == "rate",
            },
            "irate" | "idelta" => WindowKind::Instant {
                is_rate: name == "irate",
            },
            "deriv" => WindowKind::Deriv,
            "last_over_time"
            | "first_over_time"
            | "sum_over_time"
            | "avg_over_time"
            | "count_over_time"
            | "min_over_time"
            | "max_over_time"
            | "present_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "mad_over_time"
            | "ts_of_first_over_time"
            | "ts_of_last_over_time"
            | "ts_of_max_over_time"
            | "ts_of_min_over_time"
            | "resets"
            | "changes" => WindowKind::Simple(name),
            _ => return None,
        };
        let keeps_name = matches!(name, "last_over_time" | "first_over_time");
        Some(Self { kind, keeps_name })
    }

    /// The value over `points` (not empty, no staleness markers), the samples in the window
    /// `(start, end]`; `None` leaves the series out.
    pub(crate) fn apply(&self, points: &[(i64, f64)], window: (i64, i64)) -> Option<f64> {
        match self.kind {
            WindowKind::Extrapolated {
                is_counter,
                is_rate,
            } => extrapolated_rate(points, window, is_counter, is_rate),
            WindowKind::Instant { is_rate } => instant_value(points, is_rate),
            WindowKind::Deriv => deriv(points),
            WindowKind::Simple(name) => simple_over_time(name, points).flatten(),
        }
    }

    /// Whether telling [`WindowFunction::apply_sliding`] of resets saves work: the function
    /// corrects for counter resets (`rate`, `increase`).
    pub(crate) fn corrects_resets(&self) -> bool {
        matches!(
            self.kind,
            WindowKind::Extrapolated {
                is_counter: true,
                ..
            }
        )
    }

    /// [`WindowFunction::apply`] for one series' windows in turn, as a sweep slides them:
    /// `has_resets` false when the caller knows no sample is below its predecessor (the
    /// function then does not look for counter resets), and `cache` reusing what consecutive
    /// windows share (the same result, to the bit).
    pub(crate) fn apply_sliding(
        &self,
        points: &[(i64, f64)],
        window: (i64, i64),
        has_resets: bool,
        cache: &mut WindowCache,
    ) -> Option<f64> {
        match self.kind {
            WindowKind::Extrapolated {
                is_counter,
                is_rate,
            } => extrapolated_rate_with(
                points,
                window,
                (is_counter, is_rate),
                is_counter && has_resets,
                cache,
            ),
            _ => self.apply(points, window),
        }
    }
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated towards its
/// edges as Prometheus' `extrapolatedRate` does.
pub(crate) fn extrapolated_rate(
    points: &[(i64, f64)],
    window: (i64, i64),
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    extrapolated_rate_with(
        points,
        window,
        (is_counter, is_rate),
        is_counter,
        &mut WindowCache::default(),
    )
}

/// What consecutive windows of a series share: regular samples sit at the same offsets in
/// every window, so their extrapolation's durations and factor (four dependent divisions)
/// are computed once.
#[derive(Debug, Default)]
pub(crate) struct WindowCache {
    last: Option<(ExtrapolationKey, Extrapolation)>,
}

/// Where the samples sit in a window: the first one's offset from its start, the last one's
/// from its end, the window's length (all in ms) and the number of samples, which with
/// whether the function is `rate` is all an [`Extrapolation`] depends on (the times are whole
/// milliseconds below 2^53, so the differences the formula takes in floating point are
/// these, exactly).
type ExtrapolationKey = (i64, i64, i64, usize, bool);

/// The parts of `extrapolatedRate` that depend only on where the samples sit in the window.
#[derive(Debug, Clone, Copy)]
struct Extrapolation {
    duration_to_start: f64,
    duration_to_end: f64,
    sampled_interval: f64,
    /// The factor the change is multiplied by (divided by the window's seconds for `rate`),
    /// unless extrapolating towards zero shortens the start.
    factor: f64,
}

impl Extrapolation {
    fn new(
        (first_ms, last_ms): (i64, i64),
        samples: usize,
        (range_start_ms, range_end_ms): (i64, i64),
        is_rate: bool,
    ) -> Self {
        let mut duration_to_start = (first_ms as f64 - range_start_ms as f64) / 1000.0;
        let mut duration_to_end = (range_end_ms as f64 - last_ms as f64) / 1000.0;
        let sampled_interval = (last_ms as f64 - first_ms as f64) / 1000.0;
        let average_between_samples = sampled_interval / (samples - 1) as f64;
        let threshold = average_between_samples * 1.1;
        if duration_to_start >= threshold {
            duration_to_start = average_between_samples / 2.0;
        }
        if duration_to_end >= threshold {
            duration_to_end = average_between_samples / 2.0;
        }
        let mut extrapolation = Extrapolation {
            duration_to_start,
            duration_to_end,
            sampled_interval,
            factor: 0.0,
        };
        extrapolation.factor =
            extrapolation.factor_from(duration_to_start, (range_start_ms, range_end_ms), is_rate);
        extrapolation
    }

    fn factor_from(
        &self,
        duration_to_start: f64,
        (start_ms, end_ms): (i64, i64),
        is_rate: bool,
    ) -> f64 {
        let mut factor = (self.sampled_interval + duration_to_start + self.duration_to_end)
            / self.sampled_interval;
        if is_rate {
            factor /= (end_ms as f64 - start_ms as f64) / 1000.0;
        }
        factor
    }
}

/// [`extrapolated_rate`], told whether to look for counter resets: `check_resets` false when
/// the caller knows no sample is below its predecessor (the result is then the same).
fn extrapolated_rate_with(
    points: &[(i64, f64)],
    window: (i64, i64),
    (is_counter, is_rate): (bool, bool),
    check_resets: bool,
    cache: &mut WindowCache,
) -> Option<f64> {
    let (range_start_ms, range_end_ms) = window;
    let (&(first_ms, first), &(last_ms, last)) = (points.first()?, points.last()?);
    if points.len() < 2 {
        return None;
    }
    let mut result = last - first;
    if is_counter && check_resets {
        let mut previous = first;
        for &(_, value) in &points[1..] {
            if value < previous {
                result += previous;
            }
            previous = value;
        }
    }
    let key = (
        first_ms - range_start_ms,
        range_end_ms - last_ms,
        range_end_ms - range_start_ms,
        points.len(),
        is_rate,
    );
    let extrapolation = match cache.last {
        Some((cached, extrapolation)) if cached == key => extrapolation,
        _ => {
            let extrapolation =
                Extrapolation::new((first_ms, last_ms), points.len(), window, is_rate);
            cache.last = Some((key, extrapolation));
            extrapolation
        }
    };
    if is_counter && result > 0.0 && first >= 0.0 {
        let duration_to_zero = extrapolation.sampled_interval * (first / result);
        if duration_to_zero < extrapolation.duration_to_start {
            return Some(result * extrapolation.factor_from(duration_to_zero, window, is_rate));
        }
    }
    Some(result * extrapolation.factor)
}

/// `irate` and `idelta`: from the last two samples.
pub(crate) fn instant_value(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    let [.., (previous_ms, previous), (last_ms, last)] = points else {
        return None;
    };
    let mut result = if is_rate && last < previous {
        *last
    } else {
        last - previous
    };
    if last_ms == previous_ms {
        return None;
    }
    if is_rate {
        result /= (*last_ms as f64 - *previous_ms as f64) / 1000.0;
    }
    Some(result)
}

/// Evaluates the simple `*_over_time` functions and the counters of changes; `None` means
/// the name is not one of them.
pub(crate) fn simple_over_time(name: &str, points: &[(i64, f64)]) -> Option<Option<f64>> {
    let values = || points.iter().map(|(_, v)| *v);
    let first = points.first().map(|(_, v)| *v)?;
    Some(match name {
        "sum_over_time" => {
            let (sum, c) = values().fold((0.0, 0.0), |(s, c), v| kahan_sum_inc(v, s, c));
            Some(sum + c)
        }
        "avg_over_time" => {
            let mut mean = MeanAccumulator::default();
            values().for_each(|v| mean.add(v));
            Some(mean.mean())
        }
        "count_over_time" => Some(points.len() as f64),
        "min_over_time" => {
            Some(values().fold(
                first,
                |acc, v| {
                    if v < acc || acc.is_nan() {
                        v
                    } else {
                        acc
                    }
                },
            ))
        }
        "max_over_time" => {
            Some(values().fold(
                first,
                |acc, v| {
                    if v > acc || acc.is_nan() {
                        v
                    } else {
                        acc
                    }
                },
            ))
        }
        "last_over_time" => points.last().map(|(_, v)| *v),
        "first_over_time" => Some(first),
        "present_over_time" => Some(1.0),
        "stddev_over_time" => Some(variance(&values().collect::<Vec<_>>()).sqrt()),
        "stdvar_over_time" => Some(variance(&values().collect::<Vec<_>>())),
        "ts_of_first_over_time" => points.first().map(|(t, _)| *t as f64 / 1000.0),
        "ts_of_last_over_time" => points.last().map(|(t, _)| *t as f64 / 1000.0),
        "ts_of_max_over_time" => Some(timestamp_of_extreme(points, |v, best| v >= best)),
        "ts_of_min_over_time" => Some(timestamp_of_extreme(points, |v, best| v <= best)),
        "mad_over_time" => {
            let all: Vec<f64> = values().collect();
            if all.iter().any(|v| v.is_nan()) {
                return Some(Some(f64::NAN));
            }
            let median = quantile(0.5, all.clone());
            Some(quantile(
                0.5,
                all.iter().map(|v| (v - median).abs()).collect(),
            ))
        }
        "resets" => {
            let mut previous = first;
            let mut resets = 0.0;
            for value in values().skip(1) {
                if value < previous {
                    resets += 1.0;
                }
                previous = value;
            }
            Some(resets)
        }
        "changes" => {
            let mut previous = first;
            let mut changes = 0.0;
            for value in values().skip(1) {
                if value != previous && !(value.is_nan() && previous.is_nan()) {
                    changes += 1.0;
                }
                previous = value;
            }
            Some(changes)
        }
        _ => return None,
    })
}

/// The timestamp (in seconds) of the last sample `better` prefers (NaN never wins unless
/// all are NaN).
fn timestamp_of_extreme(points: &[(i64, f64)], better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best: Option<(i64, f64)> = None;
    for &(t, v) in points {
        best = match best {
            None => Some((t, v)),
            Some((_, b)) if b.is_nan() && !v.is_nan() => Some((t, v)),
            Some((_, b)) if !v.is_nan() && better(v, b) => Some((t, v)),
            other => other,
        };
    }
    best.map_or(f64::NAN, |(t, _)| t as f64 / 1000.0)
}

/// `clamp(v, min, max)` with Go's NaN semantics.
pub(crate) fn clamp(value: f64, min: f64, max: f64) -> f64 {
    go_max(min, go_min(max, value))
}

/// `deriv`: the slope of the least-squares line, per second.
pub(crate) fn deriv(points: &[(i64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    Some(linear_regression(points, points[0].0).0)
}

/// `predict_linear`: the value the least-squares line predicts `seconds` after
/// `timestamp_ms`.
pub(crate) fn predict_linear(
    points: &[(i64, f64)],
    timestamp_ms: i64,
    seconds: f64,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(points, timestamp_ms);
    Some(slope * seconds + intercept)
}

/// `double_exponential_smoothing(v, smoothing_factor, trend_factor)` (Holt's linear method).
///
/// # Errors
/// When a factor is outside `(0, 1)`, with Prometheus' message.
pub(crate) fn double_exponential_smoothing(
    points: &[(i64, f64)],
    smoothing_factor: f64,
    trend_factor: f64,
) -> Result<Option<f64>, Error> {
    if smoothing_factor <= 0.0 || smoothing_factor >= 1.0 {
        return Err(Error::execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {smoothing_factor:.6}"
        )));
    }
    if trend_factor <= 0.0 || trend_factor >= 1.0 {
        return Err(Error::execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {trend_factor:.6}"
        )));
    }
    if points.len() < 2 {
        return Ok(None);
    }
    let (mut previous, mut smoothed) = (0.0, points[0].1);
    let mut trend = points[1].1 - points[0].1;
    for (i, &(_, value)) in points.iter().enumerate().skip(1) {
        if i > 1 {
            trend = trend_factor * (smoothed - previous) + (1.0 - trend_factor) * trend;
        }
        let next = smoothing_factor * value + (1.0 - smoothing_factor) * (smoothed + trend);
        previous = smoothed;
        smoothed = next;
    }
    Ok(Some(smoothed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached extrapolation gives the same bits as computing each window afresh,
    /// including windows whose counter starts near zero.
    #[test]
    fn cached_windows_equal_fresh_ones_bit_for_bit() {
        let points: Vec<(i64, f64)> = (0..400)
            .map(|i| {
                (
                    i * 15_000,
                    if i < 50 {
                        i as f64 * 0.5
                    } else {
                        (i * i) as f64
                    },
                )
            })
            .collect();
        let mut cache = WindowCache::default();
        for end in (300_000..6_000_000).step_by(60_000) {
            let window = (end - 300_000 - 7_000, end - 7_000);
            let from = points.partition_point(|(t, _)| *t <= window.0);
            let to = points.partition_point(|(t, _)| *t <= window.1);
            let slice = &points[from..to];
            for (is_counter, is_rate) in [(true, true), (true, false), (false, false)] {
                let fresh = extrapolated_rate(slice, window, is_counter, is_rate);
                let cached = extrapolated_rate_with(
                    slice,
                    window,
                    (is_counter, is_rate),
                    is_counter,
                    &mut cache,
                );
                assert_eq!(
                    fresh.map(f64::to_bits),
                    cached.map(f64::to_bits),
                    "{window:?}"
                );
            }
        }
    }
}
