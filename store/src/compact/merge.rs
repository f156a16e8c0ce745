//! The streaming k-way merge of sorted parts into one part.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use futures::StreamExt;
use object_store::ObjectStore;
use sightline_model::TenantId;

use crate::error::Error;
use crate::part::reader::stream_part;
use crate::part::schema::{columns, SpanColumns};
use crate::part::writer::{new_part_path, put_part, PartEncoder, ROW_GROUP_ROWS};
use crate::part::PartInfo;

type PartStream =
    parquet::arrow::async_reader::ParquetRecordBatchStream<crate::part::io::PartReader>;

/// One input: its stream and the batch being consumed.
struct Input {
    stream: PartStream,
    /// Index of the current batch in the merge's held batches.
    held: usize,
    row: usize,
    rows: usize,
}

/// Sort key of a row: trace id, start time, then input number for a stable merge.
type Key = Reverse<([u8; 16], u64, usize)>;

fn key_of(batch: &RecordBatch, row: usize, input: usize) -> Result<Key, Error> {
    let columns = SpanColumns::new(batch, "compaction input");
    let trace_id = columns.trace_id(row)?;
    let start = columns.u64(columns::START)?.value(row);
    Ok(Reverse((trace_id.0, start, input)))
}

async fn next_batch(stream: &mut PartStream) -> Result<Option<RecordBatch>, Error> {
    match stream.next().await {
        Some(Ok(batch)) => Ok(Some(batch)),
        Some(Err(source)) => Err(Error::parquet("compaction input".to_string(), source)),
        None => Ok(None),
    }
}

/// Merges parts of one partition, each sorted by trace id and start, into one sorted part.
///
/// # Errors
/// Object store, Parquet or encoding failures.
pub async fn merge_sorted_parts(
    objects: &Arc<dyn ObjectStore>,
    tenant: &TenantId,
    day: &str,
    parts: &[Arc<PartInfo>],
) -> Result<Arc<PartInfo>, Error> {
    let path = new_part_path(tenant, day);
    let total_rows: u64 = parts.iter().map(|part| part.rows).sum();
    let mut encoder = PartEncoder::new(
        path.as_ref(),
        usize::try_from(total_rows).unwrap_or(usize::MAX),
    )?;
    let mut held: Vec<RecordBatch> = Vec::new();
    let mut inputs: Vec<Input> = Vec::new();
    let mut heap: BinaryHeap<Key> = BinaryHeap::new();
    for part in parts {
        let mut stream = stream_part(objects, part)?;
        if let Some(batch) = next_batch(&mut stream).await? {
            heap.push(key_of(&batch, 0, inputs.len())?);
            inputs.push(Input {
                stream,
                held: held.len(),
                row: 0,
                rows: batch.num_rows(),
            });
            held.push(batch);
        }
    }
    let mut chosen: Vec<(usize, usize)> = Vec::with_capacity(ROW_GROUP_ROWS);
    while let Some(Reverse((_, _, input_index))) = heap.pop() {
        let input = &mut inputs[input_index];
        chosen.push((input.held, input.row));
        input.row += 1;
        if input.row == input.rows {
            if let Some(batch) = next_batch(&mut input.stream).await? {
                input.held = held.len();
                input.row = 0;
                input.rows = batch.num_rows();
                held.push(batch);
            } else {
                input.rows = 0;
            }
        }
        if input.rows > 0 {
            heap.push(key_of(&held[input.held], input.row, input_index)?);
        }
        if chosen.len() == ROW_GROUP_ROWS || heap.is_empty() {
            encoder = write_chunk(encoder, &held, std::mem::take(&mut chosen)).await?;
            // Keep only the batches still being consumed, and renumber them.
            let mut kept = Vec::with_capacity(inputs.len());
            for input in inputs.iter_mut().filter(|input| input.rows > 0) {
                kept.push(held[input.held].clone());
                input.held = kept.len() - 1;
            }
            held = kept;
        }
    }
    let bytes = tokio::task::spawn_blocking(move || encoder.finish())
        .await
        .map_err(|error| Error::Task {
            what: "part encoder",
            reason: error.to_string(),
        })??;
    put_part(objects, path, tenant, day, bytes).await
}

/// Gathers the chosen rows into one batch and encodes it on the blocking pool.
async fn write_chunk(
    mut encoder: PartEncoder,
    held: &[RecordBatch],
    chosen: Vec<(usize, usize)>,
) -> Result<PartEncoder, Error> {
    let held = held.to_vec();
    tokio::task::spawn_blocking(move || {
        let references: Vec<&RecordBatch> = held.iter().collect();
        let chunk = arrow_select::interleave::interleave_record_batch(&references, &chosen)
            .map_err(|source| Error::Arrow {
                what: "compaction chunk".to_string(),
                source,
            })?;
        encoder.write(&chunk)?;
        Ok(encoder)
    })
    .await
    .map_err(|error| Error::Task {
        what: "part encoder",
        reason: error.to_string(),
    })?
}
