//! The spans part schema and conversion between [`SpanRow`]s and Arrow record batches.
//!
//! Filtered fields get their own columns (ids, service, name, kind, times, status, and the hot
//! attributes of [`HOT_SPAN_ATTRIBUTES`] as text); common typed attributes have columns of
//! their own (see [`super::attributes`]) and the other attributes, events, links, resource and
//! scope are postcard-encoded per row, so a round trip is lossless. Resource and scope repeat
//! across rows and cost little after Parquet's dictionary encoding.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    BinaryBuilder, FixedSizeBinaryBuilder, StringBuilder, UInt32Builder, UInt64Builder,
    UInt8Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::de::DeserializeOwned;
use sightline_model::hot::{column_name, HOT_SPAN_ATTRIBUTES};
use sightline_model::{
    KeyValue, Resource, Scope, Span, SpanId, SpanKind, SpanRow, StatusCode, TraceId,
};

use super::attributes;
use super::parents::parent_of;
use crate::error::Error;

/// Version of the part layout, written to each part's key/value metadata: `4`, row groups
/// are time slices (see [`time_slices`]), common attributes have columns of their own (see
/// [`super::attributes`]) and parents within a row group are row offsets (see
/// [`super::parents`]). Parts of [`FORMAT_ATTRIBUTE_COLUMNS`], [`FORMAT_TIME_SLICES`] and
/// [`FORMAT_SORTED_BY_TRACE`] are still read.
pub const FORMAT_VERSION: &str = "4";
/// Version 3: as 4 without parent offsets (every parent an id).
pub const FORMAT_ATTRIBUTE_COLUMNS: &str = "3";
/// Version 2: time slices, every attribute in the encoded `attributes` column (read as a
/// version 3 part without a layout column).
pub const FORMAT_TIME_SLICES: &str = "2";
/// Version 1: a part's rows sorted by trace id and start, so every row group spans about the
/// part's whole time range. Same columns as version 2: readers prune by each row group's
/// statistics and bloom filter and need no other difference, and compaction rewrites these
/// parts in the current version.
pub const FORMAT_SORTED_BY_TRACE: &str = "1";

/// Column names used by the reader for pruning and projection.
pub mod columns {
    /// Trace id, 16 bytes.
    pub const TRACE_ID: &str = "trace_id";
    /// Span start, unix nanoseconds.
    pub const START: &str = "start_time_unix_nano";
    /// Span duration, nanoseconds.
    pub const DURATION: &str = "duration_nanos";
    /// `service.name` of the resource.
    pub const SERVICE: &str = "service_name";
    /// Span name.
    pub const NAME: &str = "name";
    /// Span kind as OTLP's number.
    pub const KIND: &str = "kind";
    /// Status code as OTLP's number.
    pub const STATUS: &str = "status_code";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new(columns::TRACE_ID, DataType::FixedSizeBinary(16), false),
        Field::new("span_id", DataType::FixedSizeBinary(8), false),
        Field::new("parent_span_id", DataType::FixedSizeBinary(8), true),
        Field::new("trace_state", DataType::Utf8, false),
        Field::new("flags", DataType::UInt32, false),
        Field::new(columns::SERVICE, DataType::Utf8, false),
        Field::new(columns::NAME, DataType::Utf8, false),
        Field::new(columns::KIND, DataType::UInt8, false),
        Field::new(columns::START, DataType::UInt64, false),
        Field::new(columns::DURATION, DataType::UInt64, false),
        Field::new(columns::STATUS, DataType::UInt8, false),
        Field::new("status_message", DataType::Utf8, false),
    ];
    fields.extend(
        HOT_SPAN_ATTRIBUTES
            .iter()
            .map(|key| Field::new(column_name(key), DataType::Utf8, true)),
    );
    fields.extend([
        Field::new("attributes", DataType::Binary, false),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
        Field::new("events", DataType::Binary, true),
        Field::new("dropped_events_count", DataType::UInt32, false),
        Field::new("links", DataType::Binary, true),
        Field::new("dropped_links_count", DataType::UInt32, false),
        Field::new("resource", DataType::Binary, false),
        Field::new("scope", DataType::Binary, false),
        Field::new(super::parents::PARENT_OFFSET, DataType::Int32, true),
    ]);
    Arc::new(Schema::new(fields))
});

/// Returns the Arrow schema of span parts.
pub fn span_schema() -> SchemaRef {
    SCHEMA.clone()
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Postcard only fails on a full fixed buffer, and `to_allocvec` grows its own.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Converts rows into one record batch of the part schema, common attributes in columns of
/// their own ([`attributes::part_schema`] of the columns [`attributes::choose`] picks).
///
/// # Errors
/// [`Error::Arrow`] if the columns do not fit the schema (a bug).
pub fn rows_to_batch(rows: &[SpanRow]) -> Result<RecordBatch, Error> {
    let count = rows.len();
    let mut trace_ids = FixedSizeBinaryBuilder::with_capacity(count, 16);
    let mut span_ids = FixedSizeBinaryBuilder::with_capacity(count, 8);
    let mut parents = FixedSizeBinaryBuilder::with_capacity(count, 8);
    let mut trace_states = StringBuilder::new();
    let mut flags = UInt32Builder::with_capacity(count);
    let mut services = StringBuilder::new();
    let mut names = StringBuilder::new();
    let mut kinds = UInt8Builder::with_capacity(count);
    let mut starts = UInt64Builder::with_capacity(count);
    let mut durations = UInt64Builder::with_capacity(count);
    let mut statuses = UInt8Builder::with_capacity(count);
    let mut messages = StringBuilder::new();
    let attribute_lists: Vec<&[KeyValue]> = rows
        .iter()
        .map(|row| row.span.attributes.as_slice())
        .collect();
    let attribute_columns = attributes::choose(&attribute_lists);
    let shredded = attributes::shred(&attribute_lists, &attribute_columns);
    let mut dropped_attributes = UInt32Builder::with_capacity(count);
    let mut events = BinaryBuilder::new();
    let mut dropped_events = UInt32Builder::with_capacity(count);
    let mut links = BinaryBuilder::new();
    let mut dropped_links = UInt32Builder::with_capacity(count);
    let mut resources = BinaryBuilder::new();
    let mut scopes = BinaryBuilder::new();
    let mut resource_cache: Option<(*const Resource, Vec<u8>)> = None;
    let mut scope_cache: Option<(*const Scope, Vec<u8>)> = None;
    let arrow_error = |source| Error::Arrow {
        what: "span part".to_string(),
        source,
    };

    for row in rows {
        let span = &row.span;
        trace_ids
            .append_value(span.trace_id.as_bytes())
            .map_err(arrow_error)?;
        span_ids
            .append_value(span.span_id.as_bytes())
            .map_err(arrow_error)?;
        match &span.parent_span_id {
            Some(parent) => parents
                .append_value(parent.as_bytes())
                .map_err(arrow_error)?,
            None => parents.append_null(),
        }
        trace_states.append_value(&span.trace_state);
        flags.append_value(span.flags);
        services.append_value(&*row.service_name);
        names.append_value(&span.name);
        kinds.append_value(span.kind.to_otlp() as u8);
        starts.append_value(span.start_time_unix_nano);
        durations.append_value(span.duration_nanos());
        statuses.append_value(span.status_code.to_otlp() as u8);
        messages.append_value(&span.status_message);
        dropped_attributes.append_value(span.dropped_attributes_count);
        if span.events.is_empty() {
            events.append_null()
        } else {
            events.append_value(encode(&span.events))
        }
        dropped_events.append_value(span.dropped_events_count);
        if span.links.is_empty() {
            links.append_null()
        } else {
            links.append_value(encode(&span.links))
        }
        dropped_links.append_value(span.dropped_links_count);
        resources.append_value(cached_encoding(&mut resource_cache, &row.resource));
        scopes.append_value(cached_encoding(&mut scope_cache, &row.scope));
    }

    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(trace_ids.finish()),
        Arc::new(span_ids.finish()),
        Arc::new(parents.finish()),
        Arc::new(trace_states.finish()),
        Arc::new(flags.finish()),
        Arc::new(services.finish()),
        Arc::new(names.finish()),
        Arc::new(kinds.finish()),
        Arc::new(starts.finish()),
        Arc::new(durations.finish()),
        Arc::new(statuses.finish()),
        Arc::new(messages.finish()),
    ];
    arrays.extend(shredded.hot.iter().cloned());
    arrays.extend([
        shredded.rest.clone(),
        Arc::new(dropped_attributes.finish()),
        Arc::new(events.finish()),
        Arc::new(dropped_events.finish()),
        Arc::new(links.finish()),
        Arc::new(dropped_links.finish()),
        Arc::new(resources.finish()),
        Arc::new(scopes.finish()),
        // Offsets are for parts (see `super::parents`): the head keeps every parent's id.
        arrow_array::new_null_array(&DataType::Int32, count),
    ]);
    arrays.push(shredded.layout.clone());
    arrays.extend(shredded.columns.iter().cloned());
    RecordBatch::try_new(attributes::part_schema(&attribute_columns), arrays).map_err(arrow_error)
}

/// Encodes a shared value once per run of rows that share it.
fn cached_encoding<'a, T: serde::Serialize>(
    cache: &'a mut Option<(*const T, Vec<u8>)>,
    value: &Arc<T>,
) -> &'a [u8] {
    let pointer = Arc::as_ptr(value);
    if cache.as_ref().map(|(cached, _)| *cached) != Some(pointer) {
        *cache = Some((pointer, encode(&**value)));
    }
    cache
        .as_ref()
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_default()
}

/// Reads columns of a span batch by name; every accessor checks the column's type.
pub struct SpanColumns<'a> {
    batch: &'a RecordBatch,
    path: &'a str,
}

impl<'a> SpanColumns<'a> {
    /// Wraps a batch read from the part at `path` (used in error messages).
    pub fn new(batch: &'a RecordBatch, path: &'a str) -> Self {
        Self { batch, path }
    }

    /// Returns the wrapped batch.
    pub fn batch(&self) -> &'a RecordBatch {
        self.batch
    }

    /// Returns the path of the part the batch was read from.
    pub fn path(&self) -> &'a str {
        self.path
    }

    fn column(&self, name: &str) -> Result<&'a ArrayRef, Error> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| self.corrupt(format!("missing column {name}")))
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::Corrupt {
            what: "span part column",
            path: self.path.to_string(),
            reason,
        }
    }

    /// Returns a fixed-size binary column.
    pub fn fixed(&self, name: &str) -> Result<&'a arrow_array::FixedSizeBinaryArray, Error> {
        self.column(name)?
            .as_fixed_size_binary_opt()
            .ok_or_else(|| self.corrupt(format!("{name} is not fixed-size binary")))
    }

    /// Returns a string column.
    pub fn string(&self, name: &str) -> Result<&'a arrow_array::StringArray, Error> {
        self.column(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| self.corrupt(format!("{name} is not utf8")))
    }

    /// Returns a binary column.
    pub fn binary(&self, name: &str) -> Result<&'a arrow_array::BinaryArray, Error> {
        self.column(name)?
            .as_binary_opt::<i32>()
            .ok_or_else(|| self.corrupt(format!("{name} is not binary")))
    }

    /// Returns a `u64` column.
    pub fn u64(&self, name: &str) -> Result<&'a arrow_array::UInt64Array, Error> {
        self.column(name)?
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| self.corrupt(format!("{name} is not u64")))
    }

    /// Returns a `u32` column.
    pub fn u32(&self, name: &str) -> Result<&'a arrow_array::UInt32Array, Error> {
        self.column(name)?
            .as_primitive_opt::<UInt32Type>()
            .ok_or_else(|| self.corrupt(format!("{name} is not u32")))
    }

    /// Returns a `u8` column.
    pub fn u8(&self, name: &str) -> Result<&'a arrow_array::UInt8Array, Error> {
        self.column(name)?
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| self.corrupt(format!("{name} is not u8")))
    }

    /// Returns the trace id of a row.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the column is missing or the value is not 16 bytes.
    pub fn trace_id(&self, row: usize) -> Result<TraceId, Error> {
        let bytes = self.fixed(columns::TRACE_ID)?.value(row);
        Ok(TraceId(bytes.try_into().map_err(|_| {
            self.corrupt("trace id is not 16 bytes".to_string())
        })?))
    }

    /// Decodes a postcard value.
    pub fn decode<T: DeserializeOwned>(&self, what: &str, bytes: &[u8]) -> Result<T, Error> {
        postcard::from_bytes(bytes).map_err(|error| self.corrupt(format!("{what}: {error}")))
    }
}

/// Decodes whole rows from a batch with the full [`span_schema`] (with parent offsets, every
/// row of each trace's run in a row group, see [`super::parents`]). Rows whose resource or scope
/// bytes repeat share one decoded value.
///
/// # Errors
/// [`Error::Corrupt`] if a column is missing, mistyped or undecodable.
pub fn batch_to_rows(batch: &RecordBatch, path: &str) -> Result<Vec<SpanRow>, Error> {
    let columns = SpanColumns::new(batch, path);
    let trace_ids = columns.fixed(columns::TRACE_ID)?;
    let span_ids = columns.fixed("span_id")?;
    let parents = columns.fixed("parent_span_id")?;
    let parent_offsets = super::parents::offsets(batch);
    let trace_states = columns.string("trace_state")?;
    let flags = columns.u32("flags")?;
    let names = columns.string(columns::NAME)?;
    let kinds = columns.u8(columns::KIND)?;
    let starts = columns.u64(columns::START)?;
    let durations = columns.u64(columns::DURATION)?;
    let statuses = columns.u8(columns::STATUS)?;
    let messages = columns.string("status_message")?;
    let attributes = super::attributes::AttributeReader::new(batch, path)?;
    let dropped_attributes = columns.u32("dropped_attributes_count")?;
    let events = columns.binary("events")?;
    let dropped_events = columns.u32("dropped_events_count")?;
    let links = columns.binary("links")?;
    let dropped_links = columns.u32("dropped_links_count")?;
    let resources = columns.binary("resource")?;
    let scopes = columns.binary("scope")?;
    let mut resource_cache: HashMap<&[u8], (Arc<Resource>, Arc<str>)> = HashMap::new();
    let mut scope_cache: HashMap<&[u8], Arc<Scope>> = HashMap::new();
    let invalid_id = |what: &str| columns.corrupt(format!("invalid {what}"));

    let mut rows = Vec::with_capacity(batch.num_rows());
    for index in 0..batch.num_rows() {
        let (resource, service_name) = match resource_cache.get(resources.value(index)) {
            Some(cached) => cached.clone(),
            None => {
                let resource: Arc<Resource> =
                    Arc::new(columns.decode("resource", resources.value(index))?);
                let service: Arc<str> = Arc::from(resource.service_name());
                resource_cache.insert(resources.value(index), (resource.clone(), service.clone()));
                (resource, service)
            }
        };
        let scope = match scope_cache.get(scopes.value(index)) {
            Some(cached) => cached.clone(),
            None => {
                let scope: Arc<Scope> = Arc::new(columns.decode("scope", scopes.value(index))?);
                scope_cache.insert(scopes.value(index), scope.clone());
                scope
            }
        };
        let start = starts.value(index);
        let span = Span {
            trace_id: TraceId(
                trace_ids
                    .value(index)
                    .try_into()
                    .map_err(|_| invalid_id("trace id"))?,
            ),
            span_id: SpanId(
                span_ids
                    .value(index)
                    .try_into()
                    .map_err(|_| invalid_id("span id"))?,
            ),
            trace_state: trace_states.value(index).to_string(),
            parent_span_id: match parent_of(index, parent_offsets, span_ids, parents, path)? {
                None => None,
                Some(parent) => Some(SpanId(
                    parent
                        .try_into()
                        .map_err(|_| invalid_id("parent span id"))?,
                )),
            },
            flags: flags.value(index),
            name: names.value(index).to_string(),
            kind: SpanKind::from_otlp(i32::from(kinds.value(index))),
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(durations.value(index)),
            attributes: attributes.attributes(index)?,
            dropped_attributes_count: dropped_attributes.value(index),
            events: if events.is_null(index) {
                Vec::new()
            } else {
                columns.decode("events", events.value(index))?
            },
            dropped_events_count: dropped_events.value(index),
            links: if links.is_null(index) {
                Vec::new()
            } else {
                columns.decode("links", links.value(index))?
            },
            dropped_links_count: dropped_links.value(index),
            status_code: StatusCode::from_otlp(i32::from(statuses.value(index))),
            status_message: messages.value(index).to_string(),
        };
        rows.push(SpanRow {
            service_name,
            resource,
            scope,
            span,
        });
    }
    Ok(rows)
}

/// Cuts a batch into a part's row groups: time slices of at most `rows_per_slice` rows in
/// start order (the earliest rows first, the slices about equal in size), each sorted by trace
/// id and then start. This is the order of rows in a part (format 2).
///
/// # Errors
/// [`Error::Corrupt`] on a missing column, [`Error::Arrow`] if taking rows fails.
pub fn time_slices(batch: &RecordBatch, rows_per_slice: usize) -> Result<Vec<RecordBatch>, Error> {
    let starts = SpanColumns::new(batch, "span batch").u64(columns::START)?;
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_by_key(|row| starts.value(*row as usize));
    let slice_count = order.len().div_ceil(rows_per_slice.max(1));
    let Some(slice_rows) = order.len().checked_div(slice_count) else {
        return Ok(Vec::new());
    };
    // The first `order.len() % slice_count` slices take one row more, so none is left short.
    let longer = order.len() % slice_count;
    let mut slices = Vec::with_capacity(slice_count);
    let mut rest: &mut [u32] = &mut order;
    for slice in 0..slice_count {
        let (rows, after) = rest.split_at_mut(slice_rows + usize::from(slice < longer));
        sort_rows_by_trace(batch, rows)?;
        slices.push(take_rows(batch, rows)?);
        rest = after;
    }
    Ok(slices)
}

/// Sorts row numbers of a batch by trace id, then start: the order of rows in a row group.
///
/// # Errors
/// [`Error::Corrupt`] on a missing column.
pub fn sort_rows_by_trace(batch: &RecordBatch, rows: &mut [u32]) -> Result<(), Error> {
    let columns = SpanColumns::new(batch, "span batch");
    let trace_ids = columns.fixed(columns::TRACE_ID)?;
    let starts = columns.u64(columns::START)?;
    // Sorting keys held as numbers: comparing them costs no call to `memcmp`.
    let mut keys: Vec<(u128, u64, u32)> = rows
        .iter()
        .map(|row| {
            let index = *row as usize;
            (trace_key(trace_ids.value(index)), starts.value(index), *row)
        })
        .collect();
    keys.sort_unstable();
    for (row, (_, _, sorted)) in rows.iter_mut().zip(keys) {
        *row = sorted;
    }
    Ok(())
}

/// A trace id as a number that sorts as its bytes do.
pub fn trace_key(trace_id: &[u8]) -> u128 {
    <[u8; 16]>::try_from(trace_id).map_or(0, u128::from_be_bytes)
}

/// Returns the given rows of a batch, in the given order.
///
/// # Errors
/// [`Error::Arrow`] if taking rows fails.
pub fn take_rows(batch: &RecordBatch, rows: &[u32]) -> Result<RecordBatch, Error> {
    let indices = arrow_array::UInt32Array::from(rows.to_vec());
    arrow_select::take::take_record_batch(batch, &indices).map_err(|source| Error::Arrow {
        what: "taking span rows".to_string(),
        source,
    })
}

/// Returns the distinct (service, span name, kind) of a batch.
///
/// # Errors
/// [`Error::Corrupt`] on a missing column.
pub fn batch_operations(
    batch: &RecordBatch,
) -> Result<std::collections::BTreeSet<(String, String, SpanKind)>, Error> {
    let columns = SpanColumns::new(batch, "span batch");
    let services = columns.string(columns::SERVICE)?;
    let names = columns.string(columns::NAME)?;
    let kinds = columns.u8(columns::KIND)?;
    let mut seen: std::collections::HashSet<(&str, &str, u8)> = std::collections::HashSet::new();
    for row in 0..batch.num_rows() {
        seen.insert((services.value(row), names.value(row), kinds.value(row)));
    }
    Ok(seen
        .into_iter()
        .map(|(service, name, kind)| {
            (
                service.to_string(),
                name.to_string(),
                SpanKind::from_otlp(i32::from(kind)),
            )
        })
        .collect())
}

/// Returns the earliest and latest span start of a batch (zeros when empty).
///
/// # Errors
/// [`Error::Corrupt`] on a missing column.
pub fn start_range(batch: &RecordBatch) -> Result<(u64, u64), Error> {
    let starts = SpanColumns::new(batch, "span batch").u64(columns::START)?;
    let values = starts.values();
    Ok((
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    ))
}
