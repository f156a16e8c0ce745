//! Reads parts: trace lookup (row-group statistics, then the bloom filter, then a row filter on
//! the trace id column), search scans pruned by time, and whole-part reads for compaction.

use std::sync::Arc;

use arrow_array::{BooleanArray, RecordBatch};
use futures::TryStreamExt;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, RowFilter};
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use sightline_model::{SpanRow, TraceId};

use super::catalog::PartInfo;
use super::io::PartReader;
use super::schema::{batch_to_rows, columns};
use crate::error::Error;
use crate::spans::SpanQuery;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8192;

fn builder(objects: &Arc<dyn ObjectStore>, part: &PartInfo) -> ParquetRecordBatchStreamBuilder<PartReader> {
    let reader = PartReader::new(objects.clone(), part.path.clone(), part.size_bytes);
    ParquetRecordBatchStreamBuilder::new_with_metadata(reader, part.metadata.clone()).with_batch_size(BATCH_ROWS)
}

fn column_index(part: &PartInfo, name: &str) -> Result<usize, Error> {
    part.metadata
        .parquet_schema()
        .columns()
        .iter()
        .position(|column| column.name() == name)
        .ok_or_else(|| Error::Corrupt { what: "part schema", path: part.path.to_string(), reason: format!("missing column {name}") })
}

fn parquet_error(part: &PartInfo) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |source| Error::Parquet { path: part.path.to_string(), source }
}

/// Returns the row groups whose trace id statistics and bloom filter admit `trace_id`.
async fn row_groups_with_trace(objects: &Arc<dyn ObjectStore>, part: &PartInfo, trace_id: &TraceId) -> Result<Vec<usize>, Error> {
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

/// Returns the spans of `trace_id` stored in `part`.
///
/// # Errors
/// Object store, Parquet or decoding failures.
pub async fn find_trace_in_part(objects: &Arc<dyn ObjectStore>, part: &PartInfo, trace_id: &TraceId) -> Result<Vec<SpanRow>, Error> {
    let row_groups = row_groups_with_trace(objects, part, trace_id).await?;
    metrics::counter!("sightline_part_row_groups_pruned_total").increment(
        (part.metadata.metadata().num_row_groups() - row_groups.len()) as u64,
    );
    if row_groups.is_empty() {
        return Ok(Vec::new());
    }
    let column = column_index(part, columns::TRACE_ID)?;
    let wanted = *trace_id.as_bytes();
    let predicate = ArrowPredicateFn::new(
        ProjectionMask::leaves(part.metadata.parquet_schema(), [column]),
        move |batch: RecordBatch| {
            let ids = batch.column(0).as_any().downcast_ref::<arrow_array::FixedSizeBinaryArray>();
            Ok(match ids {
                Some(ids) => ids.iter().map(|id| Some(id == Some(wanted.as_slice()))).collect::<BooleanArray>(),
                None => BooleanArray::from(vec![false; batch.num_rows()]),
            })
        },
    );
    let stream = builder(objects, part)
        .with_row_groups(row_groups)
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .build()
        .map_err(parquet_error(part))?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(parquet_error(part))?;
    let path = part.path.to_string();
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(batch_to_rows(batch, &path)?);
    }
    Ok(rows)
}

/// Returns (trace id, span start) of every span in `part` matching `query`. Row groups outside
/// the query's time range are skipped by their statistics.
///
/// # Errors
/// Object store, Parquet or decoding failures.
pub async fn search_part(objects: &Arc<dyn ObjectStore>, part: &PartInfo, query: &SpanQuery) -> Result<Vec<(TraceId, u64)>, Error> {
    let start_column = column_index(part, columns::START)?;
    let row_groups: Vec<usize> = part
        .metadata
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, row_group)| match row_group.column(start_column).statistics() {
            Some(stats) => {
                let as_u64 = |bytes: Option<&[u8]>| bytes.and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes);
                let min = as_u64(stats.min_bytes_opt()).unwrap_or(0);
                let max = as_u64(stats.max_bytes_opt()).unwrap_or(u64::MAX);
                min <= query.end_unix_nano && max >= query.start_unix_nano
            }
            None => true,
        })
        .map(|(index, _)| index)
        .collect();
    if row_groups.is_empty() {
        return Ok(Vec::new());
    }
    let stream = builder(objects, part).with_row_groups(row_groups).build().map_err(parquet_error(part))?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(parquet_error(part))?;
    let path = part.path.to_string();
    let mut hits = Vec::new();
    for batch in &batches {
        let rows = batch_to_rows(batch, &path)?;
        hits.extend(
            rows.iter()
                .filter(|row| query.matches(row))
                .map(|row| (row.span.trace_id, row.span.start_time_unix_nano)),
        );
    }
    Ok(hits)
}

/// Reads every row of a part (for compaction).
///
/// # Errors
/// Object store, Parquet or decoding failures.
pub async fn read_part(objects: &Arc<dyn ObjectStore>, part: &PartInfo) -> Result<Vec<SpanRow>, Error> {
    let stream = builder(objects, part).build().map_err(parquet_error(part))?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(parquet_error(part))?;
    let path = part.path.to_string();
    let mut rows = Vec::with_capacity(part.rows as usize);
    for batch in &batches {
        rows.extend(batch_to_rows(batch, &path)?);
    }
    Ok(rows)
}
