//! [`Labels`]: a metric series' identity, name/value pairs sorted by name, as Prometheus
//! keeps them.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The label that holds a series' metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// A series' label set: name/value pairs sorted by name, names unique, no empty values.
///
/// Shared: a clone is a reference count, and a change copies the pairs only when they are
/// shared (the PromQL evaluator clones label sets at every step of a range query).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Labels(Arc<Vec<(String, String)>>);

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
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) => Arc::make_mut(&mut self.0)[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, (name.to_string(), value)),
        }
    }

    /// Removes `name` if set.
    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Arc::make_mut(&mut self.0).remove(i);
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
        if self.0.iter().any(|(name, _)| !keep(name)) {
            Arc::make_mut(&mut self.0).retain(|(name, _)| keep(name));
        }
    }

    /// Identifies this set's shared storage: equal for clones of one set (and only while one
    /// of them lives), so a cache can recognise a label set it has seen without hashing it.
    pub fn storage_id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
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
}
