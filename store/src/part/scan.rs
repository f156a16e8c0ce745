//! Columnar span filtering shared by the head and by parts: cheap column filters first, and
//! the encoded attributes and resource decoded only for rows that pass them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use sightline_model::attr::find;
use sightline_model::hot::{column_name, HOT_SPAN_ATTRIBUTES};
use sightline_model::{AnyValue, Resource, TraceId};

use super::attributes::{self, AttributeColumn, AttributeReader, TypedExpected};
use super::schema::{columns, SpanColumns};
use crate::error::Error;
use crate::spans::SpanQuery;

/// How one query filters span batches.
pub struct ScanPlan {
    query: SpanQuery,
    /// Attribute filters on hot columns: (column name, key, expected text).
    hot: Vec<(String, String, String)>,
    /// Attribute filters that need the encoded attributes: (key, expected text).
    cold: Vec<(String, String)>,
}

/// Says whether a typed value reads as `expected`, without allocating for strings.
pub fn value_reads_as(value: &AnyValue, expected: &str) -> bool {
    match value {
        AnyValue::String(text) => text == expected,
        other => other.to_text() == expected,
    }
}

impl ScanPlan {
    /// Plans the filters of `query`.
    pub fn new(query: &SpanQuery) -> Self {
        let mut hot = Vec::new();
        let mut cold = Vec::new();
        for (key, value) in &query.attributes {
            if HOT_SPAN_ATTRIBUTES.contains(&key.as_str()) {
                hot.push((column_name(key), key.clone(), value.clone()));
            } else {
                cold.push((key.clone(), value.clone()));
            }
        }
        Self {
            query: query.clone(),
            hot,
            cold,
        }
    }

    /// Returns the columns the cheap filters (everything but encoded attributes and resource)
    /// read from a part with `schema`: the hot attribute keys' attribute columns among them.
    pub fn cheap_columns(&self, schema: &arrow_schema::Schema) -> Vec<String> {
        let query = &self.query;
        let mut names = vec![columns::START.to_string()];
        let wanted = [
            (
                query.min_duration_nanos.is_some() || query.max_duration_nanos.is_some(),
                columns::DURATION,
            ),
            (query.service.is_some(), columns::SERVICE),
            (query.operation.is_some(), columns::NAME),
            (query.span_kind.is_some(), columns::KIND),
            (query.status.is_some(), columns::STATUS),
        ];
        names.extend(
            wanted
                .iter()
                .filter(|(needed, _)| *needed)
                .map(|(_, name)| name.to_string()),
        );
        names.extend(self.hot.iter().map(|(column, _, _)| column.clone()));
        names.extend(self.attribute_columns_of(schema, |key| {
            self.hot.iter().any(|(_, hot_key, _)| hot_key == key)
        }));
        names
    }

    /// The attribute columns in `schema` of the keys `wanted` admits.
    fn attribute_columns_of<'s>(
        &self,
        schema: &'s arrow_schema::Schema,
        wanted: impl Fn(&str) -> bool + 's,
    ) -> impl Iterator<Item = String> + 's {
        schema
            .fields()
            .iter()
            .filter(move |field| {
                AttributeColumn::parse(field.name()).is_some_and(|column| wanted(&column.key))
            })
            .map(|field| field.name().clone())
    }

    /// Evaluates the cheap filters over a batch holding at least [`ScanPlan::cheap_columns`]:
    /// time range, service, operation, kind, status, duration and hot attributes (a row the
    /// columns cannot decide passes, for [`ScanPlan::filter_batch`] to check exactly).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a needed column is missing.
    pub fn cheap_mask(&self, batch: &RecordBatch) -> Result<BooleanArray, Error> {
        let query = &self.query;
        let columns = SpanColumns::new(batch, "scan");
        let starts = columns.u64(columns::START)?;
        let mut keep: Vec<bool> = starts
            .values()
            .iter()
            .map(|start| *start >= query.start_unix_nano && *start <= query.end_unix_nano)
            .collect();
        let mut narrow = |column_matches: &dyn Fn(usize) -> bool| {
            for (row, kept) in keep.iter_mut().enumerate() {
                *kept = *kept && column_matches(row);
            }
        };
        if query.min_duration_nanos.is_some() || query.max_duration_nanos.is_some() {
            let durations = columns.u64(columns::DURATION)?;
            let (min, max) = (
                query.min_duration_nanos.unwrap_or(0),
                query.max_duration_nanos.unwrap_or(u64::MAX),
            );
            narrow(&|row| (min..=max).contains(&durations.value(row)));
        }
        if let Some(service) = &query.service {
            let services = columns.string(columns::SERVICE)?;
            narrow(&|row| services.value(row) == service);
        }
        if let Some(operation) = &query.operation {
            let names = columns.string(columns::NAME)?;
            narrow(&|row| names.value(row) == operation);
        }
        if let Some(kind) = query.span_kind {
            let kinds = columns.u8(columns::KIND)?;
            narrow(&|row| i32::from(kinds.value(row)) == kind.to_otlp());
        }
        if let Some(status) = query.status {
            let statuses = columns.u8(columns::STATUS)?;
            narrow(&|row| i32::from(statuses.value(row)) == status.to_otlp());
        }
        for (column, key, value) in &self.hot {
            let values = columns.string(column)?;
            // A null hot value: the key is absent (the resource may still match), or its first
            // value is in an attribute column (see `attributes::hot_columns`). With one column
            // for the key, that column's value decides; with several, the exact check in
            // `filter_batch` does.
            let typed: Vec<(TypedExpected, &arrow_array::ArrayRef)> =
                attributes::attribute_arrays(batch)
                    .filter(|(column_key, _, _)| column_key == key)
                    .map(|(_, kind, array)| (TypedExpected::new(kind, value), array))
                    .collect();
            narrow(&|row| {
                if !values.is_null(row) {
                    return values.value(row) == value;
                }
                match typed.as_slice() {
                    [(expected, array)] => array.is_null(row) || expected.matches(array, row),
                    _ => true,
                }
            });
        }
        Ok(BooleanArray::from(keep))
    }

    /// Returns the columns a scan of a part with `schema` must read: the trace id, the cheap
    /// filters' columns and, with attribute filters, the resource, the encoded attributes, the
    /// layout and the attribute columns of the keys filtered on.
    pub fn columns(&self, schema: &arrow_schema::Schema) -> Vec<String> {
        let mut names = vec![columns::TRACE_ID.to_string()];
        names.extend(self.cheap_columns(schema));
        if !self.query.attributes.is_empty() {
            names.push(attributes::REST.to_string());
            if schema.index_of(attributes::LAYOUT).is_ok() {
                names.push(attributes::LAYOUT.to_string());
            }
            names.extend(self.attribute_columns_of(schema, |key| {
                self.cold.iter().any(|(cold_key, _)| cold_key == key)
            }));
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
        let query = &self.query;
        let mask = self.cheap_mask(columns.batch())?;
        let starts = columns.u64(columns::START)?;
        let hot: Vec<(&StringArray, &str, &str)> = self
            .hot
            .iter()
            .map(|(column, key, value)| Ok((columns.string(column)?, key.as_str(), value.as_str())))
            .collect::<Result<_, Error>>()?;
        let attributes = if query.attributes.is_empty() {
            None
        } else {
            Some(AttributeReader::new(columns.batch(), columns.path())?)
        };
        let resources = if query.attributes.is_empty() {
            None
        } else {
            Some(columns.binary("resource")?)
        };
        let mut decoded_resources: HashMap<&[u8], Arc<Resource>> = HashMap::new();
        for row in (0..mask.len()).filter(|row| mask.value(*row)) {
            let start = starts.value(row);
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
                let in_resource = |key: &str, expected: &str| {
                    find(&resource.attributes, key)
                        .is_some_and(|value| value_reads_as(value, expected))
                };
                // A hot value the cheap filter saw matched; a null one (the key absent, or its
                // first value in an attribute column) and the other keys are read exactly.
                let exact = hot
                    .iter()
                    .filter(|(column, _, _)| column.is_null(row))
                    .map(|(_, key, expected)| (*key, *expected))
                    .chain(
                        self.cold
                            .iter()
                            .map(|(key, expected)| (key.as_str(), expected.as_str())),
                    );
                let mut matches = true;
                for (key, expected) in exact {
                    if !matches {
                        break;
                    }
                    let value = match &attributes {
                        Some(attributes) => attributes.find(row, key)?,
                        None => None,
                    };
                    matches = match value {
                        Some(value) => value_reads_as(&value, expected),
                        None => in_resource(key, expected),
                    };
                }
                if !matches {
                    continue;
                }
            }
            hits.push((columns.trace_id(row)?, start));
        }
        Ok(())
    }
}
