//! Sweeps: a range query evaluates an aggregation of a range function over a plain selector
//! (`sum by (job) (rate(x[5m]))`, what most dashboards and health rules ask) series by series
//! across every step at once, instead of step by step across every series.
//!
//! The per-step evaluator, at each of a range query's steps, walks every series' window,
//! builds a vector of samples and groups it; over 10,000 series and 1,441 steps that is
//! 14 million samples built, hashed and grouped. A sweep walks each series' samples once,
//! sliding the window along the steps ([`step_values`], run where the series is read: the
//! metric store runs it in its read tasks, on every core, while the samples are in cache; see
//! [`SeriesSource::visit_mapped`]), and folds each step's value straight into its group's
//! cell for that step ([`Fold`]); the evaluator then takes each step's small vector of groups
//! when it reaches the aggregation. The result is the same to the bit: the window function
//! ([`WindowFunction`]) and the fold are the ones the per-step path uses, applied to the same
//! values in the same order (series in the selector's order, groups in order of first
//! appearance at each step).
//!
//! Only aggregations outside subqueries are swept (inside one, times are not the query's
//! steps), with folding operators and no parameter, over a one-argument window function of a
//! selector without `@`; anything else, or a sweep that would hold more than
//! [`MAX_CELLS`] group-steps, is left to the per-step path.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use promql_parser::parser::{AggregateExpr, Expr, MatrixSelector};

use super::aggregate::Fold;
use super::engine::duration_ms;
use super::eval::Evaluator;
use super::functions::range::{WindowCache, WindowFunction};
use super::source::{SeriesMap, SeriesSource, StepValue};
use super::value::{is_stale_nan, Labels, Sample, Vector, METRIC_NAME_LABEL};
use super::Error;

/// The most group-steps one sweep holds (each a [`Fold`] of a few words); larger ones, such as
/// `sum by (pod)` over thousands of pods and steps, are evaluated step by step.
pub(crate) const MAX_CELLS: usize = 1 << 20;

/// Series swept between two checks that the query may go on.
const SERIES_PER_INTERRUPT_CHECK: usize = 256;

/// The sweepable aggregations of one range query and, once swept, their results by step.
#[derive(Default)]
pub(crate) struct Sweeps {
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    /// By the aggregation's address in the parsed expression (stable while the query runs).
    nodes: HashMap<usize, RefCell<State>>,
}

enum State {
    Planned,
    /// Each step's groups, taken by the step's evaluation.
    Swept(Vec<Option<Vector>>),
    /// Left to the per-step path.
    Declined,
}

/// What a sweepable aggregation is made of.
struct Parts<'e> {
    aggregate: &'e AggregateExpr,
    function: WindowFunction,
    selector: &'e MatrixSelector,
}

fn key(aggregate: &AggregateExpr) -> usize {
    aggregate as *const AggregateExpr as usize
}

fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(paren) = expr {
        expr = &paren.expr;
    }
    expr
}

/// The parts of `aggregate` when it can be swept.
fn sweepable(aggregate: &AggregateExpr) -> Option<Parts<'_>> {
    if aggregate.param.is_some() || Fold::new(aggregate.op.id()).is_none() {
        return None;
    }
    let Expr::Call(call) = unparen(&aggregate.expr) else {
        return None;
    };
    let function = WindowFunction::named(call.func.name)?;
    let [argument] = call.args.args.as_slice() else {
        return None;
    };
    match unparen(argument) {
        Expr::MatrixSelector(selector) if selector.vs.at.is_none() => Some(Parts {
            aggregate,
            function,
            selector,
        }),
        _ => None,
    }
}

impl Sweeps {
    /// Finds the sweepable aggregations of a range query over `start_ms..=end_ms` every
    /// `step_ms`; none for an instant query (`step_ms` 0).
    pub(crate) fn plan(expr: &Expr, start_ms: i64, end_ms: i64, step_ms: i64) -> Self {
        let mut sweeps = Sweeps {
            start_ms,
            end_ms,
            step_ms,
            nodes: HashMap::new(),
        };
        if step_ms > 0 && end_ms >= start_ms {
            sweeps.walk(expr);
        }
        sweeps
    }

    fn walk(&mut self, expr: &Expr) {
        match expr {
            Expr::Aggregate(aggregate) => {
                if sweepable(aggregate).is_some() {
                    self.nodes
                        .insert(key(aggregate), RefCell::new(State::Planned));
                } else {
                    self.walk(&aggregate.expr);
                    if let Some(param) = &aggregate.param {
                        self.walk(param);
                    }
                }
            }
            Expr::Paren(paren) => self.walk(&paren.expr),
            Expr::Unary(unary) => self.walk(&unary.expr),
            Expr::Binary(binary) => {
                self.walk(&binary.lhs);
                self.walk(&binary.rhs);
            }
            Expr::Call(call) => call.args.args.iter().for_each(|arg| self.walk(arg)),
            // Inside a subquery, evaluation times are the subquery's, not the query's steps.
            Expr::Subquery(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
    }

    /// The result of `aggregate` at `timestamp_ms` when it is swept (sweeping it on first
    /// use); `None` leaves it to the per-step path.
    ///
    /// # Errors
    /// What selecting fails with, the sample limit, or an interruption.
    pub(crate) fn take(
        &self,
        evaluator: &Evaluator<'_>,
        aggregate: &AggregateExpr,
        timestamp_ms: i64,
    ) -> Result<Option<Vector>, Error> {
        let Some(state) = self.nodes.get(&key(aggregate)) else {
            return Ok(None);
        };
        let Some(step) = self.step_index(timestamp_ms) else {
            return Ok(None);
        };
        let mut state = state.borrow_mut();
        if matches!(*state, State::Planned) {
            *state = match sweepable(aggregate) {
                Some(parts) => match self.sweep(evaluator, &parts)? {
                    Some(steps) => State::Swept(steps),
                    None => State::Declined,
                },
                None => State::Declined,
            };
        }
        Ok(match &mut *state {
            State::Swept(steps) => steps.get_mut(step).and_then(Option::take),
            State::Planned | State::Declined => None,
        })
    }

    fn step_index(&self, timestamp_ms: i64) -> Option<usize> {
        let offset = timestamp_ms.checked_sub(self.start_ms)?;
        if timestamp_ms > self.end_ms || offset < 0 || offset % self.step_ms != 0 {
            return None;
        }
        usize::try_from(offset / self.step_ms).ok()
    }

    fn steps(&self) -> usize {
        usize::try_from((self.end_ms - self.start_ms) / self.step_ms).map_or(0, |n| n + 1)
    }

    /// Sweeps one aggregation, a batch of series at a time as the source hands them over:
    /// `None` when it is left to the per-step path.
    fn sweep(
        &self,
        evaluator: &Evaluator<'_>,
        parts: &Parts<'_>,
    ) -> Result<Option<Vec<Option<Vector>>>, Error> {
        let steps = self.steps();
        let vs = &parts.selector.vs;
        let range_ms = duration_ms(parts.selector.range);
        let Some((window_start_ms, window_end_ms)) = evaluator.plan.window_of(vs) else {
            return Ok(None);
        };
        let first_start_ms = evaluator
            .reference_time_ms(&vs.at, &vs.offset, self.start_ms)
            .saturating_sub(range_ms);
        let last_end_ms = evaluator.reference_time_ms(&vs.at, &vs.offset, self.end_ms);
        if first_start_ms < window_start_ms.saturating_sub(1) || last_end_ms > window_end_ms {
            return Ok(None);
        }
        let windows: Vec<(i64, i64)> = (0..steps)
            .map(|step| {
                let timestamp_ms = self.start_ms + step as i64 * self.step_ms;
                let end_ms = evaluator.reference_time_ms(&vs.at, &vs.offset, timestamp_ms);
                (end_ms.saturating_sub(range_ms), end_ms)
            })
            .collect();
        let fold = Fold::new(parts.aggregate.op.id())
            .ok_or_else(|| Error::execution("swept aggregation has no fold"))?;
        // The limit bounds the samples one step reads, as in the per-step path.
        let allowed = usize::try_from(evaluator.sample_budget.get()).unwrap_or(0);

        let node = key(parts.aggregate);
        let modifier = parts.aggregate.modifier.as_ref();
        let mut groups = Groups::default();
        let mut workers = [Worker::new(steps), Worker::new(steps)];
        let mut swept_series = 0;
        let mut too_many_cells = false;
        // Each series' window values are computed where it is read; only the fold is left here.
        let function = parts.function;
        let recycled = Arc::new(Recycled::default());
        let map: SeriesMap = {
            let recycled = Arc::clone(&recycled);
            Arc::new(move |points| {
                let mut values = recycled.take();
                step_values(points, &windows, function, &mut values);
                values
            })
        };
        let visit = &mut |batch: Vec<(Labels, Vec<StepValue>)>| {
            // Each series' group, as the per-step path finds it.
            let series_groups: Vec<usize> = batch
                .iter()
                .map(|(labels, _)| {
                    groups.index_of(evaluator.groups.group_labels(node, labels, modifier))
                })
                .collect();
            if groups.labels.len().saturating_mul(steps) > MAX_CELLS {
                too_many_cells = true;
                return Ok(ControlFlow::Break(()));
            }
            groups.place(&series_groups, &mut workers);
            let sweeper = Sweeper {
                series: &batch,
                first_index: swept_series,
                series_groups: &series_groups,
                placement: &groups.placement,
                steps,
                fold: &fold,
                source: evaluator.source,
            };
            sweeper.run_both(&mut workers)?;
            swept_series += batch.len();
            recycled.give(batch.into_iter().map(|(_, values)| values));
            let spent = workers[0].spent.iter().zip(&workers[1].spent);
            if spent
                .into_iter()
                .any(|(first, second)| first + second > allowed)
            {
                return Err(Evaluator::too_many_samples());
            }
            Ok(ControlFlow::Continue(()))
        };
        evaluator.visit_mapped_from_source(vs, window_start_ms, window_end_ms, &map, visit)?;
        if too_many_cells {
            return Ok(None);
        }

        // Each step's groups in order of their first series, as the per-step path groups.
        let mut order: Vec<Vec<(usize, usize)>> = vec![Vec::new(); steps];
        for (group, &(worker, slot)) in groups.placement.iter().enumerate() {
            let cells = workers[usize::from(worker)].cells_of(slot);
            for (step, cell) in cells.iter().enumerate() {
                if let Some((first_series, _)) = cell {
                    order[step].push((*first_series, group));
                }
            }
        }
        let drop_name = !parts.function.keeps_name;
        let results = order
            .into_iter()
            .enumerate()
            .map(|(step, mut groups_at_step)| {
                let timestamp_ms = self.start_ms + step as i64 * self.step_ms;
                groups_at_step.sort_unstable();
                let vector = groups_at_step
                    .into_iter()
                    .filter_map(|(_, group)| {
                        let (worker, slot) = groups.placement[group];
                        let (_, fold) =
                            workers[usize::from(worker)].cells_of(slot)[step].as_ref()?;
                        let labels = groups.labels[group].clone();
                        Some(Sample {
                            drop_name: drop_name && labels.get(METRIC_NAME_LABEL).is_some(),
                            labels,
                            timestamp_ms,
                            value: fold.value(),
                        })
                    })
                    .collect();
                Some(vector)
            })
            .collect();
        Ok(Some(results))
    }
}

/// Series of a batch below which it is swept on one thread.
const SERIES_PER_WORKER: usize = 64;

/// A sweep's groups in order of first appearance, and where each is folded.
#[derive(Default)]
struct Groups {
    labels: Vec<Labels>,
    by_storage: HashMap<usize, usize>,
    /// Each group's worker (0 or 1) and its slot among that worker's groups.
    placement: Vec<(u8, usize)>,
    /// Series placed on each worker so far.
    loads: [usize; 2],
}

impl Groups {
    /// The index of the group with these labels, adding it when new.
    fn index_of(&mut self, group: Labels) -> usize {
        let labels = &mut self.labels;
        *self
            .by_storage
            .entry(group.storage_id())
            .or_insert_with(|| {
                labels.push(group);
                labels.len() - 1
            })
    }

    /// Places the groups new in a batch, in order of their first series, each on the
    /// worker with fewer series so far, and counts the batch's series on their workers. A
    /// group stays on its worker, so each group's cells take their values in series order.
    fn place(&mut self, series_groups: &[usize], workers: &mut [Worker; 2]) {
        for &group in series_groups {
            if group == self.placement.len() {
                let worker = usize::from(self.loads[1] < self.loads[0]);
                self.placement
                    .push((worker as u8, workers[worker].add_group()));
            }
            self.loads[usize::from(self.placement[group].0)] += 1;
        }
    }
}

/// One worker's cells (by slot, then step: the index of the first series folded and the
/// fold) and the samples it read at each step.
struct Worker {
    steps: usize,
    cells: Vec<Option<(usize, Fold)>>,
    spent: Vec<usize>,
}

impl Worker {
    fn new(steps: usize) -> Self {
        Worker {
            steps,
            cells: Vec::new(),
            spent: vec![0; steps],
        }
    }

    /// Makes room for one more group; returns its slot.
    fn add_group(&mut self) -> usize {
        self.cells.resize(self.cells.len() + self.steps, None);
        self.cells.len() / self.steps - 1
    }

    fn cells_of(&self, slot: usize) -> &[Option<(usize, Fold)>] {
        &self.cells[slot * self.steps..(slot + 1) * self.steps]
    }
}

/// One batch of a sweep, shared by its workers.
struct Sweeper<'s> {
    /// Each series' window values by step.
    series: &'s [(Labels, Vec<StepValue>)],
    /// The sweep-wide index of the batch's first series.
    first_index: usize,
    /// Each series' group.
    series_groups: &'s [usize],
    /// Each group's worker and slot.
    placement: &'s [(u8, usize)],
    steps: usize,
    /// An empty fold of the aggregation.
    fold: &'s Fold,
    source: &'s dyn SeriesSource,
}

impl Sweeper<'_> {
    /// Folds the batch into both workers' cells: on two threads when both have enough of
    /// its series, else on this one.
    fn run_both(&self, workers: &mut [Worker; 2]) -> Result<(), Error> {
        let mut shares = [0usize; 2];
        for &group in self.series_groups {
            shares[usize::from(self.placement[group].0)] += 1;
        }
        let [first, second] = workers;
        if shares.iter().all(|&share| share >= SERIES_PER_WORKER) {
            std::thread::scope(|scope| {
                let other = scope.spawn(|| self.run(1, second));
                let mine = self.run(0, first);
                let other = other
                    .join()
                    .unwrap_or_else(|_| Err(Error::execution("a sweep worker panicked")));
                mine.and(other)
            })
        } else {
            self.run(0, first)?;
            self.run(1, second)
        }
    }

    /// Folds the batch's series of the groups placed on `worker`, in series order.
    fn run(&self, worker: u8, cells: &mut Worker) -> Result<(), Error> {
        let steps = self.steps;
        let mine = self
            .series
            .iter()
            .zip(self.series_groups)
            .enumerate()
            .filter_map(|(index, (series, &group))| {
                let (owner, slot) = self.placement[group];
                (owner == worker).then_some((self.first_index + index, series, slot))
            });
        for (done, (index, (_, values), slot)) in mine.enumerate() {
            if done % SERIES_PER_INTERRUPT_CHECK == 0 {
                self.source.check_interrupted()?;
            }
            let group_cells = &mut cells.cells[slot * steps..(slot + 1) * steps];
            for step_value in values {
                let step = step_value.step() as usize;
                let (Some(cell), Some(spent)) =
                    (group_cells.get_mut(step), cells.spent.get_mut(step))
                else {
                    return Err(Error::execution("a swept series has a step out of range"));
                };
                *spent += step_value.samples() as usize;
                if let Some(value) = step_value.value() {
                    cell.get_or_insert_with(|| (index, self.fold.clone()))
                        .1
                        .add(value);
                }
            }
        }
        Ok(())
    }
}

/// Step value vectors a sweep has folded, handed back to the read tasks for the next series:
/// freed on the sweep's thread and allocated again on the readers', they would otherwise
/// cost fresh (zeroed) pages every batch.
#[derive(Default)]
struct Recycled {
    vectors: std::sync::Mutex<Vec<Vec<StepValue>>>,
}

impl Recycled {
    /// The most vectors kept (about a batch's series).
    const MAX_KEPT: usize = 4096;

    /// An empty vector, recycled when one is left.
    fn take(&self) -> Vec<StepValue> {
        self.vectors
            .lock()
            .ok()
            .and_then(|mut vectors| vectors.pop())
            .unwrap_or_default()
    }

    /// Keeps `vectors` (cleared) for [`Recycled::take`].
    fn give(&self, vectors: impl Iterator<Item = Vec<StepValue>>) {
        if let Ok(mut kept) = self.vectors.lock() {
            for mut vector in vectors.take(Self::MAX_KEPT.saturating_sub(kept.len())) {
                vector.clear();
                kept.push(vector);
            }
        }
    }
}

/// Fills `values` (empty) with one series' window values at each step whose window
/// `(start, end]` holds samples of it: `points` sorted by time, staleness markers left out,
/// the window sliding along the steps.
fn step_values(
    points: &[(i64, f64)],
    windows: &[(i64, i64)],
    function: WindowFunction,
    values: &mut Vec<StepValue>,
) {
    // Staleness markers are dropped (rarely any); counter resets are found once, when the
    // function looks for them, so that a window without one skips the search.
    let filtered: Vec<(i64, f64)>;
    let mut points = points;
    if points.iter().any(|(_, v)| is_stale_nan(*v)) {
        filtered = points
            .iter()
            .copied()
            .filter(|(_, v)| !is_stale_nan(*v))
            .collect();
        points = filtered.as_slice();
    }
    let resets = if function.corrects_resets() {
        resets_in(points)
    } else {
        Vec::new()
    };
    let mut next_reset = 0;
    values.reserve(windows.len());
    let mut cache = WindowCache::default();
    let (mut from, mut to) = (0, 0);
    for (step, &(start_exclusive_ms, end_ms)) in windows.iter().enumerate() {
        while from < points.len() && points[from].0 <= start_exclusive_ms {
            from += 1;
        }
        to = to.max(from);
        while to < points.len() && points[to].0 <= end_ms {
            to += 1;
        }
        if from == to {
            continue;
        }
        let window = (start_exclusive_ms, end_ms);
        // A reset at `r` (below the sample before it) is inside the window when both are.
        while resets.get(next_reset).is_some_and(|&r| r <= from) {
            next_reset += 1;
        }
        let has_resets = resets.get(next_reset).is_some_and(|&r| r < to);
        let value = function.apply_sliding(&points[from..to], window, has_resets, &mut cache);
        values.push(StepValue::new(
            u32::try_from(step).unwrap_or(u32::MAX),
            to - from,
            value,
        ));
    }
}

/// The indexes of the samples below the sample before them (counter resets), ascending.
fn resets_in(points: &[(i64, f64)]) -> Vec<usize> {
    points
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[1].1 < pair[0].1)
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use promql_parser::parser;

    use super::*;
    use crate::promql::value::stale_nan;
    use crate::promql::{Engine, InMemorySeries, Value};

    const STEP_MS: i64 = 15_000;

    /// Counters with resets, gauges with NaN and a staleness marker, irregular and
    /// late-starting series, of `pods` pods over three jobs.
    fn source_of(pods: u32) -> InMemorySeries {
        let mut source = InMemorySeries::new();
        for pod in 0..pods {
            let job = ["api", "db", "db"][pod as usize % 3];
            let labels = |name: &str| {
                Labels::new([
                    ("__name__", name.to_string()),
                    ("job", job.to_string()),
                    ("pod", pod.to_string()),
                ])
            };
            let start = i64::from(pod % 20) * 37_000;
            let interval = 10_000 + i64::from(pod % 4) * 2_500;
            let counter = (0..400i64).map(|i| {
                let value = (i * i64::from(pod + 1)) % 900 + i / 7;
                (start + i * interval, value as f64 * 0.5)
            });
            source.append(labels("requests_total"), counter);
            let gauge = (0..400i64).map(|i| {
                let value = match i {
                    100 if pod == 4 => f64::NAN,
                    200 if pod % 5 == 0 => stale_nan(),
                    _ => (i as f64 * 0.37 + f64::from(pod)).sin() * 10.0,
                };
                (start + i * interval, value)
            });
            source.append(labels("temperature"), gauge);
        }
        source
    }

    fn source() -> InMemorySeries {
        source_of(12)
    }

    fn bits(value: f64) -> u64 {
        if value.is_nan() {
            f64::NAN.to_bits()
        } else {
            value.to_bits()
        }
    }

    /// Every point of the range query equals the instant query at its time (instant queries
    /// are never swept), to the bit.
    fn assert_same_as_instant_queries(source: &dyn SeriesSource, query: &str) {
        let engine = Engine::default();
        let (start, end) = (60_000, 3_600_000);
        let matrix = engine
            .range_query(source, query, start, end, STEP_MS)
            .unwrap();
        let mut points = 0;
        let mut time = start;
        while time <= end {
            let Value::Vector(mut expected) = engine.instant_query(source, query, time).unwrap()
            else {
                panic!("{query} is not a vector");
            };
            expected.sort_by(|a, b| a.labels.cmp(&b.labels));
            let mut got: Vec<(Labels, f64)> = matrix
                .iter()
                .filter_map(|series| {
                    let (_, value) = series.points.iter().find(|(t, _)| *t == time)?;
                    Some((series.labels.clone(), *value))
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let expected: Vec<(Labels, u64)> = expected
                .into_iter()
                .map(|s| (s.labels, bits(s.value)))
                .collect();
            let got: Vec<(Labels, u64)> = got.into_iter().map(|(l, v)| (l, bits(v))).collect();
            assert_eq!(got, expected, "{query} at {time}");
            points += got.len();
            time += STEP_MS;
        }
        assert!(points > 100, "{query}: only {points} points compared");
    }

    const SWEPT: [&str; 12] = [
        "sum by (job) (rate(requests_total[5m]))",
        "sum(increase(requests_total[1m]))",
        "avg without (pod) (delta(temperature[2m]))",
        "max by (job) (irate(requests_total[1m]))",
        "min by (job) (idelta(temperature[1m]))",
        "count(deriv(temperature[3m]))",
        "group by (job) (changes(temperature[5m]))",
        "sum by (__name__) (last_over_time(temperature[1m]))",
        "avg(avg_over_time(temperature[90s] offset 2m))",
        "max(max_over_time(temperature[5m]))",
        "sum by (job) (resets((requests_total[10m])))",
        "sum(count_over_time(temperature[30s]))",
    ];

    #[test]
    fn swept_aggregations_equal_the_per_step_results_bit_for_bit() {
        let source = source();
        for query in SWEPT {
            let expr = parser::parse(query).unwrap();
            let planned = Sweeps::plan(&expr, 60_000, 3_600_000, STEP_MS).nodes.len();
            assert_eq!(planned, 1, "{query} is swept");
            assert_same_as_instant_queries(&source, query);
        }
        // Sweeps under functions and operators.
        assert_same_as_instant_queries(
            &source,
            "sum by (job) (rate(requests_total[5m])) / on (job) sum by (job) (rate(requests_total[10m]))",
        );
    }

    /// Hands series over `per_batch` at a time, as the metric store does, and counts the
    /// batches.
    struct Batched {
        source: InMemorySeries,
        per_batch: usize,
        batches: std::sync::atomic::AtomicUsize,
    }

    impl SeriesSource for Batched {
        fn select_series(
            &self,
            matchers: &[promql_parser::label::Matcher],
            start_ms: i64,
            end_ms: i64,
        ) -> Result<Vec<crate::promql::source::SelectedSeries>, Error> {
            self.source.select_series(matchers, start_ms, end_ms)
        }

        fn visit_series(
            &self,
            matchers: &[promql_parser::label::Matcher],
            start_ms: i64,
            end_ms: i64,
            visit: &mut crate::promql::source::VisitBatch<'_>,
        ) -> Result<(), Error> {
            let mut all = self
                .source
                .select_series(matchers, start_ms, end_ms)?
                .into_iter()
                .peekable();
            while all.peek().is_some() {
                let batch = all.by_ref().take(self.per_batch).collect();
                self.batches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if visit(batch)?.is_break() {
                    break;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn sweeps_over_batches_shared_by_two_workers_keep_each_group_in_series_order() {
        let mut groups = Groups::default();
        let mut workers = [Worker::new(3), Worker::new(3)];
        groups.place(&[0, 0, 1, 2, 0], &mut workers);
        assert_eq!(groups.placement, [(0, 0), (1, 0), (1, 1)]);
        assert_eq!(groups.loads, [3, 2]);
        groups.place(&[3, 1, 1], &mut workers);
        assert_eq!(
            groups.placement[3],
            (1, 2),
            "the lighter worker takes a new group"
        );
        assert_eq!(workers[1].cells.len(), 9);

        for (pods, per_batch) in [
            (12, 5),
            (2 * SERIES_PER_WORKER as u32 + 20, 70),
            (300, 1000),
        ] {
            let batched = Batched {
                source: source_of(pods),
                per_batch,
                batches: Default::default(),
            };
            for query in [
                "sum by (job) (rate(requests_total[5m]))",
                "avg by (job) (avg_over_time(temperature[2m]))",
                "min without (pod) (increase(requests_total[1m]))",
                "count by (job, pod) (changes(temperature[5m]))",
                "sum(rate({__name__=~\"requests_total|temperature\"}[5m]))",
            ] {
                assert_same_as_instant_queries(&batched, query);
            }
            let batches = batched.batches.load(std::sync::atomic::Ordering::Relaxed);
            let expected = (pods as usize).div_ceil(per_batch);
            assert!(batches >= 4 * expected, "{pods} pods: {batches} batches");
        }
    }

    #[test]
    fn a_sweep_with_too_many_groups_stops_reading_and_is_left_to_the_per_step_path() {
        let batched = Batched {
            source: source_of(200),
            per_batch: 120,
            batches: Default::default(),
        };
        let engine = Engine::default();
        // The first batch's 120 groups × 10,000 steps are over the cell limit.
        let steps = 10_000;
        let query = "sum by (pod) (rate(requests_total[5m]))";
        let matrix = engine
            .range_query(&batched, query, 0, (steps - 1) * 1_000, 1_000)
            .unwrap();
        assert_eq!(matrix.len(), 200);
        assert_eq!(
            batched.batches.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "the sweep stopped at its first batch; the per-step path selected once"
        );
    }

    #[test]
    fn what_a_sweep_cannot_evaluate_is_left_to_the_per_step_path() {
        for query in [
            "topk(2, rate(requests_total[5m]))",
            "quantile(0.5, rate(requests_total[5m]))",
            "sum(rate(requests_total[5m] @ 300))",
            "sum(quantile_over_time(0.5, temperature[5m]))",
            "max_over_time(sum(rate(requests_total[1m]))[5m:1m])",
            "sum(rate(requests_total[5m:1m]))",
            "sum(temperature)",
        ] {
            let expr = parser::parse(query).unwrap();
            let planned = Sweeps::plan(&expr, 60_000, 3_600_000, STEP_MS).nodes.len();
            assert_eq!(planned, 0, "{query} is not swept");
        }
        let expr = parser::parse(SWEPT[0]).unwrap();
        assert!(Sweeps::plan(&expr, 60_000, 60_000, 0).nodes.is_empty());
    }

    #[test]
    fn a_sweep_over_the_sample_limit_fails_like_the_per_step_path() {
        let source = source();
        let engine = Engine {
            max_samples: 50,
            ..Engine::default()
        };
        for query in [
            "sum(count_over_time(temperature[30m]))",
            "count_over_time(temperature[30m])",
        ] {
            let error = engine
                .range_query(&source, query, 60_000, 3_600_000, STEP_MS)
                .unwrap_err();
            assert!(
                error.to_string().contains("too many samples"),
                "{query}: {error}"
            );
        }
    }
}
