//! The values a PromQL expression evaluates to: [`Labels`], [`Sample`], [`Series`] and
//! [`Value`], plus the staleness marker the store writes when a series disappears.

pub use sightline_model::labels::{Labels, METRIC_NAME_LABEL};

/// The bit pattern of the NaN Prometheus writes as a staleness marker. Any other NaN is an
/// ordinary value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Returns the staleness marker as an `f64`.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Says whether `value` is the staleness marker (not merely some NaN).
pub fn is_stale_nan(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// When the value holds, in milliseconds since the epoch (the evaluation time).
    pub timestamp_ms: i64,
    /// The value.
    pub value: f64,
    /// Set when an operation has dropped the metric name; the name is removed only when the
    /// query finishes, so `label_replace` can still read it (Prometheus' delayed name removal).
    pub(crate) drop_name: bool,
}

impl Sample {
    /// Builds a sample that keeps its metric name.
    pub fn new(labels: Labels, timestamp_ms: i64, value: f64) -> Self {
        Self {
            labels,
            timestamp_ms,
            value,
            drop_name: false,
        }
    }
}

/// One element of a range vector (or one series of a range query's result).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// `(timestamp in ms, value)` pairs sorted by time.
    pub points: Vec<(i64, f64)>,
    /// See [`Sample`]'s field of the same name.
    pub(crate) drop_name: bool,
}

impl Series {
    /// Builds a series that keeps its metric name.
    pub fn new(labels: Labels, points: Vec<(i64, f64)>) -> Self {
        Self {
            labels,
            points,
            drop_name: false,
        }
    }
}

/// An instant vector: at most one sample per label set.
pub type Vector = Vec<Sample>;

/// A range vector, or the result of a range query.
pub type Matrix = Vec<Series>;

/// What a query evaluates to, as Prometheus' four value types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single number, without labels.
    Scalar {
        /// The evaluation time in ms.
        timestamp_ms: i64,
        /// The number.
        value: f64,
    },
    /// A string literal.
    String(String),
    /// An instant vector.
    Vector(Vector),
    /// A range vector.
    Matrix(Matrix),
}

impl Value {
    /// Names the type as PromQL's error messages do (`scalar`, `string`, `instant vector`,
    /// `range vector`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "instant vector",
            Value::Matrix(_) => "range vector",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_marker_bit_pattern_is_stale() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }
}
