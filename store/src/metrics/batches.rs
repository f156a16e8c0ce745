//! Selections read a batch of series at a time ([`SeriesBatches`]).
//!
//! The selected series, in label order over every part and the head, are planned as they are
//! needed by merging the parts' selections (each part's series table is in label order) and
//! the head's series ([`Planner`]): each series' labels are compared there once per part, and
//! each planned series knows the part rows it has. Planned series are cut into batches of
//! about a given number of samples, each read by a task of its own (or a few, for a batch
//! larger than [`READ_CHUNK_ROWS`]): a task reads its run of series from every part that holds
//! them and from the head, joins each series' samples, and hands each whole series to the
//! selection's [`SeriesMap`] while it is still in the task's caches. The next batches are
//! planned and read while the caller works on one, a batch per core ahead, so a caller that
//! folds series one by one (a PromQL sweep) holds a few batches instead of every sample it
//! selected, and planning, decoding (and what the map computes) overlap with its work.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::iter::Peekable;
use std::ops::RangeInclusive;
use std::sync::Arc;

use object_store::ObjectStore;
use sightline_model::{Labels, MetricSample};
use tokio_util::task::AbortOnDropHandle;

use super::catalog::MetricPart;
use super::part::SeriesTable;
use super::read::{self, PartCursor, PartSelection, Point};
use super::{MetricStore, READ_CHUNK_ROWS};
use crate::error::Error;
use crate::part::quarantine;

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
    /// The parts read, by time; `None` once found corrupt (and quarantined): read as nothing.
    parts: Vec<Option<PartTable>>,
    planner: Planner,
    time: RangeInclusive<i64>,
    /// The next batches, their reads running.
    reading: VecDeque<Vec<RunRead<T>>>,
    /// Rows per batch, and per read task.
    batch_rows: usize,
    task_rows: usize,
    /// Batches read ahead of the one handed out.
    read_ahead: usize,
    map: SeriesMap<T, P>,
}

/// A part and its series table.
type PartTable = (Arc<MetricPart>, Arc<SeriesTable>);

/// A selected series as planned: its labels, its rows in each part that holds it (the part's
/// index and the series' ref there, parts by time), the head's samples of it, and its rows
/// over all of them (to cut runs and to size its vector once).
struct PlannedSeries {
    labels: Labels,
    parts: Vec<(usize, u32)>,
    head: Vec<MetricSample>,
    rows: usize,
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
    /// Batches of about `batch_samples` samples (a series is never split) over what the
    /// parts' `selections` (parts by time) and `head` (in label order) hold in `time`, each
    /// series mapped by `map`.
    pub(super) fn new(
        store: MetricStore,
        selections: Vec<PartSelection>,
        head: Vec<(Labels, Vec<MetricSample>)>,
        time: RangeInclusive<i64>,
        batch_samples: usize,
        map: SeriesMap<T, P>,
    ) -> Self {
        let parts = selections
            .iter()
            .map(|selection| Some((Arc::clone(&selection.part), Arc::clone(&selection.table))))
            .collect();
        SeriesBatches {
            store,
            parts,
            planner: Planner::new(selections, head),
            time,
            reading: VecDeque::new(),
            batch_rows: batch_samples,
            task_rows: batch_samples.clamp(MIN_TASK_ROWS, READ_CHUNK_ROWS),
            read_ahead: crate::scan::read_ahead(),
            map,
        }
    }

    /// The next batch of series, each with what the map made of its samples; `None` once
    /// every series has been handed out. The batches after it (a few, see
    /// [`crate::scan::read_ahead`]) are planned and start reading before this returns.
    ///
    /// # Errors
    /// What reading a part fails with (a corrupt part is quarantined and read as nothing), or
    /// [`Error::Task`] when a read task failed.
    pub async fn next(&mut self) -> Result<Option<Vec<(Labels, T)>>, Error> {
        while self.reading.len() <= self.read_ahead {
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
                let Some(slot) = self.parts.iter_mut().find(|slot| {
                    slot.as_ref()
                        .is_some_and(|(held, _)| Arc::ptr_eq(held, &part))
                }) else {
                    // Found corrupt by an earlier task: quarantined already.
                    continue;
                };
                let corrupt = matches!(&result, Err(error) if quarantine::is_corruption(error));
                self.store.unless_corrupt(&part, result).await?;
                if corrupt {
                    *slot = None;
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

    /// Plans the next batch and starts its read tasks, if any series is left.
    fn start_next(&mut self) -> Option<Vec<RunRead<T>>> {
        let mut runs = Vec::new();
        let mut run = Vec::new();
        let (mut batch_rows, mut run_rows) = (0usize, 0usize);
        while batch_rows < self.batch_rows {
            let Some(series) = self.planner.next() else {
                break;
            };
            batch_rows = batch_rows.saturating_add(series.rows);
            run_rows = run_rows.saturating_add(series.rows);
            run.push(series);
            if run_rows >= self.task_rows {
                runs.push(self.spawn(std::mem::take(&mut run)));
                run_rows = 0;
            }
        }
        if !run.is_empty() {
            runs.push(self.spawn(run));
        }
        (!runs.is_empty()).then_some(runs)
    }

    /// Starts the task reading `series`.
    fn spawn(&self, series: Vec<PlannedSeries>) -> RunRead<T> {
        let task = RunTask {
            objects: Arc::clone(&self.store.inner.objects),
            parts: self.parts.clone(),
            series,
            time: self.time.clone(),
            map: Arc::clone(&self.map),
        };
        crate::scan::spawn_in_budget(task.read())
    }
}

/// The selected series in label order, planned one at a time by merging the parts'
/// selections (each in label order) and the head's series: each series' labels are compared
/// once per part here, and never again while reading.
struct Planner {
    /// Each part's selected refs (ascending, so in label order) and how many are planned.
    selections: Vec<(Arc<SeriesTable>, Vec<u32>, usize)>,
    /// The head's series, in label order.
    head: Peekable<std::vec::IntoIter<(Labels, Vec<MetricSample>)>>,
    /// The parts holding the series being planned.
    holders: Vec<usize>,
}

impl Planner {
    fn new(selections: Vec<PartSelection>, head: Vec<(Labels, Vec<MetricSample>)>) -> Self {
        Planner {
            holders: Vec::with_capacity(selections.len()),
            selections: selections
                .into_iter()
                .map(|selection| (selection.table, selection.series, 0))
                .collect(),
            head: head.into_iter().peekable(),
        }
    }
}

impl Iterator for Planner {
    type Item = PlannedSeries;

    fn next(&mut self) -> Option<PlannedSeries> {
        self.holders.clear();
        let mut least: Option<&Labels> = None;
        for (part, (table, series, planned)) in self.selections.iter().enumerate() {
            let Some(&series_ref) = series.get(*planned) else {
                continue;
            };
            let labels = &table.labels[series_ref as usize];
            match least.map(|least| labels.cmp(least)) {
                None | Some(Ordering::Less) => {
                    least = Some(labels);
                    self.holders.clear();
                    self.holders.push(part);
                }
                Some(Ordering::Equal) => self.holders.push(part),
                Some(Ordering::Greater) => {}
            }
        }
        let least = least.cloned();
        let head_order = match (self.head.peek(), &least) {
            (Some((labels, _)), Some(least)) => labels.cmp(least),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        let (labels, head) = match (head_order, least) {
            (Ordering::Greater, least) => (least?, Vec::new()),
            _ => self.head.next()?,
        };
        if head_order == Ordering::Less {
            self.holders.clear();
        }
        let mut rows = head.len();
        let mut parts = Vec::with_capacity(self.holders.len());
        for &part in &self.holders {
            let (table, series, planned) = &mut self.selections[part];
            let series_ref = series[*planned];
            *planned += 1;
            rows += table.row_count[series_ref as usize] as usize;
            parts.push((part, series_ref));
        }
        Some(PlannedSeries {
            labels,
            parts,
            head,
            rows,
        })
    }
}

/// One read task's run of series: what it reads and what it makes of each series.
struct RunTask<T, P> {
    objects: Arc<dyn ObjectStore>,
    /// Every part of the selection, by time (`None`: found corrupt).
    parts: Vec<Option<PartTable>>,
    series: Vec<PlannedSeries>,
    time: RangeInclusive<i64>,
    map: SeriesMap<T, P>,
}

/// One part's rows of a run being read.
struct PartRun {
    part: Arc<MetricPart>,
    /// The index in the run of the series each of the part's read series is.
    series_of: Vec<usize>,
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
        // Each part's series in the run: their index in it and their refs there, ascending.
        let mut reads: Vec<(Vec<usize>, Vec<u32>)> = vec![Default::default(); self.parts.len()];
        for (index, series) in self.series.iter().enumerate() {
            for &(part, series_ref) in &series.parts {
                reads[part].0.push(index);
                reads[part].1.push(series_ref);
            }
        }
        let mut outcomes = Vec::new();
        let mut runs = Vec::new();
        for (slot, (series_of, refs)) in self.parts.iter().zip(reads) {
            let Some((part, table)) = slot.as_ref().filter(|_| !refs.is_empty()) else {
                continue;
            };
            let rows = read::whole_rows(table, &refs);
            match PartCursor::open(&self.objects, part, table, &rows) {
                Ok(cursor) => runs.push(PartRun {
                    part: Arc::clone(part),
                    series_of,
                    cursor,
                    failed: None,
                }),
                Err(error) => outcomes.push((Arc::clone(part), Err(error))),
            }
        }
        let mut points: Vec<P> = Vec::new();
        let mut series = Vec::with_capacity(self.series.len());
        for (index, planned) in self.series.into_iter().enumerate() {
            points.clear();
            points.reserve(planned.rows);
            let mut sorted = true;
            for run in &mut runs {
                if run.failed.is_some() {
                    continue;
                }
                let Some(next) = run.cursor.next_position() else {
                    continue;
                };
                if run.series_of.get(next) != Some(&index) {
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
            if !planned.head.is_empty() {
                let held = points.len();
                points.extend(
                    planned
                        .head
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
            let mapped = (self.map)(&planned.labels, &mut points);
            series.push((planned.labels, mapped));
        }
        for run in runs {
            outcomes.push((run.part, run.failed.map_or(Ok(()), Err)));
        }
        RunOutcome {
            series,
            parts: outcomes,
        }
    }
}

/// Whether the samples appended from `held` on do not start after those before.
fn follows_badly<P: Point>(points: &[P], held: usize) -> bool {
    held > 0
        && points.len() > held
        && points[held - 1].timestamp_ms() >= points[held].timestamp_ms()
}
