//! The values a PromQL expression evaluates to: [`Labels`], [`Sample`], [`Series`] and
//! [`Value`], plus the staleness marker the store writes when a series disappears.

use std::fmt;

/// The label that holds a series' metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

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

/// A series' label set: name/value pairs sorted by name, names unique, no empty values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Builds a label set from pairs in any order; later duplicates win and empty values are
    /// dropped, as Prometheus treats an empty value as an absent label.
    pub fn new<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut labels = Labels::default();
        for (name, value) in pairs {
            labels.set(&name.into(), value.into());
        }
        labels
    }

    /// Returns the value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Returns the metric name (`__name__`), if set.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME_LABEL)
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: String) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name.to_string(), value)),
        }
    }

    /// Removes `name` if set.
    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            self.0.remove(i);
        }
    }

    /// Returns a copy without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        let mut labels = self.clone();
        labels.remove(METRIC_NAME_LABEL);
        labels
    }

    /// Keeps only the labels for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(name, _)| keep(name));
    }

    /// Iterates over the pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Returns the number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Says whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Labels {
    /// Formats as `name{a="1", b="2"}`, the way Prometheus prints a series.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (name, value) in self.iter().filter(|(n, _)| *n != METRIC_NAME_LABEL) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
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
    fn labels_stay_sorted_and_drop_empty_values() {
        let mut labels = Labels::new([("b", "2"), ("a", "1"), ("__name__", "m"), ("c", "")]);
        assert_eq!(labels.len(), 3);
        assert_eq!(labels.to_string(), r#"m{a="1", b="2"}"#);
        labels.set("a", String::new());
        assert_eq!(labels.get("a"), None);
        assert_eq!(labels.without_metric_name().to_string(), r#"{b="2"}"#);
    }

    #[test]
    fn only_the_marker_bit_pattern_is_stale() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }
}
