//! Reads parts: matches labels on a part's series table, then reads only the selected
//! series' sample rows (a row selection the page index turns into skipped pages), a series
//! at a time ([`PartCursor`]), turning scaled integers into values as it goes. Selections
//! cut a large read into tasks (see [`super::batches`]), each reading a run of series from
//! every part that holds them.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch};
use futures::TryStreamExt;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::arrow::async_reader::{ParquetRecordBatchStream, ParquetRecordBatchStreamBuilder};
use parquet::arrow::ProjectionMask;
use promql_parser::label::{MatchOp, Matcher};
use sightline_model::{Labels, MetricSample, METRIC_NAME_LABEL};

use super::catalog::MetricPart;
use super::labels_match;
use super::part::{columns, SeriesTable};
use super::value_codec::{self, DeltaDecoder, ScaledDecoder};
use crate::error::Error;
use crate::part::io::PartReader;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 16 * 1024;

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
    // The series of the named metric match its name: only the other matchers are checked.
    let others: Vec<Matcher> = matchers
        .iter()
        .filter(|m| by_name.is_none_or(|by_name| !std::ptr::eq(*m, by_name)))
        .cloned()
        .collect();
    candidates
        .filter(in_range)
        .filter(|series_ref| labels_match(&table.labels[*series_ref as usize], &others))
        .collect()
}

/// The series of one part a read selects.
pub(crate) struct PartSelection {
    pub(crate) part: Arc<MetricPart>,
    pub(crate) table: Arc<SeriesTable>,
    /// Refs, ascending.
    pub(crate) series: Vec<u32>,
}

/// A sample as a selection hands it out: the store's [`MetricSample`], or the `(timestamp in
/// ms, value)` pair the PromQL engine works on, built as the rows are decoded so that neither
/// is copied into the other.
pub trait Point: Copy + Send + 'static {
    /// The sample at `timestamp_ms` with `value`.
    fn at(timestamp_ms: i64, value: f64) -> Self;
    /// Its time in milliseconds.
    fn timestamp_ms(&self) -> i64;
}

impl Point for MetricSample {
    fn at(timestamp_ms: i64, value: f64) -> Self {
        MetricSample {
            timestamp_ms,
            value,
        }
    }

    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
}

impl Point for (i64, f64) {
    fn at(timestamp_ms: i64, value: f64) -> Self {
        (timestamp_ms, value)
    }

    fn timestamp_ms(&self) -> i64 {
        self.0
    }
}

/// Reads the samples of `series` (refs ascending) of one part and appends those in `time`
/// (ms) to what `out` holds of each; a series without samples there gets no entry.
pub(crate) async fn read_series(
    objects: &Arc<dyn ObjectStore>,
    part: &MetricPart,
    table: &SeriesTable,
    series: &[u32],
    time: std::ops::RangeInclusive<i64>,
    out: &mut BTreeMap<Labels, Vec<MetricSample>>,
) -> Result<(), Error> {
    let time = time.into_inner();
    let rows = whole_rows(table, series);
    let mut cursor = PartCursor::open(objects, part, table, &rows)?;
    while let Some(position) = cursor.next_position() {
        let series_ref = rows[position].series_ref as usize;
        let labels = &table.labels[series_ref];
        let samples = out.entry(labels.clone()).or_default();
        // A series' rows in the part bound what it gets from it: one allocation per series,
        // not a doubling per decoded batch.
        samples.reserve(rows[position].rows);
        cursor
            .read_next(|timestamps, run| append_in_time(samples, timestamps, run, time))
            .await?;
        if samples.is_empty() {
            out.remove(labels);
        }
    }
    Ok(())
}

/// Every row of each of `series`.
pub(crate) fn whole_rows(table: &SeriesTable, series: &[u32]) -> Vec<SeriesRows> {
    series
        .iter()
        .map(|&series_ref| SeriesRows {
            series_ref,
            skip: 0,
            rows: table.row_count[series_ref as usize] as usize,
        })
        .collect()
}

/// One run of a series' decoded rows' values, as [`PartCursor::read_next`] hands them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Run<'r> {
    /// The values.
    Floats(&'r [f64]),
    /// Scaled integers and how to turn each into its value.
    Scaled(&'r [i64], ScaledDecoder),
}

/// Appends the samples of a run (sorted by time) in `start_ms..=end_ms` to `out`.
pub(crate) fn append_in_time<P: Point>(
    out: &mut Vec<P>,
    timestamps: &[i64],
    run: Run<'_>,
    (start_ms, end_ms): (i64, i64),
) {
    let from = timestamps.partition_point(|t| *t < start_ms);
    let to = timestamps.partition_point(|t| *t <= end_ms);
    if from >= to {
        return;
    }
    let times = timestamps[from..to].iter();
    match run {
        Run::Floats(values) => {
            out.extend(times.zip(&values[from..to]).map(|(t, v)| P::at(*t, *v)));
        }
        Run::Scaled(stored, decoder) => out.extend(
            times
                .zip(&stored[from..to])
                .map(|(t, integer)| P::at(*t, decoder.value(*integer))),
        ),
    }
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
    mut visit: impl FnMut(usize, &[i64], Run<'_>),
) -> Result<(), Error> {
    let mut cursor = PartCursor::open(objects, part, table, series)?;
    while let Some(position) = cursor.next_position() {
        cursor
            .read_next(|timestamps, run| visit(position, timestamps, run))
            .await?;
    }
    Ok(())
}

/// One part's asked rows, read a series at a time (refs ascending) by
/// [`PartCursor::read_next`]: a caller reading several parts can then take each series from
/// every part in turn while the rows it decoded are still in cache.
pub(crate) struct PartCursor {
    path: object_store::path::Path,
    /// `None` when no row is asked.
    stream: Option<ParquetRecordBatchStream<PartReader>>,
    /// The series still to read, the next first.
    reads: std::vec::IntoIter<SeriesRead>,
    current: Option<SeriesRead>,
    /// The decoded batch being read and the next row of it.
    batch: Option<DecodedRows>,
    row: usize,
    /// Scratch for a run's decoded delta-coded values.
    decoded: Vec<f64>,
}

/// The columns of one decoded batch of rows.
struct DecodedRows {
    timestamps: Int64Array,
    values: Option<Float64Array>,
    /// `value_scaled`, or `value_delta` in a format 2 part.
    integers: Option<Int64Array>,
}

impl PartCursor {
    /// Plans the read of `series`' asked rows (nothing is read until
    /// [`PartCursor::read_next`]).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the part lacks a column; Parquet errors.
    pub(crate) fn open(
        objects: &Arc<dyn ObjectStore>,
        part: &MetricPart,
        table: &SeriesTable,
        series: &[SeriesRows],
    ) -> Result<Self, Error> {
        // Format 2 parts hold decimal series as deltas from key rows.
        let schema = part.samples_metadata.parquet_schema();
        let keyed = leaf_index(schema, columns::VALUE_SCALED).is_none();
        let reads: Vec<SeriesRead> = series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.rows > 0)
            .map(|(position, s)| SeriesRead::new(table, position, s, keyed))
            .collect();
        let stream = if reads.is_empty() {
            None
        } else {
            Some(open_stream(objects, part, &reads)?)
        };
        Ok(PartCursor {
            path: part.samples_path.clone(),
            stream,
            reads: reads.into_iter(),
            current: None,
            batch: None,
            row: 0,
            decoded: Vec::new(),
        })
    }

    /// The position (in the caller's list) of the series [`PartCursor::read_next`] reads
    /// next; `None` once every asked row has been read.
    pub(crate) fn next_position(&mut self) -> Option<usize> {
        if self.current.is_none() {
            self.current = self.reads.next();
        }
        self.current.as_ref().map(|read| read.position)
    }

    /// Reads the next series' asked rows, handing each decoded run of them to `visit` (a
    /// series' rows may come in several runs, in order) as stored, so that a caller building
    /// samples from scaled integers decodes each as it builds it; returns its position,
    /// `None` once every asked row has been read.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the part's rows do not match its series table; Parquet errors.
    pub(crate) async fn read_next(
        &mut self,
        mut visit: impl FnMut(&[i64], Run<'_>),
    ) -> Result<Option<usize>, Error> {
        let Some(position) = self.next_position() else {
            return Ok(None);
        };
        loop {
            let Some(read) = self.current.as_mut().filter(|read| read.rows > 0) else {
                self.current = None;
                return Ok(Some(position));
            };
            let rows_left = self.batch.as_ref().map_or(0, |b| b.timestamps.len()) - self.row;
            if rows_left == 0 {
                let stream = self
                    .stream
                    .as_mut()
                    .ok_or_else(|| corrupt_samples(&self.path, "no rows to read"))?;
                let batch = stream
                    .try_next()
                    .await
                    .map_err(|source| Error::parquet(self.path.to_string(), source))?
                    .ok_or_else(|| {
                        corrupt_samples(&self.path, "fewer rows than the series table says")
                    })?;
                self.batch = Some(DecodedRows::of(&batch, &self.path)?);
                self.row = 0;
                continue;
            }
            let batch = self
                .batch
                .as_ref()
                .ok_or_else(|| corrupt_samples(&self.path, "no decoded rows"))?;
            let take = read.rows.min(rows_left);
            let rows = self.row..self.row + take;
            // Rows before the asked ones were read only to decode from a key row.
            let lead = read.lead.min(take);
            let run = match &mut read.decoder {
                None => {
                    let values = batch
                        .values
                        .as_ref()
                        .ok_or_else(|| corrupt_samples(&self.path, "no value column"))?;
                    Run::Floats(&values.values()[rows.clone()][lead..])
                }
                Some(decoder) => {
                    let integers = batch
                        .integers
                        .as_ref()
                        .ok_or_else(|| corrupt_samples(&self.path, "no scaled value column"))?;
                    let stored = &integers.values()[rows.clone()];
                    match decoder {
                        IntegerDecoder::Scaled(decoder) => Run::Scaled(&stored[lead..], *decoder),
                        IntegerDecoder::Deltas(decoder) => {
                            self.decoded.clear();
                            self.decoded
                                .extend(stored.iter().map(|&delta| decoder.next(delta)));
                            Run::Floats(&self.decoded[lead..])
                        }
                    }
                }
            };
            read.lead -= lead;
            read.rows -= take;
            if lead < take {
                visit(&batch.timestamps.values()[rows.clone()][lead..], run);
            }
            self.row += take;
        }
    }
}

impl DecodedRows {
    fn of(batch: &RecordBatch, path: &object_store::path::Path) -> Result<Self, Error> {
        let corrupt = |reason: &str| corrupt_samples(path, reason);
        let timestamps = batch
            .column_by_name(columns::TIMESTAMP)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .ok_or_else(|| corrupt("timestamp_ms is not i64"))?
            .clone();
        let values = batch
            .column_by_name(columns::VALUE)
            .map(|c| c.as_any().downcast_ref::<Float64Array>().cloned())
            .map(|c| c.ok_or_else(|| corrupt("value is not f64")))
            .transpose()?;
        let integers = batch
            .column_by_name(columns::VALUE_SCALED)
            .or_else(|| batch.column_by_name(columns::VALUE_DELTA))
            .map(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
            .map(|c| c.ok_or_else(|| corrupt("the scaled values are not i64")))
            .transpose()?;
        Ok(DecodedRows {
            timestamps,
            values,
            integers,
        })
    }
}

/// A part's samples object found not to be what its series table says.
fn corrupt_samples(path: &object_store::path::Path, reason: &str) -> Error {
    Error::Corrupt {
        what: "metric samples",
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// The stream of the rows `reads` ask for (in row order), with only the columns they use.
fn open_stream(
    objects: &Arc<dyn ObjectStore>,
    part: &MetricPart,
    reads: &[SeriesRead],
) -> Result<ParquetRecordBatchStream<PartReader>, Error> {
    let parquet_error = |source| Error::parquet(part.samples_path.to_string(), source);
    let corrupt = |reason: &str| corrupt_samples(&part.samples_path, reason);
    let mut selectors = Vec::with_capacity(reads.len() * 2);
    let mut position = 0u64;
    for read in reads {
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
        let integers = leaf_index(schema, columns::VALUE_SCALED)
            .or_else(|| leaf_index(schema, columns::VALUE_DELTA))
            .ok_or_else(|| corrupt("no scaled value column"))?;
        leaves.push(integers);
    }
    let projection = ProjectionMask::leaves(schema, leaves);
    ParquetRecordBatchStreamBuilder::new_with_metadata(
        part.samples_reader(objects),
        part.samples_metadata.clone(),
    )
    .with_batch_size(BATCH_ROWS)
    .with_projection(projection)
    .with_row_selection(RowSelection::from(selectors))
    .build()
    .map_err(parquet_error)
}

/// How one series' asked rows are read: decoding scaled integers when the series is a
/// decimal one, from the key row at or before the first asked row in a format 2 part.
struct SeriesRead {
    /// Its position in the caller's list.
    position: usize,
    /// The part row of the first row read.
    first_row: u64,
    /// Rows still to read.
    rows: usize,
    /// Rows still to read that precede the asked ones.
    lead: usize,
    /// `None` for a series stored as floats.
    decoder: Option<IntegerDecoder>,
}

/// How a decimal series' stored integers become its values.
enum IntegerDecoder {
    /// Format 3: each row holds its scaled value.
    Scaled(ScaledDecoder),
    /// Format 2: differences from key rows.
    Deltas(DeltaDecoder),
}

impl SeriesRead {
    /// `keyed` for a format 2 part, whose decimal series are read from key rows.
    fn new(table: &SeriesTable, position: usize, asked: &SeriesRows, keyed: bool) -> Self {
        let i = asked.series_ref as usize;
        let exponent = table.value_exponents.get(i).copied().flatten();
        let (start, decoder) = match exponent {
            Some(exponent) if keyed => {
                let start = value_codec::key_row_at_or_before(asked.skip);
                let decoder = IntegerDecoder::Deltas(DeltaDecoder::new(exponent, start));
                (start, Some(decoder))
            }
            Some(exponent) => (
                asked.skip,
                Some(IntegerDecoder::Scaled(ScaledDecoder::new(exponent))),
            ),
            None => (asked.skip, None),
        };
        let lead = asked.skip - start;
        SeriesRead {
            position,
            first_row: table.first_row[i] + start as u64,
            rows: asked.rows + lead,
            lead,
            decoder,
        }
    }
}

fn leaf_index(schema: &parquet::schema::types::SchemaDescriptor, name: &str) -> Option<usize> {
    schema
        .columns()
        .iter()
        .position(|column| column.name() == name)
}

/// Sorts each series' samples by time and drops repeated timestamps, checking every series.
pub(crate) fn normalise(series: &mut BTreeMap<Labels, Vec<MetricSample>>) {
    for samples in series.values_mut() {
        if samples
            .windows(2)
            .any(|w| w[0].timestamp_ms >= w[1].timestamp_ms)
        {
            sort_points(samples);
        }
    }
}

/// Sorts samples by time and drops repeated timestamps (the same sample stored in a part and
/// still in the head, or in two parts before compaction).
pub(crate) fn sort_points<P: Point>(samples: &mut Vec<P>) {
    samples.sort_by_key(P::timestamp_ms);
    samples.dedup_by_key(|s| s.timestamp_ms());
}
