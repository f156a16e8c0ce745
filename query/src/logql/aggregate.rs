//! Vector aggregations over one step's samples: `sum`, `avg`, `min`, `max`, `count`,
//! `stddev`, `stdvar` (per group of `by`/`without` labels), and `topk`/`bottomk` (which keep
//! the samples' own labels, as in Prometheus).

use std::collections::BTreeMap;

use sightline_model::Labels;

use super::ast::{Grouping, VectorOp};
use super::eval::{group_labels, Sample};

/// Aggregates one step's samples.
pub fn aggregate(
    op: VectorOp,
    grouping: Option<&Grouping>,
    parameter: Option<usize>,
    samples: Vec<Sample>,
) -> Vec<Sample> {
    let mut groups: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for (labels, value) in samples {
        groups
            .entry(group_labels(&labels, grouping))
            .or_default()
            .push((labels, value));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (group, mut members) in groups {
        match op {
            VectorOp::Topk | VectorOp::Bottomk => {
                let k = parameter.unwrap_or(1);
                members.sort_by(|a, b| {
                    let order = a.1.total_cmp(&b.1);
                    if op == VectorOp::Topk {
                        order.reverse()
                    } else {
                        order
                    }
                });
                members.truncate(k);
                out.extend(members);
            }
            _ => {
                let values: Vec<f64> = members.iter().map(|(_, v)| *v).collect();
                out.push((group, reduce(op, &values)));
            }
        }
    }
    out
}

/// Reduces a non-empty group's values.
fn reduce(op: VectorOp, values: &[f64]) -> f64 {
    let count = values.len() as f64;
    let sum: f64 = values.iter().sum();
    match op {
        VectorOp::Sum => sum,
        VectorOp::Avg => sum / count,
        VectorOp::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        VectorOp::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        VectorOp::Count => count,
        VectorOp::Stdvar | VectorOp::Stddev => {
            let mean = sum / count;
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
            if op == VectorOp::Stddev {
                variance.sqrt()
            } else {
                variance
            }
        }
        VectorOp::Topk | VectorOp::Bottomk => sum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Sample> {
        vec![
            (Labels::new([("app", "a"), ("level", "error")]), 4.0),
            (Labels::new([("app", "a"), ("level", "info")]), 2.0),
            (Labels::new([("app", "b"), ("level", "info")]), 6.0),
        ]
    }

    #[test]
    fn grouped_reductions() {
        let by_app = Grouping::By(vec!["app".into()]);
        let sum = aggregate(VectorOp::Sum, Some(&by_app), None, samples());
        assert_eq!(
            sum,
            [
                (Labels::new([("app", "a")]), 6.0),
                (Labels::new([("app", "b")]), 6.0)
            ]
        );
        let without = Grouping::Without(vec!["app".into()]);
        let count = aggregate(VectorOp::Count, Some(&without), None, samples());
        assert_eq!(count[1], (Labels::new([("level", "info")]), 2.0));
        assert_eq!(aggregate(VectorOp::Avg, None, None, samples())[0].1, 4.0);
        assert_eq!(aggregate(VectorOp::Min, None, None, samples())[0].1, 2.0);
        assert_eq!(aggregate(VectorOp::Max, None, None, samples())[0].1, 6.0);
        let stdvar = aggregate(VectorOp::Stdvar, None, None, samples())[0].1;
        assert!((stdvar - 8.0 / 3.0).abs() < 1e-9);
        let stddev = aggregate(VectorOp::Stddev, None, None, samples())[0].1;
        assert!((stddev - stdvar.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn topk_keeps_sample_labels() {
        let top = aggregate(VectorOp::Topk, None, Some(2), samples());
        assert_eq!(top.iter().map(|s| s.1).collect::<Vec<_>>(), [6.0, 4.0]);
        assert_eq!(top[0].0.get("app"), Some("b"));
        let by_app = Grouping::By(vec!["app".into()]);
        let bottom = aggregate(VectorOp::Bottomk, Some(&by_app), Some(1), samples());
        assert_eq!(bottom.iter().map(|s| s.1).collect::<Vec<_>>(), [2.0, 6.0]);
    }
}
