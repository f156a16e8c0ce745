//! Selections read a batch of series at a time ([`SeriesBatches`]).
//!
//! The selected series, in label order over every part and the head, are cut into batches
//! of about a given number of samples, and each batch into runs of series read by tasks of
//! their own: a task reads its run from every part that holds it (each part's series table is
//! in label order, so a run is a run of each part's selected refs) and from the head, joins
//! each series' samples, and hands each whole series to the selection's [`SeriesMap`] while
//! it is still in the task's caches. A batch's tasks start while the caller works on the batch
//! before, so a caller that folds series one by one (a PromQL sweep) holds a few batches
//! instead of every sample it selected, and decoding (and what the map computes) overlaps
//! with its work.

use std::collections::{BTreeMap, VecDeque};
use std::ops::RangeInclusive;
use std::sync::Arc;

use object_store::ObjectStore;
use sightline_model::{Labels, MetricSample};
use tokio_util::task::AbortOnDropHandle;

use super::catalog::MetricPart;
use super::read::{self, PartCursor, PartSelection, Point};
use super::{MetricStore, READ_CHUNK_ROWS};
use crate::error::Error;
use crate::part::quarantine;

/// Batches read ahead of the one handed out.
const READ_AHEAD: usize = 2;

/// Read tasks per batch, at least: fewer would leave cores idle.
const TASKS_PER_BATCH: usize = 4;

/// The fewest rows a read task is given (unless every task is given fewer).
const MIN_TASK_ROWS: usize = if READ_CHUNK_ROWS < 1 << 14 {
    READ_CHUNK_ROWS
} else {
    1 << 14
};

/// What a selection makes of each series, given its labels and its samples in the range
/// (as [`Point`]s: [`MetricSample`]s by default), sorted by time: run in the read task that
/// read the series, so work done per series (a PromQL window function over every step, say)
/// runs on every core, next to the decoding.
/// The map may take the samples' vector (as handing out the samples themselves does) or leave
/// it to be reused for the next series.
pub type SeriesMap<T, P = MetricSample> = Arc<dyn Fn(&Labels, &mut Vec<P>) -> T + Send + Sync>;

/// The series of one selection, read a batch at a time by [`SeriesBatches::next`], in label
/// order, each made into a `T` by the selection's [`SeriesMap`] (by default its samples).
/// Dropping it aborts the reads it started.
pub struct SeriesBatches<T = Vec<MetricSample>, P: Point = MetricSample> {
    store: MetricStore,
    /// What is left to read of each part: refs ascending, so also in label order.
    selections: Vec<PartSelection>,
    /// The head's series not yet handed out.
    head: BTreeMap<Labels, Vec<MetricSample>>,
    /// The last labels of each batch not yet started, ascending.
    bounds: VecDeque<Labels>,
    /// The rows of each series not yet read, over every part and the head (to cut tasks and
    /// to size each series' vector once).
    rows_of: BTreeMap<Labels, usize>,
    time: RangeInclusive<i64>,
    /// The next batches, their reads running.
    reading: VecDeque<Vec<RunRead<T>>>,
    /// Rows per read task.
    task_rows: usize,
    /// Parts found corrupt (and quarantined) during this selection: read as nothing.
    dropped: Vec<Arc<MetricPart>>,
    map: SeriesMap<T, P>,
}

/// One task's run of series, being read.
type RunRead<T> = AbortOnDropHandle<RunOutcome<T>>;

/// What a run's task yields: its series, mapped, in label order, and how the read of each
/// part ended (what a part yielded before corruption was found was decoded whole and is kept).
struct RunOutcome<T> {
    series: Vec<(Labels, T)>,
    parts: Vec<(Arc<MetricPart>, Result<(), Error>)>,
}

impl<T: Send + 'static, P: Point> SeriesBatches<T, P> {
    /// Plans batches of about `batch_samples` samples (a series is never split) over what
    /// the parts' `selections` and `head` hold in `time`, each series mapped by `map`.
    pub(super) fn new(
        store: MetricStore,
        selections: Vec<PartSelection>,
        head: BTreeMap<Labels, Vec<MetricSample>>,
        time: RangeInclusive<i64>,
        batch_samples: usize,
        map: SeriesMap<T, P>,
    ) -> Self {
        let rows_of = read::rows_per_series(&selections, &head);
        SeriesBatches {
            store,
            selections,
            head,
            bounds: run_bounds(&rows_of, batch_samples),
            rows_of,
            time,
            reading: VecDeque::new(),
            task_rows: (batch_samples / TASKS_PER_BATCH).clamp(MIN_TASK_ROWS, READ_CHUNK_ROWS),
            dropped: Vec::new(),
            map,
        }
    }

    /// The next batch of series, each with what the map made of its samples; `None` once
    /// every series has been handed out. The batches after it (up to [`READ_AHEAD`]) start
    /// reading before this returns.
    ///
    /// # Errors
    /// What reading a part fails with (a corrupt part is quarantined and read as nothing), or
    /// [`Error::Task`] when a read task failed.
    pub async fn next(&mut self) -> Result<Option<Vec<(Labels, T)>>, Error> {
        while self.reading.len() <= READ_AHEAD {
            let Some(batch) = self.start_next() else {
                break;
            };
            self.reading.push_back(batch);
        }
        let Some(runs) = self.reading.pop_front() else {
            return Ok(None);
        };
        let mut series = Vec::new();
        for run in runs {
            let outcome = run.await.map_err(|error| Error::Task {
                what: "metric part read",
                reason: error.to_string(),
            })?;
            for (part, result) in outcome.parts {
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
            if series.is_empty() {
                series = outcome.series;
            } else {
                series.extend(outcome.series);
            }
        }
        Ok(Some(series))
    }

    /// Starts the read tasks of the next batch, if any is left.
    fn start_next(&mut self) -> Option<Vec<RunRead<T>>> {
        let bound = self.bounds.pop_front()?;
        let mut rows_of = take_through(&mut self.rows_of, &bound);
        let mut head = take_through(&mut self.head, &bound);
        let mut runs = Vec::new();
        for run_bound in run_bounds(&rows_of, self.task_rows) {
            let selections = self.take_selections(&run_bound);
            let run = RunTask {
                objects: Arc::clone(&self.store.inner.objects),
                selections,
                head: take_through(&mut head, &run_bound),
                rows_of: take_through(&mut rows_of, &run_bound),
                time: self.time.clone(),
                map: Arc::clone(&self.map),
            };
            runs.push(crate::scan::spawn_in_budget(run.read()));
        }
        Some(runs)
    }

    /// Takes what is left of each part's selection up to `bound` (inclusive).
    fn take_selections(&mut self, bound: &Labels) -> Vec<PartSelection> {
        let mut taken = Vec::new();
        for selection in &mut self.selections {
            let table = &selection.table;
            let count = selection
                .series
                .partition_point(|&series_ref| table.labels[series_ref as usize] <= *bound);
            if count == 0 {
                continue;
            }
            let rest = selection.series.split_off(count);
            taken.push(PartSelection {
                part: Arc::clone(&selection.part),
                table: Arc::clone(table),
                series: std::mem::replace(&mut selection.series, rest),
            });
        }
        self.selections
            .retain(|selection| !selection.series.is_empty());
        taken
    }
}

/// One read task's run of series: what it reads and what it makes of each series.
struct RunTask<T, P> {
    objects: Arc<dyn ObjectStore>,
    /// The run's refs in each part, parts by time.
    selections: Vec<PartSelection>,
    head: BTreeMap<Labels, Vec<MetricSample>>,
    /// Each series' rows over every part and the head.
    rows_of: BTreeMap<Labels, usize>,
    time: RangeInclusive<i64>,
    map: SeriesMap<T, P>,
}

/// One part's share of a run being read.
struct PartRun {
    selection: PartSelection,
    cursor: PartCursor,
    /// How reading it failed; it is read no further.
    failed: Option<Error>,
}

impl<T, P: Point> RunTask<T, P> {
    /// Reads the run a series at a time: its rows from every part that holds it, in time
    /// order, then the head's (the newest, so series rarely need sorting), then maps it while
    /// its samples are in cache; the series' buffer is reused unless the map takes it.
    async fn read(self) -> RunOutcome<T> {
        let time = self.time.into_inner();
        let mut parts = Vec::with_capacity(self.selections.len());
        let mut runs = Vec::with_capacity(self.selections.len());
        for selection in self.selections {
            let rows = read::whole_rows(&selection.table, &selection.series);
            match PartCursor::open(&self.objects, &selection.part, &selection.table, &rows) {
                Ok(cursor) => runs.push(PartRun {
                    selection,
                    cursor,
                    failed: None,
                }),
                Err(error) => parts.push((selection.part, Err(error))),
            }
        }
        let mut head = self.head.into_iter().peekable();
        let mut points: Vec<P> = Vec::new();
        let mut series = Vec::new();
        for (labels, &rows) in &self.rows_of {
            points.clear();
            points.reserve(rows);
            let mut sorted = true;
            for run in &mut runs {
                if run.failed.is_some() {
                    continue;
                }
                let Some(position) = run.cursor.next_position() else {
                    continue;
                };
                let series_ref = run.selection.series[position] as usize;
                if run.selection.table.labels[series_ref] != *labels {
                    continue;
                }
                let held = points.len();
                let read = run.cursor.read_next(|timestamps, values| {
                    read::append_in_time(&mut points, timestamps, values, time);
                });
                if let Err(error) = read.await {
                    run.failed = Some(error);
                }
                // A part holds each series in time order: only the join needs checking.
                sorted &= !follows_badly(&points, held);
            }
            if let Some((_, samples)) = head.next_if(|(head_labels, _)| head_labels == labels) {
                let held = points.len();
                points.extend(
                    samples
                        .iter()
                        .map(|sample| P::at(sample.timestamp_ms, sample.value)),
                );
                // A head series may join runs of several blocks: check it whole.
                sorted &= !points[held.saturating_sub(1)..]
                    .windows(2)
                    .any(|w| w[0].timestamp_ms() >= w[1].timestamp_ms());
            }
            if points.is_empty() {
                continue;
            }
            if !sorted {
                read::sort_points(&mut points);
            }
            let mapped = (self.map)(labels, &mut points);
            series.push((labels.clone(), mapped));
        }
        for run in runs {
            parts.push((run.selection.part, run.failed.map_or(Ok(()), Err)));
        }
        RunOutcome { series, parts }
    }
}

/// Whether the samples appended from `held` on do not start after those before.
fn follows_badly<P: Point>(points: &[P], held: usize) -> bool {
    held > 0
        && points.len() > held
        && points[held - 1].timestamp_ms() >= points[held].timestamp_ms()
}

/// Takes the entries of `map` up to `bound` (inclusive), leaving the rest.
fn take_through<V>(map: &mut BTreeMap<Labels, V>, bound: &Labels) -> BTreeMap<Labels, V> {
    let mut rest = map.split_off(bound);
    if let Some(value) = rest.remove(bound) {
        map.insert(bound.clone(), value);
    }
    std::mem::replace(map, rest)
}

/// The last labels of each run of series (a batch, or a task's share of one): series in label
/// order, a run closed once it holds `rows` rows (as the parts' series tables and the head
/// count them).
fn run_bounds(rows_of: &BTreeMap<Labels, usize>, rows: usize) -> VecDeque<Labels> {
    let mut bounds = VecDeque::new();
    let mut taken = 0usize;
    let last = rows_of.keys().next_back();
    for (labels, &series_rows) in rows_of {
        taken = taken.saturating_add(series_rows);
        if taken >= rows || Some(labels) == last {
            bounds.push_back(labels.clone());
            taken = 0;
        }
    }
    bounds
}
