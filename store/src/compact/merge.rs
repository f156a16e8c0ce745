//! The streaming merge of parts into one part of time slices.
//!
//! The inputs' row groups are read in order of their earliest start. Rows wait in a buffer
//! until no row group still unread can hold an earlier one (its earliest start, the
//! watermark, is past them); then the earliest [`ROW_GROUP_ROWS`] become the next output row
//! group, sorted by trace id. Inputs of format 2 are time slices, so the buffer holds about one
//! row group per input whose time range overlaps; a format 1 input (sorted by trace id, every
//! row group spanning its whole range) would hold the watermark back until the end, so the
//! buffer is capped (at [`MAX_BUFFERED_ROWS`]): past it the earliest rows are written anyway,
//! and those output row groups overlap a little in time (searches stay correct, they prune by
//! each row group's own range).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use object_store::ObjectStore;
use sightline_model::TenantId;

use crate::error::Error;
use crate::part::reader::read_row_group;
use crate::part::schema::{columns, sort_rows_by_trace, SpanColumns};
use crate::part::writer::{new_part_path, put_part, ColumnCoding, PartEncoder, ROW_GROUP_ROWS};
use crate::part::PartInfo;
use crate::part::{attributes, parents};

/// Most rows the merge holds before writing the earliest of them regardless of the watermark.
pub const MAX_BUFFERED_ROWS: usize = 8 * ROW_GROUP_ROWS;

/// One input row group, by its earliest span start.
struct InputSlice {
    part: usize,
    row_group: usize,
    min_start: u64,
}

/// Rows read and not yet written: the batches they are in and (start, batch, row) of each,
/// sorted by start.
struct Buffer {
    batches: Vec<RecordBatch>,
    rows: Vec<(u64, u32, u32)>,
    max_rows: usize,
}

impl Buffer {
    fn new(max_rows: usize) -> Self {
        Self {
            batches: Vec::new(),
            rows: Vec::new(),
            max_rows,
        }
    }

    /// Adds a batch already in the output's schema.
    fn add(&mut self, batch: RecordBatch) -> Result<(), Error> {
        let starts = SpanColumns::new(&batch, "compaction input").u64(columns::START)?;
        let index = self.batches.len() as u32;
        self.rows.extend(
            starts
                .values()
                .iter()
                .enumerate()
                .map(|(row, start)| (*start, index, row as u32)),
        );
        self.batches.push(batch);
        self.rows.sort_unstable();
        Ok(())
    }

    /// Takes the next output row group: the earliest [`ROW_GROUP_ROWS`] rows once that many
    /// start before `watermark` (or the buffer is over its most rows), or, when
    /// `last`, whatever is left. Returns them sorted by trace id and start.
    fn take_slice(&mut self, watermark: u64, last: bool) -> Result<Option<RecordBatch>, Error> {
        let ready = self
            .rows
            .partition_point(|(start, _, _)| *start < watermark);
        let count = if ready >= ROW_GROUP_ROWS || self.rows.len() > self.max_rows {
            ROW_GROUP_ROWS.min(self.rows.len())
        } else if last {
            self.rows.len().min(ROW_GROUP_ROWS)
        } else {
            0
        };
        if count == 0 {
            return Ok(None);
        }
        let taken: Vec<(usize, usize)> = self
            .rows
            .drain(..count)
            .map(|(_, batch, row)| (batch as usize, row as usize))
            .collect();
        let references: Vec<&RecordBatch> = self.batches.iter().collect();
        let slice = arrow_select::interleave::interleave_record_batch(&references, &taken)
            .map_err(|source| Error::Arrow {
                what: "compaction slice".to_string(),
                source,
            })?;
        self.drop_unreferenced_batches();
        let mut order: Vec<u32> = (0..slice.num_rows() as u32).collect();
        sort_rows_by_trace(&slice, &mut order)?;
        crate::part::schema::take_rows(&slice, &order).map(Some)
    }

    /// Forgets the batches no buffered row is in, and renumbers the rest.
    fn drop_unreferenced_batches(&mut self) {
        let mut renumbered: Vec<Option<u32>> = vec![None; self.batches.len()];
        for (_, batch, _) in &self.rows {
            renumbered[*batch as usize] = Some(0);
        }
        let mut kept = Vec::new();
        for (index, batch) in std::mem::take(&mut self.batches).into_iter().enumerate() {
            if let Some(number) = renumbered[index].as_mut() {
                *number = kept.len() as u32;
                kept.push(batch);
            }
        }
        for (_, batch, _) in &mut self.rows {
            *batch = renumbered[*batch as usize].unwrap_or(0);
        }
        self.batches = kept;
    }
}

/// Merges parts of one partition into one part of time slices, holding at most about
/// `max_buffered_rows` rows (compaction passes [`MAX_BUFFERED_ROWS`]).
///
/// # Errors
/// Object store, Parquet or encoding failures.
pub async fn merge_into_time_slices(
    objects: &Arc<dyn ObjectStore>,
    tenant: &TenantId,
    day: &str,
    parts: &[Arc<PartInfo>],
    max_buffered_rows: usize,
) -> Result<Arc<PartInfo>, Error> {
    let path = new_part_path(tenant, day);
    let total_rows: u64 = parts.iter().map(|part| part.rows).sum();
    // A part that does not say how many traces its row groups hold (format 1) may hold one per
    // row: its bloom filters are sized for that.
    let trace_ids_per_row_group = parts
        .iter()
        .map(|part| part.trace_ids_per_row_group.unwrap_or(ROW_GROUP_ROWS))
        .max()
        .unwrap_or(ROW_GROUP_ROWS);
    // Weighed by each input's rows: a part's footer does not count an attribute's values.
    let attribute_columns = attributes::union(parts.iter().flat_map(|part| {
        let rows = usize::try_from(part.rows).unwrap_or(usize::MAX);
        part.attribute_columns
            .iter()
            .map(move |column| (column.clone(), rows))
    }));
    // Each column as the input that held the most distinct values wrote it.
    let mut codings: BTreeMap<String, ColumnCoding> = BTreeMap::new();
    for (name, coding) in parts.iter().flat_map(|part| part.column_codings()) {
        let kept = codings.entry(name).or_insert(coding);
        *kept = (*kept).max(coding);
    }
    let mut encoder = PartEncoder::new(
        path.as_ref(),
        usize::try_from(total_rows).unwrap_or(usize::MAX),
        trace_ids_per_row_group,
        &attribute_columns,
        &codings,
    )?;
    let mut slices: Vec<InputSlice> = parts
        .iter()
        .enumerate()
        .flat_map(|(part, info)| {
            info.row_group_starts
                .iter()
                .enumerate()
                .map(move |(row_group, (min_start, _))| InputSlice {
                    part,
                    row_group,
                    min_start: *min_start,
                })
        })
        .collect();
    slices.sort_by_key(|slice| slice.min_start);
    let mut buffer = Buffer::new(max_buffered_rows);
    for (index, slice) in slices.iter().enumerate() {
        let part = &parts[slice.part];
        let path = part.path.to_string();
        let row_group = read_row_group(objects, part, slice.row_group).await?;
        let row_group = attributes::reshape(&row_group, &attribute_columns, &path)?;
        // Parent offsets count rows of the row group; its rows are reordered here.
        buffer.add(parents::resolve_offsets(&row_group, &path)?)?;
        let watermark = slices
            .get(index + 1)
            .map_or(u64::MAX, |next| next.min_start);
        let last = index + 1 == slices.len();
        while let Some(output) = buffer.take_slice(watermark, last)? {
            encoder = write_row_group(encoder, output).await?;
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

/// Encodes one output row group on the blocking pool.
async fn write_row_group(
    mut encoder: PartEncoder,
    slice: RecordBatch,
) -> Result<PartEncoder, Error> {
    tokio::task::spawn_blocking(move || {
        encoder.write_row_group(&slice)?;
        Ok(encoder)
    })
    .await
    .map_err(|error| Error::Task {
        what: "part encoder",
        reason: error.to_string(),
    })?
}
