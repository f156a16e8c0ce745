//! Numeric helpers shared by functions and aggregations, ported from Prometheus so results
//! agree to the last bit where it matters: Kahan–Neumaier summation, the overflow-safe
//! mean, quantiles and the linear regression behind `deriv`/`predict_linear`.

/// Adds `inc` to a Kahan–Neumaier sum, returning the new sum and compensation.
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, compensation: f64) -> (f64, f64) {
    let total = sum + inc;
    let compensation = if total.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        compensation + ((sum - total) + inc)
    } else {
        compensation + ((inc - total) + sum)
    };
    (total, compensation)
}

/// The mean of a stream of values: a compensated sum while it stays finite, an incremental
/// mean after it would overflow (Prometheus' `avg` and `avg_over_time`).
#[derive(Debug, Default, Clone)]
pub(crate) struct MeanAccumulator {
    count: f64,
    sum: f64,
    mean: f64,
    compensation: f64,
    incremental: bool,
}

impl MeanAccumulator {
    pub(crate) fn add(&mut self, value: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (sum, compensation) = kahan_sum_inc(value, self.sum, self.compensation);
            if self.count == 1.0 || !sum.is_infinite() {
                self.sum = sum;
                self.compensation = compensation;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.compensation /= self.count - 1.0;
        }
        if self.mean.is_infinite() {
            if value.is_infinite() && (self.mean > 0.0) == (value > 0.0) {
                return;
            }
            if !value.is_infinite() && !value.is_nan() {
                return;
            }
        }
        let corrected = self.mean + self.compensation;
        let (mean, compensation) = kahan_sum_inc(
            value / self.count - corrected / self.count,
            self.mean,
            self.compensation,
        );
        self.mean = mean;
        self.compensation = compensation;
    }

    pub(crate) fn mean(&self) -> f64 {
        if self.incremental {
            self.mean + self.compensation
        } else {
            self.sum / self.count + self.compensation / self.count
        }
    }
}

/// The `q`-quantile of `values` by linear interpolation between closest ranks, as
/// Prometheus' `quantile` (NaN sorts first).
pub(crate) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Least-squares slope and intercept of `points`, with x in seconds relative to
/// `intercept_time_ms` (Prometheus' `linearRegression`).
pub(crate) fn linear_regression(points: &[(i64, f64)], intercept_time_ms: i64) -> (f64, f64) {
    let Some(&(_, first)) = points.first() else {
        return (f64::NAN, f64::NAN);
    };
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let mut constant_y = true;
    for (i, &(t, y)) in points.iter().enumerate() {
        if constant_y && i > 0 && y != first {
            constant_y = false;
        }
        n += 1.0;
        let x = (t as f64 - intercept_time_ms as f64) / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(y, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * y, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if constant_y {
        if first.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2);
    let covariance_xy = sum_xy - sum_x * sum_y / n;
    let variance_x = sum_x2 - sum_x * sum_x / n;
    let slope = covariance_xy / variance_x;
    (slope, sum_y / n - slope * sum_x / n)
}

/// Go's `math.Max`: NaN wins, unlike `f64::max`.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins, unlike `f64::min`.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_sum_keeps_small_terms() {
        let values = [1e100, 1.0, -1e100];
        let (sum, c) = values
            .iter()
            .fold((0.0, 0.0), |(s, c), v| kahan_sum_inc(*v, s, c));
        assert_eq!(sum + c, 1.0);
    }

    #[test]
    fn quantile_interpolates_and_bounds() {
        assert_eq!(quantile(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(-1.0, vec![1.0]), f64::NEG_INFINITY);
        assert!(quantile(f64::NAN, vec![1.0]).is_nan());
    }

    #[test]
    fn mean_survives_overflow() {
        let mut mean = MeanAccumulator::default();
        mean.add(f64::MAX);
        mean.add(f64::MAX);
        assert_eq!(mean.mean(), f64::MAX);
    }

    #[test]
    fn regression_of_a_line() {
        let (slope, intercept) = linear_regression(&[(0, 1.0), (1000, 3.0), (2000, 5.0)], 0);
        assert!((slope - 2.0).abs() < 1e-12 && (intercept - 1.0).abs() < 1e-12);
    }
}
