//! Selections read a batch of series at a time ([`SeriesBatches`]).
//!
//! The selected series, in label order over every part and the head, are cut into batches
//! of about a given number of samples. Each part's series table is in label order, so a batch
//! is a run of each part's selected refs. A batch's reads (chunk tasks, as [`super::read`]
//! makes them) start while the caller works on the batch before, so a caller that folds
//! series one by one (a PromQL sweep) holds two batches of samples instead of every sample it
//! selected, and decoding overlaps with its work.

use std::collections::{BTreeMap, VecDeque};
use std::ops::RangeInclusive;
use std::sync::Arc;

use sightline_model::{Labels, MetricSample};

use super::catalog::MetricPart;
use super::read::{self, ChunkRead, PartSelection};
use super::{MetricStore, SelectedSeries, READ_CHUNK_ROWS};

/// Batches read ahead of the one handed out.
const READ_AHEAD: usize = 2;

/// Read tasks per batch, at least: one per part would leave cores idle where one part
/// holds most of the batch.
const TASKS_PER_BATCH: usize = 4;

/// The fewest rows a read task is given (unless every task is given fewer).
const MIN_CHUNK_ROWS: usize = if READ_CHUNK_ROWS < 1 << 14 {
    READ_CHUNK_ROWS
} else {
    1 << 14
};
use crate::error::Error;
use crate::part::quarantine;

/// The series of one selection, read a batch at a time by [`SeriesBatches::next`], in label
/// order. Dropping it aborts the reads it started.
pub struct SeriesBatches {
    store: MetricStore,
    /// What is left to read of each part: refs ascending, so also in label order.
    selections: Vec<PartSelection>,
    /// The head's series not yet handed out.
    head: BTreeMap<Labels, Vec<MetricSample>>,
    /// The last labels of each batch not yet started, ascending.
    bounds: VecDeque<Labels>,
    /// The rows of each series not yet read, over every part and the head (taken by the
    /// batch that reads it, to size its vector once).
    rows_of: BTreeMap<Labels, usize>,
    time: RangeInclusive<i64>,
    /// The next batches, their reads running.
    reading: VecDeque<Batch>,
    /// Rows per read task.
    chunk_rows: usize,
    /// Parts found corrupt (and quarantined) during this selection: read as nothing.
    dropped: Vec<Arc<MetricPart>>,
}

/// One batch being read.
struct Batch {
    reads: Vec<ChunkRead>,
    head: BTreeMap<Labels, Vec<MetricSample>>,
}

impl SeriesBatches {
    /// Plans batches of about `batch_samples` samples (a series is never split) over what
    /// the parts' `selections` and `head` hold in `time`.
    pub(super) fn new(
        store: MetricStore,
        selections: Vec<PartSelection>,
        head: BTreeMap<Labels, Vec<MetricSample>>,
        time: RangeInclusive<i64>,
        batch_samples: usize,
    ) -> Self {
        let rows_of = read::rows_per_series(&selections, &head);
        SeriesBatches {
            store,
            selections,
            head,
            bounds: batch_bounds(&rows_of, batch_samples),
            rows_of,
            time,
            reading: VecDeque::new(),
            chunk_rows: (batch_samples / TASKS_PER_BATCH).clamp(MIN_CHUNK_ROWS, READ_CHUNK_ROWS),
            dropped: Vec::new(),
        }
    }

    /// The next batch of series, each with its samples sorted by time; `None` once every
    /// series has been handed out. The batches after it (up to [`READ_AHEAD`]) start reading
    /// before this returns.
    ///
    /// # Errors
    /// What reading a part fails with (a corrupt part is quarantined and read as nothing), or
    /// [`Error::Task`] when a read task failed.
    pub async fn next(&mut self) -> Result<Option<Vec<SelectedSeries>>, Error> {
        while self.reading.len() <= READ_AHEAD {
            let Some(batch) = self.start_next() else {
                break;
            };
            self.reading.push_back(batch);
        }
        let Some(batch) = self.reading.pop_front() else {
            return Ok(None);
        };
        let mut merged = BTreeMap::new();
        let mut unsorted = Vec::new();
        for read in batch.reads {
            let (part, result) = read.merge_into(&mut merged, &mut unsorted).await?;
            if self
                .dropped
                .iter()
                .any(|dropped| Arc::ptr_eq(dropped, &part))
            {
                continue;
            }
            let corrupt = matches!(&result, Err(error) if quarantine::is_corruption(error));
            self.store.unless_corrupt(&part, result).await?;
            if corrupt {
                self.selections
                    .retain(|selection| !Arc::ptr_eq(&selection.part, &part));
                self.dropped.push(part);
            }
        }
        // A head series may join runs of several blocks: check it whole (the head is small).
        for (labels, samples) in batch.head {
            if samples
                .windows(2)
                .any(|w| w[0].timestamp_ms >= w[1].timestamp_ms)
            {
                unsorted.push(labels.clone());
            }
            read::append_run(&mut merged, labels, samples, &mut unsorted);
        }
        read::sort_unsorted(&mut merged, &unsorted);
        Ok(Some(merged.into_iter().collect()))
    }

    /// Starts reading the next batch, if any is left.
    fn start_next(&mut self) -> Option<Batch> {
        let bound = self.bounds.pop_front()?;
        let mut selections = Vec::new();
        for selection in &mut self.selections {
            let table = &selection.table;
            let taken = selection
                .series
                .partition_point(|&series_ref| table.labels[series_ref as usize] <= bound);
            if taken == 0 {
                continue;
            }
            let rest = selection.series.split_off(taken);
            selections.push(PartSelection {
                part: Arc::clone(&selection.part),
                table: Arc::clone(table),
                series: std::mem::replace(&mut selection.series, rest),
            });
        }
        self.selections
            .retain(|selection| !selection.series.is_empty());
        let mut rest = self.head.split_off(&bound);
        if let Some(samples) = rest.remove(&bound) {
            self.head.insert(bound, samples);
        }
        let head = std::mem::replace(&mut self.head, rest);
        let reads = read::spawn_reads(
            &self.store.inner.objects,
            selections,
            &mut self.rows_of,
            self.time.clone(),
            self.chunk_rows,
        );
        Some(Batch { reads, head })
    }
}

/// The last labels of each batch: series in label order, a batch closed once it holds
/// `batch_samples` rows (as the parts' series tables and the head count them).
fn batch_bounds(rows_of: &BTreeMap<Labels, usize>, batch_samples: usize) -> VecDeque<Labels> {
    let mut bounds = VecDeque::new();
    let mut taken = 0usize;
    let last = rows_of.keys().next_back();
    for (labels, &rows) in rows_of {
        taken = taken.saturating_add(rows);
        if taken >= batch_samples || Some(labels) == last {
            bounds.push_back(labels.clone());
            taken = 0;
        }
    }
    bounds
}
