//! The range functions over one window of a series: the entries (or unwrapped values) with
//! times in `(t - offset - range, t - offset]`, as `(timestamp ns, value)` points in time
//! order. A value is a line's byte length, or the unwrapped label's value.

use super::ast::RangeOp;

/// Moves a series' window to `(lower, upper]`; `cursor` is (first point in the window,
/// first point past it). Steps ascend, so both ends only move forward.
pub(crate) fn slide<'a>(
    points: &'a [(u64, f64)],
    cursor: &mut (usize, usize),
    lower: u64,
    upper: u64,
) -> &'a [(u64, f64)] {
    let (from, to) = cursor;
    while *to < points.len() && points[*to].0 <= upper {
        *to += 1;
    }
    while *from < *to && points[*from].0 <= lower {
        *from += 1;
    }
    points.get(*from..*to).unwrap_or_default()
}

/// Applies a range function to a window; `None` for an empty window (no sample), as in
/// Loki. `unwrapped` says whether the values came from `| unwrap` (then `rate` is their sum
/// per second, not the entry count per second); `phi` is `quantile_over_time`'s.
pub(crate) fn range_value(
    op: RangeOp,
    window: &[(u64, f64)],
    range_nanos: u64,
    unwrapped: bool,
    phi: Option<f64>,
) -> Option<f64> {
    let (&(_, first), &(_, last)) = (window.first()?, window.last()?);
    let count = window.len() as f64;
    let sum = || window.iter().map(|(_, v)| v).sum::<f64>();
    let seconds = range_nanos as f64 / 1e9;
    Some(match op {
        RangeOp::CountOverTime | RangeOp::AbsentOverTime => count,
        RangeOp::Rate if unwrapped => sum() / seconds,
        RangeOp::Rate => count / seconds,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::BytesRate => sum() / seconds,
        RangeOp::AvgOverTime => sum() / count,
        RangeOp::MinOverTime => window.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min),
        RangeOp::MaxOverTime => window
            .iter()
            .map(|(_, v)| *v)
            .fold(f64::NEG_INFINITY, f64::max),
        RangeOp::StdvarOverTime | RangeOp::StddevOverTime => {
            let mean = sum() / count;
            let variance = window.iter().map(|(_, v)| (v - mean).powi(2)).sum::<f64>() / count;
            if op == RangeOp::StddevOverTime {
                variance.sqrt()
            } else {
                variance
            }
        }
        RangeOp::QuantileOverTime => quantile(phi.unwrap_or(0.5), window),
        RangeOp::FirstOverTime => first,
        RangeOp::LastOverTime => last,
    })
}

/// The φ-quantile of the values, interpolating linearly between the closest ranks (as
/// Prometheus' and Loki's `quantile_over_time`); below 0 is -Inf, above 1 is +Inf.
fn quantile(phi: f64, window: &[(u64, f64)]) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    let mut values: Vec<f64> = window.iter().map(|(_, v)| *v).collect();
    values.sort_by(f64::total_cmp);
    let rank = phi * (values.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = (lower + 1).min(values.len() - 1);
    let weight = rank - rank.floor();
    let (Some(&low), Some(&high)) = (values.get(lower), values.get(upper)) else {
        return f64::NAN;
    };
    low * (1.0 - weight) + high * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn windows_slide_forward() {
        let points: Vec<(u64, f64)> = (1..=6).map(|t| (t * SECOND, t as f64)).collect();
        let mut cursor = (0, 0);
        assert_eq!(slide(&points, &mut cursor, 0, 2 * SECOND).len(), 2);
        let window = slide(&points, &mut cursor, 2 * SECOND, 5 * SECOND);
        assert_eq!(window.first().map(|p| p.1), Some(3.0));
        assert_eq!(window.len(), 3);
        assert!(slide(&points, &mut cursor, 9 * SECOND, 10 * SECOND).is_empty());
    }

    #[test]
    fn range_functions() {
        let window: Vec<(u64, f64)> = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64, *v))
            .collect();
        let value = |op, phi| range_value(op, &window, 4 * SECOND, true, phi).unwrap();
        assert_eq!(value(RangeOp::CountOverTime, None), 8.0);
        assert_eq!(value(RangeOp::SumOverTime, None), 40.0);
        assert_eq!(value(RangeOp::Rate, None), 10.0);
        assert_eq!(
            range_value(RangeOp::Rate, &window, 4 * SECOND, false, None),
            Some(2.0)
        );
        assert_eq!(value(RangeOp::AvgOverTime, None), 5.0);
        assert_eq!(value(RangeOp::MinOverTime, None), 2.0);
        assert_eq!(value(RangeOp::MaxOverTime, None), 9.0);
        assert_eq!(value(RangeOp::StdvarOverTime, None), 4.0);
        assert_eq!(value(RangeOp::StddevOverTime, None), 2.0);
        assert_eq!(value(RangeOp::FirstOverTime, None), 2.0);
        assert_eq!(value(RangeOp::LastOverTime, None), 9.0);
        assert_eq!(value(RangeOp::QuantileOverTime, Some(0.5)), 4.5);
        assert_eq!(value(RangeOp::QuantileOverTime, Some(1.0)), 9.0);
        assert_eq!(value(RangeOp::QuantileOverTime, Some(2.0)), f64::INFINITY);
        assert_eq!(
            range_value(RangeOp::SumOverTime, &[], SECOND, true, None),
            None
        );
    }
}
