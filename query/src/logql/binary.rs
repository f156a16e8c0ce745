//! Binary operators between metric expressions, step by step: arithmetic and comparisons
//! (with `bool`) between scalars and vectors, vectors matched one to one by labels.

use std::collections::BTreeMap;

use sightline_model::Labels;

use super::ast::BinaryOp;
use super::eval::Sample;

/// A node's value at every step.
pub(crate) enum StepValues {
    /// One number per step.
    Scalars(Vec<f64>),
    /// One vector per step.
    Vectors(Vec<Vec<Sample>>),
}

/// Applies a binary operator step by step: scalar with scalar, a vector's samples with a
/// scalar, or two vectors' samples with identical labels (one to one). A comparison keeps the
/// left sample where it holds (the right one for `scalar op vector`), or with `bool` answers
/// 0 or 1 for every pair.
pub(crate) fn binary(
    op: BinaryOp,
    return_bool: bool,
    left: StepValues,
    right: StepValues,
) -> StepValues {
    let filter = op.is_comparison() && !return_bool;
    let pair = |l: f64, r: f64, kept: f64| -> Option<f64> {
        let value = op.apply(l, r);
        if filter {
            (value == 1.0).then_some(kept)
        } else {
            Some(value)
        }
    };
    match (left, right) {
        (StepValues::Scalars(l), StepValues::Scalars(r)) => {
            StepValues::Scalars(l.into_iter().zip(r).map(|(l, r)| op.apply(l, r)).collect())
        }
        (StepValues::Vectors(vectors), StepValues::Scalars(scalars)) => StepValues::Vectors(
            vectors
                .into_iter()
                .zip(scalars)
                .map(|(vector, r)| {
                    vector
                        .into_iter()
                        .filter_map(|(labels, l)| pair(l, r, l).map(|v| (labels, v)))
                        .collect()
                })
                .collect(),
        ),
        (StepValues::Scalars(scalars), StepValues::Vectors(vectors)) => StepValues::Vectors(
            vectors
                .into_iter()
                .zip(scalars)
                .map(|(vector, l)| {
                    vector
                        .into_iter()
                        .filter_map(|(labels, r)| pair(l, r, r).map(|v| (labels, v)))
                        .collect()
                })
                .collect(),
        ),
        (StepValues::Vectors(lefts), StepValues::Vectors(rights)) => StepValues::Vectors(
            lefts
                .into_iter()
                .zip(rights)
                .map(|(left, right)| {
                    let right: BTreeMap<Labels, f64> = right.into_iter().collect();
                    left.into_iter()
                        .filter_map(|(labels, l)| {
                            let r = *right.get(&labels)?;
                            pair(l, r, l).map(|v| (labels, v))
                        })
                        .collect()
                })
                .collect(),
        ),
    }
}
