//! Columnar span filtering shared by the head and by parts: cheap column filters first, and
//! the encoded attributes and resource decoded only for rows that pass them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, StringArray};
use sightline_model::attr::find;
use sightline_model::hot::{column_name, HOT_SPAN_ATTRIBUTES};
use sightline_model::{AnyValue, KeyValue, Resource, TraceId};

use super::schema::{columns, SpanColumns};
use crate::error::Error;
use crate::spans::SpanQuery;

/// How one query filters span batches.
pub struct ScanPlan<'q> {
    query: &'q SpanQuery,
    /// Attribute filters on hot columns: (column name, key, expected text).
    hot: Vec<(String, &'q str, &'q str)>,
    /// Attribute filters that need the encoded attributes: (key, expected text).
    cold: Vec<(&'q str, &'q str)>,
}

/// Says whether a typed value reads as `expected`, without allocating for strings.
pub fn value_reads_as(value: &AnyValue, expected: &str) -> bool {
    match value {
        AnyValue::String(text) => text == expected,
        other => other.to_text() == expected,
    }
}

impl<'q> ScanPlan<'q> {
    /// Plans the filters of `query`.
    pub fn new(query: &'q SpanQuery) -> Self {
        let mut hot = Vec::new();
        let mut cold = Vec::new();
        for (key, value) in &query.attributes {
            if HOT_SPAN_ATTRIBUTES.contains(&key.as_str()) {
                hot.push((column_name(key), key.as_str(), value.as_str()));
            } else {
                cold.push((key.as_str(), value.as_str()));
            }
        }
        Self { query, hot, cold }
    }

    /// Returns the columns a scan must read.
    pub fn columns(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            columns::TRACE_ID,
            columns::START,
            columns::DURATION,
            columns::SERVICE,
            columns::NAME,
            columns::KIND,
            columns::STATUS,
        ]
        .iter()
        .map(|name| name.to_string())
        .collect();
        names.extend(self.hot.iter().map(|(column, _, _)| column.clone()));
        if !self.cold.is_empty() {
            names.push("attributes".to_string());
        }
        if !self.query.attributes.is_empty() {
            names.push("resource".to_string());
        }
        names
    }

    /// Appends (trace id, span start) of every matching row of a batch to `hits`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a column is missing or undecodable.
    pub fn filter_batch(
        &self,
        columns: &SpanColumns<'_>,
        hits: &mut Vec<(TraceId, u64)>,
    ) -> Result<(), Error> {
        let query = self.query;
        let trace_ids = columns.fixed(columns::TRACE_ID)?;
        let starts = columns.u64(columns::START)?;
        let durations = columns.u64(columns::DURATION)?;
        let services = columns.string(columns::SERVICE)?;
        let names = columns.string(columns::NAME)?;
        let kinds = columns.u8(columns::KIND)?;
        let statuses = columns.u8(columns::STATUS)?;
        let hot: Vec<(&StringArray, &str, &str)> = self
            .hot
            .iter()
            .map(|(column, key, value)| Ok((columns.string(column)?, *key, *value)))
            .collect::<Result<_, Error>>()?;
        let attributes = if self.cold.is_empty() {
            None
        } else {
            Some(columns.binary("attributes")?)
        };
        let resources = if query.attributes.is_empty() {
            None
        } else {
            Some(columns.binary("resource")?)
        };
        let mut decoded_resources: HashMap<&[u8], Arc<Resource>> = HashMap::new();
        for row in 0..trace_ids.len() {
            let start = starts.value(row);
            let duration = durations.value(row);
            let cheap_match = start >= query.start_unix_nano
                && start <= query.end_unix_nano
                && query.service.as_deref().is_none_or(|service| services.value(row) == service)
                && query.operation.as_deref().is_none_or(|operation| names.value(row) == operation)
                && query.span_kind.is_none_or(|kind| i32::from(kinds.value(row)) == kind.to_otlp())
                && query.status.is_none_or(|status| i32::from(statuses.value(row)) == status.to_otlp())
                && query.min_duration_nanos.is_none_or(|min| duration >= min)
                && query.max_duration_nanos.is_none_or(|max| duration <= max)
                // A hot column holds span attributes only; a null may still match on the resource.
                && hot.iter().all(|(column, _, value)| column.is_null(row) || column.value(row) == *value);
            if !cheap_match {
                continue;
            }
            if let Some(resources) = resources {
                let bytes = resources.value(row);
                let resource = match decoded_resources.get(bytes) {
                    Some(resource) => resource.clone(),
                    None => {
                        let resource: Arc<Resource> = Arc::new(columns.decode("resource", bytes)?);
                        decoded_resources.insert(bytes, resource.clone());
                        resource
                    }
                };
                let span_attributes: Vec<KeyValue> = match attributes {
                    Some(attributes) => columns.decode("attributes", attributes.value(row))?,
                    None => Vec::new(),
                };
                let in_resource = |key: &str, expected: &str| {
                    find(&resource.attributes, key)
                        .is_some_and(|value| value_reads_as(value, expected))
                };
                let hot_match = hot.iter().all(|(column, key, expected)| {
                    !column.is_null(row) || in_resource(key, expected)
                });
                let cold_match =
                    self.cold
                        .iter()
                        .all(|(key, expected)| match find(&span_attributes, key) {
                            Some(value) => value_reads_as(value, expected),
                            None => in_resource(key, expected),
                        });
                if !(hot_match && cold_match) {
                    continue;
                }
            }
            hits.push((columns.trace_id(row)?, start));
        }
        Ok(())
    }
}
