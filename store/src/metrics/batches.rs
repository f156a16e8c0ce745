//! Selections read a batch of series at a time ([`SeriesBatches`]).
//!
//! The selected series, in label order over every part and the head, are planned once (the
//! parts' selections and the head merged, so that no label is compared again), then cut into
//! batches of about a given number of samples, each read by a task of its own (or a few, for
//! a batch larger than [`READ_CHUNK_ROWS`]): a task reads its run of series from every part
//! that holds it (each part's series table is in label order, so a run is a run of each
//! part's selected refs) and from the head, joins each series' samples, and hands each whole
//! series to the selection's [`SeriesMap`] while it is still in the task's caches. The next
//! batches' tasks run while the caller works on one, a batch per core ahead, so a caller that
//! folds series one by one (a PromQL sweep) holds a few batches instead of every sample it
//! selected, and decoding (and what the map computes) overlaps with its work.

use std::cmp::Ordering;
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

/// Batches read ahead of the one handed out: one per core, at least two. A task reading a
/// whole batch opens each part once for it (each Parquet column chunk it reads costs a codec
/// set-up), where splitting batches into smaller tasks cost about a sixth more CPU.
fn read_ahead() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2))
}

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
    /// What is left to read of each part.
    shares: Vec<PartShare>,
    /// The series not yet handed out, in label order, the first at `next_position`.
    planned: VecDeque<PlannedSeries>,
    next_position: usize,
    /// Where each batch not yet started ends (the position after its last series).
    bounds: VecDeque<usize>,
    time: RangeInclusive<i64>,
    /// The next batches, their reads running.
    reading: VecDeque<Vec<RunRead<T>>>,
    /// Rows per read task.
    task_rows: usize,
    /// Batches read ahead of the one handed out.
    read_ahead: usize,
    /// Parts found corrupt (and quarantined) during this selection: read as nothing.
    dropped: Vec<Arc<MetricPart>>,
    map: SeriesMap<T, P>,
}

/// A selected series as planned: its labels, its rows over every part and the head (to cut
/// runs and to size its vector once), and the head's samples of it.
struct PlannedSeries {
    labels: Labels,
    rows: usize,
    head: Vec<MetricSample>,
}

/// What is left to read of one part: its selected refs (ascending, so in label order) and
/// the position of each among all the selected series, so that reads match a part's rows to
/// their series without comparing labels.
struct PartShare {
    selection: PartSelection,
    positions: Vec<usize>,
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
        let (shares, planned) = plan(selections, head);
        SeriesBatches {
            store,
            shares,
            bounds: run_bounds(planned.iter().map(|series| series.rows), 0, batch_samples),
            planned,
            next_position: 0,
            time,
            reading: VecDeque::new(),
            task_rows: batch_samples.clamp(MIN_TASK_ROWS, READ_CHUNK_ROWS),
            read_ahead: read_ahead(),
            dropped: Vec::new(),
            map,
        }
    }

    /// The next batch of series, each with what the map made of its samples; `None` once
    /// every series has been handed out. The batches after it (a few, see [`read_ahead`]) start
    /// reading before this returns.
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
                    self.shares
                        .retain(|share| !Arc::ptr_eq(&share.selection.part, &part));
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
        let end = self.bounds.pop_front()?;
        let first = self.next_position;
        let mut batch = self
            .planned
            .drain(..end - first)
            .collect::<Vec<_>>()
            .into_iter();
        self.next_position = end;
        let run_ends = run_bounds(
            batch.as_slice().iter().map(|s| s.rows),
            first,
            self.task_rows,
        );
        let mut runs = Vec::with_capacity(run_ends.len());
        let mut run_first = first;
        for run_end in run_ends {
            let run = RunTask {
                objects: Arc::clone(&self.store.inner.objects),
                shares: self.take_shares(run_end),
                series: batch.by_ref().take(run_end - run_first).collect(),
                first_position: run_first,
                time: self.time.clone(),
                map: Arc::clone(&self.map),
            };
            runs.push(crate::scan::spawn_in_budget(run.read()));
            run_first = run_end;
        }
        Some(runs)
    }

    /// Takes what is left of each part's share before position `end`.
    fn take_shares(&mut self, end: usize) -> Vec<PartShare> {
        let mut taken = Vec::new();
        for share in &mut self.shares {
            let count = share.positions.partition_point(|&position| position < end);
            if count == 0 {
                continue;
            }
            let rest = PartShare {
                selection: PartSelection {
                    part: Arc::clone(&share.selection.part),
                    table: Arc::clone(&share.selection.table),
                    series: share.selection.series.split_off(count),
                },
                positions: share.positions.split_off(count),
            };
            taken.push(std::mem::replace(share, rest));
        }
        self.shares.retain(|share| !share.positions.is_empty());
        taken
    }
}

/// One read task's run of series: what it reads and what it makes of each series.
struct RunTask<T, P> {
    objects: Arc<dyn ObjectStore>,
    /// The run's share of each part, parts by time.
    shares: Vec<PartShare>,
    /// The run's series, the first at `first_position`.
    series: Vec<PlannedSeries>,
    first_position: usize,
    time: RangeInclusive<i64>,
    map: SeriesMap<T, P>,
}

/// One part's share of a run being read.
struct PartRun {
    share: PartShare,
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
        let mut parts = Vec::with_capacity(self.shares.len());
        let mut runs = Vec::with_capacity(self.shares.len());
        for share in self.shares {
            let selection = &share.selection;
            let rows = read::whole_rows(&selection.table, &selection.series);
            match PartCursor::open(&self.objects, &selection.part, &selection.table, &rows) {
                Ok(cursor) => runs.push(PartRun {
                    share,
                    cursor,
                    failed: None,
                }),
                Err(error) => parts.push((share.selection.part, Err(error))),
            }
        }
        let mut points: Vec<P> = Vec::new();
        let mut series = Vec::with_capacity(self.series.len());
        for (position, planned) in (self.first_position..).zip(self.series) {
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
                if run.share.positions.get(next) != Some(&position) {
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
            parts.push((run.share.selection.part, run.failed.map_or(Ok(()), Err)));
        }
        RunOutcome { series, parts }
    }
}

/// Merges the parts' selections (each in label order) and the head's series into every
/// selected series in label order, noting each part ref's position among them: each series'
/// labels are compared once per source here, and never again while reading.
fn plan(
    selections: Vec<PartSelection>,
    head: BTreeMap<Labels, Vec<MetricSample>>,
) -> (Vec<PartShare>, VecDeque<PlannedSeries>) {
    let mut shares: Vec<PartShare> = selections
        .into_iter()
        .map(|selection| PartShare {
            positions: Vec::with_capacity(selection.series.len()),
            selection,
        })
        .collect();
    // Each share's next ref, and the shares holding the least labels among them.
    let mut next = vec![0usize; shares.len()];
    let mut holders = Vec::with_capacity(shares.len());
    let mut head = head.into_iter().peekable();
    let mut planned = VecDeque::new();
    loop {
        holders.clear();
        let mut least: Option<&Labels> = None;
        for (index, (share, &at)) in shares.iter().zip(&next).enumerate() {
            let Some(&series_ref) = share.selection.series.get(at) else {
                continue;
            };
            let labels = &share.selection.table.labels[series_ref as usize];
            match least.map(|least| labels.cmp(least)) {
                None | Some(Ordering::Less) => {
                    least = Some(labels);
                    holders.clear();
                    holders.push(index);
                }
                Some(Ordering::Equal) => holders.push(index),
                Some(Ordering::Greater) => {}
            }
        }
        let least = least.cloned();
        let head_order = match (head.peek(), &least) {
            (Some((labels, _)), Some(least)) => labels.cmp(least),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        if head_order == Ordering::Less {
            holders.clear();
        }
        let (labels, head_samples) = match (head_order, least) {
            (Ordering::Greater, Some(least)) => (least, Vec::new()),
            (Ordering::Greater, None) => break,
            _ => match head.next() {
                Some(series) => series,
                None => break,
            },
        };
        let position = planned.len();
        let mut rows = head_samples.len();
        for &index in &holders {
            let share = &mut shares[index];
            let series_ref = share.selection.series[next[index]] as usize;
            rows += share.selection.table.row_count[series_ref] as usize;
            share.positions.push(position);
            next[index] += 1;
        }
        planned.push_back(PlannedSeries {
            labels,
            rows,
            head: head_samples,
        });
    }
    (shares, planned)
}

/// Whether the samples appended from `held` on do not start after those before.
fn follows_badly<P: Point>(points: &[P], held: usize) -> bool {
    held > 0
        && points.len() > held
        && points[held - 1].timestamp_ms() >= points[held].timestamp_ms()
}

/// Where each run of series ends (the position after its last series), the series' rows
/// given in order from position `first`: a run closes once it holds `rows` rows.
fn run_bounds(
    series_rows: impl Iterator<Item = usize>,
    first: usize,
    rows: usize,
) -> VecDeque<usize> {
    let mut bounds = VecDeque::new();
    let mut taken = 0usize;
    let mut end = first;
    for series_rows in series_rows {
        end += 1;
        taken = taken.saturating_add(series_rows);
        if taken >= rows {
            bounds.push_back(end);
            taken = 0;
        }
    }
    if bounds.back().copied().unwrap_or(first) < end {
        bounds.push_back(end);
    }
    bounds
}
