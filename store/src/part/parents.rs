//! Parent span ids as row offsets. In a row group (sorted by trace id, then start) a span's
//! parent is usually a few rows before it, in the same trace: the part stores how many rows
//! back it is (`parent_offset`, a small number that a dictionary holds in a few bits) instead
//! of its 8 random bytes (measured on the load generator's spans: 4.7 bytes per span with
//! zstd). A parent outside the row group (another slice, or never received) keeps its id in
//! `parent_span_id`.
//!
//! Offsets count rows of one row group, so a reader resolves them over batches that hold every
//! row of a trace's run in the row group in order: a whole row group, or the rows of one trace
//! (a lookup's filter keeps them in order). Batches without the column (the head, parts before
//! format 4) hold every parent as an id.

use std::sync::Arc;

use ahash::AHashMap;

use arrow_array::builder::{FixedSizeBinaryBuilder, Int32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, Int32Array, RecordBatch};

use super::schema::{columns, trace_key, SpanColumns};
use crate::error::Error;

/// The column of rows back to the parent.
pub const PARENT_OFFSET: &str = "parent_offset";
/// The column of parent span ids not given as an offset.
pub const PARENT_SPAN_ID: &str = "parent_span_id";

fn corrupt(path: &str, reason: String) -> Error {
    Error::Corrupt {
        what: "span parents",
        path: path.to_string(),
        reason,
    }
}

/// The offsets of a batch, if it has any.
pub fn offsets(batch: &RecordBatch) -> Option<&Int32Array> {
    batch
        .column_by_name(PARENT_OFFSET)
        .and_then(|column| column.as_primitive_opt::<Int32Type>())
        .filter(|offsets| offsets.null_count() < offsets.len())
}

fn with_parents(
    batch: &RecordBatch,
    parents: FixedSizeBinaryArray,
    offsets: Int32Array,
    path: &str,
) -> Result<RecordBatch, Error> {
    let schema = batch.schema();
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    for (name, array) in [
        (PARENT_SPAN_ID, Arc::new(parents) as ArrayRef),
        (PARENT_OFFSET, Arc::new(offsets) as ArrayRef),
    ] {
        let index = schema
            .index_of(name)
            .map_err(|_| corrupt(path, format!("missing column {name}")))?;
        arrays[index] = array;
    }
    RecordBatch::try_new(schema, arrays).map_err(|source| Error::Arrow {
        what: format!("span parents of {path}"),
        source,
    })
}

/// Replaces, in one row group's rows (sorted by trace id and start), each parent span id that
/// names a span of the same trace in the rows by the offset to that span's row.
///
/// # Errors
/// [`Error::Corrupt`] on a batch without the id and offset columns.
pub fn encode_offsets(batch: &RecordBatch, path: &str) -> Result<RecordBatch, Error> {
    let span_columns = SpanColumns::new(batch, path);
    let trace_ids = span_columns.fixed(columns::TRACE_ID)?;
    let span_ids = span_columns.fixed("span_id")?;
    let parents = span_columns.fixed(PARENT_SPAN_ID)?;
    let rows = batch.num_rows();
    let mut parent_ids = FixedSizeBinaryBuilder::with_capacity(rows, 8);
    let mut offsets = Int32Builder::with_capacity(rows);
    let id = |ids: &FixedSizeBinaryArray, row: usize| -> u64 {
        ids.value(row)
            .try_into()
            .map(u64::from_le_bytes)
            .unwrap_or(u64::MAX)
    };
    let mut rows_of_spans: AHashMap<u64, usize> = AHashMap::new();
    let mut run_start = 0;
    while run_start < rows {
        let trace = trace_key(trace_ids.value(run_start));
        let run_end = (run_start..rows)
            .find(|row| trace_key(trace_ids.value(*row)) != trace)
            .unwrap_or(rows);
        rows_of_spans.clear();
        // In reverse, so a span id stored twice names its first row.
        for row in (run_start..run_end).rev() {
            rows_of_spans.insert(id(span_ids, row), row);
        }
        for row in run_start..run_end {
            let parent_row = (!parents.is_null(row))
                .then(|| rows_of_spans.get(&id(parents, row)).copied())
                .flatten();
            let offset =
                parent_row.and_then(|parent| i32::try_from(row as i64 - parent as i64).ok());
            match offset {
                Some(offset) => {
                    offsets.append_value(offset);
                    parent_ids.append_null();
                }
                None => {
                    offsets.append_null();
                    if parents.is_null(row) {
                        parent_ids.append_null();
                    } else {
                        parent_ids
                            .append_value(parents.value(row))
                            .map_err(|error| corrupt(path, error.to_string()))?;
                    }
                }
            }
        }
        run_start = run_end;
    }
    with_parents(batch, parent_ids.finish(), offsets.finish(), path)
}

/// Returns the parent span id of `row`: from its offset if it has one, else its own column.
///
/// # Errors
/// [`Error::Corrupt`] when the offset points outside the batch.
pub fn parent_of<'a>(
    row: usize,
    offsets: Option<&Int32Array>,
    span_ids: &'a FixedSizeBinaryArray,
    parents: &'a FixedSizeBinaryArray,
    path: &str,
) -> Result<Option<&'a [u8]>, Error> {
    if let Some(offset) = offsets.filter(|offsets| !offsets.is_null(row)) {
        let offset = offset.value(row);
        let parent = (row as i64)
            .checked_sub(i64::from(offset))
            .and_then(|parent| usize::try_from(parent).ok())
            .filter(|parent| *parent < span_ids.len())
            .ok_or_else(|| {
                corrupt(
                    path,
                    format!("parent offset {offset} of row {row} is outside the batch"),
                )
            })?;
        return Ok(Some(span_ids.value(parent)));
    }
    Ok((!parents.is_null(row)).then(|| parents.value(row)))
}

/// Puts every parent back as an id (before rows are reordered, as a merge does).
///
/// # Errors
/// [`Error::Corrupt`] on an offset outside the batch.
pub fn resolve_offsets(batch: &RecordBatch, path: &str) -> Result<RecordBatch, Error> {
    let Some(offsets) = offsets(batch) else {
        return Ok(batch.clone());
    };
    let span_columns = SpanColumns::new(batch, path);
    let span_ids = span_columns.fixed("span_id")?;
    let parents = span_columns.fixed(PARENT_SPAN_ID)?;
    let mut parent_ids = FixedSizeBinaryBuilder::with_capacity(batch.num_rows(), 8);
    for row in 0..batch.num_rows() {
        match parent_of(row, Some(offsets), span_ids, parents, path)? {
            Some(parent) => parent_ids
                .append_value(parent)
                .map_err(|error| corrupt(path, error.to_string()))?,
            None => parent_ids.append_null(),
        }
    }
    let no_offsets = Int32Array::new_null(batch.num_rows());
    with_parents(batch, parent_ids.finish(), no_offsets, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_model::{Span, SpanId, SpanRow, TraceId};

    /// Spans of two traces sorted as a row group is: a tree in trace 1 with a parent that
    /// starts after its child, an orphan, and a trace 2 span whose parent is in trace 1.
    fn rows() -> Vec<SpanRow> {
        let span = |trace: u8, id: u8, parent: Option<u8>, start: u64| SpanRow {
            service_name: Arc::from("svc"),
            resource: Arc::default(),
            scope: Arc::default(),
            span: Span {
                trace_id: TraceId([trace; 16]),
                span_id: SpanId([id; 8]),
                parent_span_id: parent.map(|parent| SpanId([parent; 8])),
                start_time_unix_nano: start,
                ..Span::default()
            },
        };
        vec![
            span(1, 1, None, 10),
            span(1, 2, Some(1), 11),
            span(1, 3, Some(4), 12),
            span(1, 4, Some(1), 13),
            span(1, 5, Some(9), 14),
            span(2, 6, Some(1), 10),
        ]
    }

    #[test]
    fn parents_within_a_trace_become_offsets_and_read_back_as_ids() {
        let rows = rows();
        let batch = super::super::schema::rows_to_batch(&rows).unwrap();
        let encoded = encode_offsets(&batch, "test").unwrap();
        let got: Vec<Option<i32>> = offsets(&encoded).unwrap().iter().collect();
        assert_eq!(got, [None, Some(1), Some(-1), Some(3), None, None]);
        let ids = SpanColumns::new(&encoded, "test")
            .fixed(PARENT_SPAN_ID)
            .unwrap();
        assert_eq!(ids.null_count(), 4);
        assert_eq!(ids.value(4), [9; 8]);
        assert_eq!(ids.value(5), [1; 8]);
        // Whole rows, one trace's rows alone (a lookup's batch), and the ids put back.
        let parents = |rows: &[SpanRow]| -> Vec<(SpanId, Option<SpanId>)> {
            rows.iter()
                .map(|row| (row.span.span_id, row.span.parent_span_id))
                .collect()
        };
        let read = super::super::schema::batch_to_rows(&encoded, "test").unwrap();
        assert_eq!(parents(&read), parents(&rows));
        let trace_one = encoded.slice(0, 5);
        let read = super::super::schema::batch_to_rows(&trace_one, "test").unwrap();
        assert_eq!(parents(&read), parents(&rows[..5]));
        let resolved = resolve_offsets(&encoded, "test").unwrap();
        assert!(offsets(&resolved).is_none());
        assert_eq!(
            SpanColumns::new(&resolved, "test")
                .fixed(PARENT_SPAN_ID)
                .unwrap(),
            SpanColumns::new(&batch, "test")
                .fixed(PARENT_SPAN_ID)
                .unwrap()
        );
        // An offset pointing outside the batch is an error, not a panic.
        let cut = encoded.slice(3, 3);
        assert!(super::super::schema::batch_to_rows(&cut, "test").is_err());
    }

    #[test]
    fn a_long_trace_run_finds_its_parents_too() {
        // A chain of 200 spans in one run, each parent one row back.
        let rows: Vec<SpanRow> = (0..200u64)
            .map(|index| SpanRow {
                service_name: Arc::from("svc"),
                resource: Arc::default(),
                scope: Arc::default(),
                span: Span {
                    trace_id: TraceId([7; 16]),
                    span_id: SpanId((index + 1).to_le_bytes()),
                    parent_span_id: (index > 0).then(|| SpanId(index.to_le_bytes())),
                    start_time_unix_nano: index,
                    ..Span::default()
                },
            })
            .collect();
        let batch = super::super::schema::rows_to_batch(&rows).unwrap();
        let encoded = encode_offsets(&batch, "test").unwrap();
        let got: Vec<Option<i32>> = offsets(&encoded).unwrap().iter().collect();
        let expected: Vec<Option<i32>> = (0..200).map(|index| (index > 0).then_some(1)).collect();
        assert_eq!(got, expected);
        let read = super::super::schema::batch_to_rows(&encoded, "test").unwrap();
        let parents: Vec<Option<SpanId>> = read.iter().map(|row| row.span.parent_span_id).collect();
        let sent: Vec<Option<SpanId>> = rows.iter().map(|row| row.span.parent_span_id).collect();
        assert_eq!(parents, sent);
    }
}
