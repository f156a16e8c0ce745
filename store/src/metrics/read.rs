//! Reads parts: matches labels on a part's series table, then reads only the selected
//! series' sample rows (a row selection the page index turns into skipped pages), decoding
//! delta-coded values as it goes. A large selection is read in chunks of series, each a task
//! of its own ([`spawn_reads`]), merged in part order.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array};
use futures::TryStreamExt;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use promql_parser::label::{MatchOp, Matcher};
use sightline_model::{Labels, MetricSample, METRIC_NAME_LABEL};
use tokio_util::task::AbortOnDropHandle;

use super::catalog::MetricPart;
use super::labels_match;
use super::part::{columns, SeriesTable};
use super::value_codec::{self, DeltaDecoder};
use crate::error::Error;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 64 * 1024;

/// Returns the refs of the part's series that match every matcher and may have samples in
/// `start_ms..=end_ms`, ascending.
pub(crate) fn matching_series(
    table: &SeriesTable,
    matchers: &[Matcher],
    start_ms: i64,
    end_ms: i64,
) -> Vec<u32> {
    let in_range = |series_ref: &u32| {
        let i = *series_ref as usize;
        table.min_time_ms[i] <= end_ms && table.max_time_ms[i] >= start_ms
    };
    let by_name = matchers
        .iter()
        .find(|m| m.name == METRIC_NAME_LABEL && m.op == MatchOp::Equal);
    let candidates: Box<dyn Iterator<Item = u32>> = match by_name {
        Some(matcher) => Box::new(
            table
                .by_metric
                .get(&matcher.value)
                .into_iter()
                .flatten()
                .copied(),
        ),
        None => Box::new(0..table.labels.len() as u32),
    };
    candidates
        .filter(in_range)
        .filter(|series_ref| labels_match(&table.labels[*series_ref as usize], matchers))
        .collect()
}

/// The series of one part a read selects.
pub(crate) struct PartSelection {
    pub(crate) part: Arc<MetricPart>,
    pub(crate) table: Arc<SeriesTable>,
    /// Refs, ascending.
    pub(crate) series: Vec<u32>,
}

/// What a chunk read yields: the series it read and how the read ended.
type ChunkOutcome = (BTreeMap<Labels, Vec<MetricSample>>, Result<(), Error>);

/// A chunk of one part's selected series being read by a task of its own.
pub(crate) struct ChunkRead {
    part: Arc<MetricPart>,
    task: AbortOnDropHandle<ChunkOutcome>,
}

/// Starts reading every selection in chunks of about `chunk_rows` rows, each a task under
/// the running query's scan budget, so that decoding a large selection uses every core of the
/// runtime; merge the reads in the order returned (parts by time). The first chunk a series is
/// read in makes room for all its samples over every part and the head, as `rows_of` counts
/// them (see [`rows_per_series`]; each series' entry is taken), so appending the rest copies
/// nothing.
pub(crate) fn spawn_reads(
    objects: &Arc<dyn ObjectStore>,
    selections: Vec<PartSelection>,
    rows_of: &mut BTreeMap<Labels, usize>,
    time: std::ops::RangeInclusive<i64>,
    chunk_rows: usize,
) -> Vec<ChunkRead> {
    let mut reads = Vec::new();
    for PartSelection {
        part,
        table,
        series,
    } in selections
    {
        for chunk in row_chunks(&table, &series, chunk_rows) {
            let capacities: Vec<usize> = chunk
                .iter()
                .map(|&i| rows_of.remove(&table.labels[i as usize]).unwrap_or(0))
                .collect();
            let (objects, reading, table) =
                (Arc::clone(objects), Arc::clone(&part), Arc::clone(&table));
            let chunk = chunk.to_vec();
            let time = time.clone();
            let task = crate::scan::spawn_in_budget(async move {
                let mut read = BTreeMap::new();
                let result = read_series(
                    &objects,
                    &reading,
                    &table,
                    &chunk,
                    Some(&capacities),
                    time,
                    &mut read,
                )
                .await;
                (read, result)
            });
            reads.push(ChunkRead {
                part: Arc::clone(&part),
                task,
            });
        }
    }
    reads
}

/// Every selected series with its sample rows over all the parts' selections and `head`.
pub(crate) fn rows_per_series(
    selections: &[PartSelection],
    head: &BTreeMap<Labels, Vec<MetricSample>>,
) -> BTreeMap<Labels, usize> {
    let mut rows_of: BTreeMap<Labels, usize> = head
        .iter()
        .map(|(labels, samples)| (labels.clone(), samples.len()))
        .collect();
    for selection in selections {
        for &series_ref in &selection.series {
            let i = series_ref as usize;
            *rows_of
                .entry(selection.table.labels[i].clone())
                .or_default() += selection.table.row_count[i] as usize;
        }
    }
    rows_of
}

impl ChunkRead {
    /// Waits for the chunk and appends its series to `merged`; returns its part and how the
    /// read ended (what it yielded before finding corruption was decoded whole and is kept).
    /// Series whose samples did not follow on in time (a repeat or an overlap between
    /// parts) are added to `unsorted`: a part holds each series' samples in time order, so
    /// only the joins between reads need checking.
    ///
    /// # Errors
    /// [`Error::Task`] when the task panicked or was aborted.
    pub(crate) async fn merge_into(
        self,
        merged: &mut BTreeMap<Labels, Vec<MetricSample>>,
        unsorted: &mut Vec<Labels>,
    ) -> Result<(Arc<MetricPart>, Result<(), Error>), Error> {
        let (read, result) = self.task.await.map_err(|error| Error::Task {
            what: "metric part read",
            reason: error.to_string(),
        })?;
        for (labels, samples) in read {
            append_run(merged, labels, samples, unsorted);
        }
        Ok((self.part, result))
    }
}

/// Splits `series` (refs ascending) into runs of about `rows` sample rows of the part each
/// (a series is never split; one series may exceed it).
pub(crate) fn row_chunks<'s>(
    table: &SeriesTable,
    series: &'s [u32],
    rows: usize,
) -> Vec<&'s [u32]> {
    let mut chunks = Vec::new();
    let (mut start, mut taken) = (0, 0);
    for (i, &series_ref) in series.iter().enumerate() {
        taken += table.row_count[series_ref as usize] as usize;
        if taken >= rows {
            chunks.push(&series[start..=i]);
            (start, taken) = (i + 1, 0);
        }
    }
    if start < series.len() {
        chunks.push(&series[start..]);
    }
    chunks
}

/// Reads the samples of `series` (refs ascending) of one part and adds those in `time` (ms)
/// to `out`. `capacities` (one per series) says how many samples to make
/// room for when a series first gets some, when the caller knows it will add more from other
/// parts; by default, the series' rows in this part.
pub(crate) async fn read_series(
    objects: &Arc<dyn ObjectStore>,
    part: &MetricPart,
    table: &SeriesTable,
    series: &[u32],
    capacities: Option<&[usize]>,
    time: std::ops::RangeInclusive<i64>,
    out: &mut BTreeMap<Labels, Vec<MetricSample>>,
) -> Result<(), Error> {
    let (start_ms, end_ms) = time.into_inner();
    let rows: Vec<SeriesRows> = series
        .iter()
        .map(|&series_ref| SeriesRows {
            series_ref,
            skip: 0,
            rows: table.row_count[series_ref as usize] as usize,
        })
        .collect();
    let mut reserved_for = None;
    read_rows(
        objects,
        part,
        table,
        &rows,
        |position, timestamps, values| {
            let from = timestamps.partition_point(|t| *t < start_ms);
            let to = timestamps.partition_point(|t| *t <= end_ms);
            if from < to {
                let series_ref = rows[position].series_ref as usize;
                let samples = out.entry(table.labels[series_ref].clone()).or_default();
                if reserved_for != Some(position) {
                    // A series' rows in the part bound what it gets from it: one allocation
                    // per part, not a doubling per batch.
                    let rows = table.row_count[series_ref] as usize;
                    let capacity = capacities.and_then(|c| c.get(position).copied());
                    samples.reserve(capacity.unwrap_or(rows).max(rows));
                    reserved_for = Some(position);
                }
                samples.extend(
                    timestamps[from..to]
                        .iter()
                        .zip(&values[from..to])
                        .map(|(t, v)| MetricSample {
                            timestamp_ms: *t,
                            value: *v,
                        }),
                );
            }
        },
    )
    .await
}

/// Some of one series' sample rows: `rows` rows from its `skip`-th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeriesRows {
    /// The series.
    pub(crate) series_ref: u32,
    /// Rows of the series skipped before the first one read.
    pub(crate) skip: usize,
    /// Rows read.
    pub(crate) rows: usize,
}

/// Reads the given rows of each series (refs ascending) of one part, handing each decoded
/// run of rows to `visit` with the position in `series` it belongs to (a series' rows may
/// come in several runs, in order).
pub(crate) async fn read_rows(
    objects: &Arc<dyn ObjectStore>,
    part: &MetricPart,
    table: &SeriesTable,
    series: &[SeriesRows],
    mut visit: impl FnMut(usize, &[i64], &[f64]),
) -> Result<(), Error> {
    if series.iter().all(|s| s.rows == 0) {
        return Ok(());
    }
    let parquet_error = |source| Error::parquet(part.samples_path.to_string(), source);
    let corrupt = |reason: &str| Error::Corrupt {
        what: "metric samples",
        path: part.samples_path.to_string(),
        reason: reason.to_string(),
    };
    let reads: Vec<SeriesRead> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| s.rows > 0)
        .map(|(position, s)| SeriesRead::new(table, position, s))
        .collect();
    let mut selectors = Vec::with_capacity(reads.len() * 2);
    let mut position = 0u64;
    for read in &reads {
        if read.first_row > position {
            selectors.push(RowSelector::skip((read.first_row - position) as usize));
        }
        selectors.push(RowSelector::select(read.rows));
        position = read.first_row + read.rows as u64;
    }
    let schema = part.samples_metadata.parquet_schema();
    // Only the value columns some read series uses: the other is all nulls for them, whose
    // decoding (levels, padding) is a fair share of a read. Parts of format 1 hold every
    // value in `value`, and every series is read as floats there.
    let mut leaves =
        vec![leaf_index(schema, columns::TIMESTAMP).ok_or_else(|| corrupt("no timestamp_ms"))?];
    if reads.iter().any(|read| read.decoder.is_none()) {
        leaves.push(leaf_index(schema, columns::VALUE).ok_or_else(|| corrupt("no value"))?);
    }
    if reads.iter().any(|read| read.decoder.is_some()) {
        leaves.push(
            leaf_index(schema, columns::VALUE_DELTA).ok_or_else(|| corrupt("no value_delta"))?,
        );
    }
    let projection = ProjectionMask::leaves(schema, leaves);
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
        part.samples_reader(objects),
        part.samples_metadata.clone(),
    )
    .with_batch_size(BATCH_ROWS)
    .with_projection(projection)
    .with_row_selection(RowSelection::from(selectors))
    .build()
    .map_err(parquet_error)?;

    // Batches arrive in row order: walk the selected series, each taking its row count.
    let mut reads = reads.into_iter();
    let mut current: Option<SeriesRead> = None;
    let mut decoded = Vec::new();
    while let Some(batch) = stream.try_next().await.map_err(parquet_error)? {
        let timestamps = batch
            .column_by_name(columns::TIMESTAMP)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .ok_or_else(|| corrupt("timestamp_ms is not i64"))?;
        let values = batch
            .column_by_name(columns::VALUE)
            .map(|c| c.as_any().downcast_ref::<Float64Array>())
            .map(|c| c.ok_or_else(|| corrupt("value is not f64")))
            .transpose()?;
        let deltas = batch
            .column_by_name(columns::VALUE_DELTA)
            .map(|c| c.as_any().downcast_ref::<Int64Array>())
            .map(|c| c.ok_or_else(|| corrupt("value_delta is not i64")))
            .transpose()?;
        let mut row = 0;
        while row < batch.num_rows() {
            let read = match &mut current {
                Some(read) if read.rows > 0 => read,
                _ => current.insert(
                    reads
                        .next()
                        .ok_or_else(|| corrupt("more rows than the series table says"))?,
                ),
            };
            let take = read.rows.min(batch.num_rows() - row);
            let rows = row..row + take;
            let run_values = match &mut read.decoder {
                None => {
                    let values = values.ok_or_else(|| corrupt("no value column"))?;
                    &values.values()[rows.clone()]
                }
                Some(decoder) => {
                    let deltas = deltas.ok_or_else(|| corrupt("no value_delta column"))?;
                    decoded.clear();
                    decoded.extend(
                        deltas.values()[rows.clone()]
                            .iter()
                            .map(|d| decoder.next(*d)),
                    );
                    &decoded[..]
                }
            };
            // Rows before the asked ones were read only to decode from a key row.
            let lead = read.lead.min(take);
            read.lead -= lead;
            read.rows -= take;
            if lead < take {
                visit(
                    read.position,
                    &timestamps.values()[rows.clone()][lead..],
                    &run_values[lead..],
                );
            }
            row += take;
        }
    }
    Ok(())
}

/// How one series' asked rows are read: from the key row at or before the first asked row
/// when the series is delta-coded, decoding as it goes.
struct SeriesRead {
    /// Its position in the caller's list.
    position: usize,
    /// The part row of the first row read.
    first_row: u64,
    /// Rows still to read.
    rows: usize,
    /// Rows still to read that precede the asked ones.
    lead: usize,
    decoder: Option<DeltaDecoder>,
}

impl SeriesRead {
    fn new(table: &SeriesTable, position: usize, asked: &SeriesRows) -> Self {
        let i = asked.series_ref as usize;
        let exponent = table.value_exponents.get(i).copied().flatten();
        let start = match exponent {
            Some(_) => value_codec::key_row_at_or_before(asked.skip),
            None => asked.skip,
        };
        let lead = asked.skip - start;
        SeriesRead {
            position,
            first_row: table.first_row[i] + start as u64,
            rows: asked.rows + lead,
            lead,
            decoder: exponent.map(|exponent| DeltaDecoder::new(exponent, start)),
        }
    }
}

fn leaf_index(schema: &parquet::schema::types::SchemaDescriptor, name: &str) -> Option<usize> {
    schema
        .columns()
        .iter()
        .position(|column| column.name() == name)
}

/// Appends a time-ordered run of a series' samples to what `merged` holds of it, and adds
/// the series to `unsorted` when the run does not start after what it holds.
pub(crate) fn append_run(
    merged: &mut BTreeMap<Labels, Vec<MetricSample>>,
    labels: Labels,
    run: Vec<MetricSample>,
    unsorted: &mut Vec<Labels>,
) {
    match merged.entry(labels) {
        Entry::Vacant(entry) => {
            entry.insert(run);
        }
        Entry::Occupied(mut entry) => {
            let held = entry.get().last().map(|s| s.timestamp_ms);
            let next = run.first().map(|s| s.timestamp_ms);
            if let (Some(held), Some(next)) = (held, next) {
                if held >= next {
                    unsorted.push(entry.key().clone());
                }
            }
            entry.get_mut().extend(run);
        }
    }
}

/// Sorts each of the `unsorted` series' samples by time and drops repeated timestamps (the
/// same sample stored in a part and still in the head, or in two parts before compaction).
pub(crate) fn sort_unsorted(series: &mut BTreeMap<Labels, Vec<MetricSample>>, unsorted: &[Labels]) {
    for labels in unsorted {
        if let Some(samples) = series.get_mut(labels) {
            sort_samples(samples);
        }
    }
}

/// Sorts each series' samples by time and drops repeated timestamps, checking every series.
pub(crate) fn normalise(series: &mut BTreeMap<Labels, Vec<MetricSample>>) {
    for samples in series.values_mut() {
        if samples
            .windows(2)
            .any(|w| w[0].timestamp_ms >= w[1].timestamp_ms)
        {
            sort_samples(samples);
        }
    }
}

fn sort_samples(samples: &mut Vec<MetricSample>) {
    samples.sort_by_key(|s| s.timestamp_ms);
    samples.dedup_by_key(|s| s.timestamp_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_chunks_hold_whole_series_of_about_the_rows_asked() {
        let table = SeriesTable {
            row_count: vec![5, 1, 1, 9, 2, 2],
            ..SeriesTable::default()
        };
        let series = [0, 1, 2, 3, 4, 5];
        assert_eq!(
            row_chunks(&table, &series, 6),
            vec![&[0, 1][..], &[2, 3][..], &[4, 5][..]]
        );
        assert_eq!(row_chunks(&table, &series[1..3], 6), vec![&[1, 2][..]]);
        assert!(row_chunks(&table, &[], 6).is_empty());
    }
}
