//! Reads parts: trace lookup (row-group statistics, then the bloom filter, then a row filter on
//! the trace id column), search scans of chosen row groups, and row-group and whole-part reads
//! for compaction and quarantine.

use std::sync::Arc;

use arrow_array::{Array, BooleanArray, RecordBatch};
use futures::TryStreamExt;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, RowFilter, RowSelection};
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use sightline_model::{SpanRow, TraceId};

use super::catalog::PartInfo;
use super::io::PartReader;
use super::scan::ScanPlan;
use super::schema::{batch_to_rows, columns, SpanColumns};
use crate::error::Error;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8192;

fn builder(
    objects: &Arc<dyn ObjectStore>,
    part: &PartInfo,
) -> ParquetRecordBatchStreamBuilder<PartReader> {
    let reader = PartReader::new(objects.clone(), part.path.clone(), part.size_bytes);
    ParquetRecordBatchStreamBuilder::new_with_metadata(reader, part.metadata.clone())
        .with_batch_size(BATCH_ROWS)
}

fn column_index(part: &PartInfo, name: &str) -> Result<usize, Error> {
    part.metadata
        .parquet_schema()
        .columns()
        .iter()
        .position(|column| column.name() == name)
        .ok_or_else(|| Error::Corrupt {
            what: "part schema",
            path: part.path.to_string(),
            reason: format!("missing column {name}"),
        })
}

fn parquet_error(part: &PartInfo) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |source| Error::parquet(part.path.to_string(), source)
}

/// Returns the row groups whose trace id statistics and bloom filter admit `trace_id`.
async fn row_groups_with_trace(
    objects: &Arc<dyn ObjectStore>,
    part: &PartInfo,
    trace_id: &TraceId,
) -> Result<Vec<usize>, Error> {
    let column = column_index(part, columns::TRACE_ID)?;
    let wanted = trace_id.as_bytes().as_slice();
    let mut candidates = Vec::new();
    for (index, row_group) in part.metadata.metadata().row_groups().iter().enumerate() {
        let in_range = match row_group.column(column).statistics() {
            Some(stats) => match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
                (Some(min), Some(max)) => min <= wanted && wanted <= max,
                _ => true,
            },
            None => true,
        };
        if !in_range {
            continue;
        }
        let bloom = match part.cached_bloom(index) {
            Some(bloom) => bloom,
            None => {
                let bloom = builder(objects, part)
                    .get_row_group_column_bloom_filter(index, column)
                    .await
                    .map_err(parquet_error(part))?
                    .map(Arc::new);
                part.cache_bloom(index, bloom.clone());
                bloom
            }
        };
        if bloom.is_none_or(|bloom| bloom.check(wanted)) {
            candidates.push(index);
        }
    }
    Ok(candidates)
}

/// Narrows candidate row groups to the pages whose trace id range (from the page index) holds
/// `trace_id`. A row group is sorted by trace id, so this is usually one page. Returns the row
/// groups that keep at least one page and the selection of rows over them.
fn select_pages_with_trace(
    part: &PartInfo,
    column: usize,
    candidates: &[usize],
    trace_id: &TraceId,
) -> (Vec<usize>, RowSelection) {
    let metadata = part.metadata.metadata();
    let wanted = trace_id.as_bytes().as_slice();
    let mut row_groups = Vec::new();
    let mut ranges = Vec::new();
    let mut offset = 0usize;
    for &row_group in candidates {
        let rows = usize::try_from(metadata.row_group(row_group).num_rows()).unwrap_or(0);
        let page_index = metadata.page_index_for_row_group(row_group);
        let pages = match (
            page_index.column_index(column),
            page_index.offset_index(column),
        ) {
            (Some(ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(index)), Some(offsets)) => {
                let locations = offsets.page_locations();
                let mut pages = Vec::new();
                for (page, location) in locations.iter().enumerate() {
                    let holds = match (index.min_value(page), index.max_value(page)) {
                        (Some(min), Some(max)) => min <= wanted && wanted <= max,
                        _ => true,
                    };
                    if holds {
                        let start = usize::try_from(location.first_row_index).unwrap_or(0);
                        let end = locations.get(page + 1).map_or(rows, |next| {
                            usize::try_from(next.first_row_index).unwrap_or(rows)
                        });
                        pages.push(start..end);
                    }
                }
                pages
            }
            _ => std::iter::once(0..rows).collect(),
        };
        if pages.is_empty() {
            continue;
        }
        row_groups.push(row_group);
        ranges.extend(
            pages
                .into_iter()
                .map(|range| range.start + offset..range.end + offset),
        );
        offset += rows;
    }
    (
        row_groups,
        RowSelection::from_consecutive_ranges(ranges.into_iter(), offset),
    )
}

/// Returns the spans of `trace_id` stored in `part`.
///
/// # Errors
/// Object store, Parquet or decoding failures.
pub async fn find_trace_in_part(
    objects: &Arc<dyn ObjectStore>,
    part: &PartInfo,
    trace_id: &TraceId,
) -> Result<Vec<SpanRow>, Error> {
    let candidates = row_groups_with_trace(objects, part, trace_id).await?;
    let column = column_index(part, columns::TRACE_ID)?;
    let (row_groups, selection) = select_pages_with_trace(part, column, &candidates, trace_id);
    metrics::counter!("sightline_part_row_groups_pruned_total")
        .increment((part.metadata.metadata().num_row_groups() - row_groups.len()) as u64);
    if row_groups.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = *trace_id.as_bytes();
    let predicate = ArrowPredicateFn::new(
        ProjectionMask::leaves(part.metadata.parquet_schema(), [column]),
        move |batch: RecordBatch| {
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::FixedSizeBinaryArray>();
            Ok(match ids {
                Some(ids) => ids
                    .iter()
                    .map(|id| Some(id == Some(wanted.as_slice())))
                    .collect::<BooleanArray>(),
                None => BooleanArray::from(vec![false; batch.num_rows()]),
            })
        },
    );
    let stream = builder(objects, part)
        .with_row_groups(row_groups)
        .with_row_selection(selection)
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .build()
        .map_err(parquet_error(part))?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(parquet_error(part))?;
    let path = part.path.to_string();
    // One batch: a parent offset counts rows of the trace's run, which a batch boundary
    // could split.
    batch_to_rows(&concat(part.metadata.schema(), &batches, part)?, &path)
}

/// Returns (trace id, span start) of every span matching `plan` in some of a part's row
/// groups. Only the filtered columns are read, and the encoded attributes and resource are
/// decoded only for rows that pass every other filter.
///
/// # Errors
/// Object store, Parquet or decoding failures.
pub async fn search_row_groups(
    objects: &Arc<dyn ObjectStore>,
    part: &PartInfo,
    plan: &Arc<ScanPlan>,
    row_groups: Vec<usize>,
) -> Result<Vec<(TraceId, u64)>, Error> {
    let leaves = |names: Vec<String>| -> Result<ProjectionMask, Error> {
        let indices: Vec<usize> = names
            .iter()
            .map(|name| column_index(part, name))
            .collect::<Result<_, _>>()?;
        Ok(ProjectionMask::leaves(
            part.metadata.parquet_schema(),
            indices,
        ))
    };
    // The cheap filters run first, over their own columns; the trace ids and encoded values are
    // then decoded only for the rows that pass.
    let predicate_plan = plan.clone();
    let predicate = ArrowPredicateFn::new(
        leaves(plan.cheap_columns(part.metadata.schema()))?,
        move |batch: RecordBatch| {
            predicate_plan
                .cheap_mask(&batch)
                .map_err(|error| arrow_schema::ArrowError::ComputeError(error.to_string()))
        },
    );
    let stream = builder(objects, part)
        .with_row_groups(row_groups)
        .with_projection(leaves(plan.columns(part.metadata.schema()))?)
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .build()
        .map_err(parquet_error(part))?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(parquet_error(part))?;
    let path = part.path.to_string();
    let mut hits = Vec::new();
    for batch in &batches {
        plan.filter_batch(&SpanColumns::new(batch, &path), &mut hits)?;
    }
    Ok(hits)
}

/// Reads one row group of a part whole, as one batch (parent offsets count rows of the row
/// group, see [`super::parents`]).
///
/// # Errors
/// Object store or Parquet failures.
pub async fn read_row_group(
    objects: &Arc<dyn ObjectStore>,
    part: &PartInfo,
    row_group: usize,
) -> Result<RecordBatch, Error> {
    let batches: Vec<RecordBatch> = builder(objects, part)
        .with_row_groups(vec![row_group])
        .build()
        .map_err(parquet_error(part))?
        .try_collect()
        .await
        .map_err(parquet_error(part))?;
    concat(part.metadata.schema(), &batches, part)
}

/// Concatenates batches read from `part` into one.
fn concat(
    schema: &arrow_schema::SchemaRef,
    batches: &[RecordBatch],
    part: &PartInfo,
) -> Result<RecordBatch, Error> {
    arrow_select::concat::concat_batches(schema, batches).map_err(|source| Error::Arrow {
        what: format!("batches of {}", part.path),
        source,
    })
}

/// Streams a part's rows in file order in batches.
///
/// # Errors
/// Parquet failures setting up the stream.
pub fn stream_part(
    objects: &Arc<dyn ObjectStore>,
    part: &PartInfo,
) -> Result<parquet::arrow::async_reader::ParquetRecordBatchStream<PartReader>, Error> {
    builder(objects, part).build().map_err(parquet_error(part))
}
