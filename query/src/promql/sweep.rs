//! Sweeps: a range query evaluates an aggregation of a range function over a plain selector
//! (`sum by (job) (rate(x[5m]))`, what most dashboards and health rules ask) series by series
//! across every step at once, instead of step by step across every series.
//!
//! The per-step evaluator, at each of a range query's steps, walks every series' window,
//! builds a vector of samples and groups it; over 10,000 series and 1,441 steps that is
//! 14 million samples built, hashed and grouped. A sweep walks each series' samples once,
//! sliding the window along the steps, and folds each step's value straight into its group's
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

use promql_parser::parser::{AggregateExpr, Expr, MatrixSelector};

use super::aggregate::Fold;
use super::engine::duration_ms;
use super::eval::Evaluator;
use super::functions::range::WindowFunction;
use super::source::SeriesSource;
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

    /// Sweeps one aggregation: `None` when it is left to the per-step path.
    fn sweep(
        &self,
        evaluator: &Evaluator<'_>,
        parts: &Parts<'_>,
    ) -> Result<Option<Vec<Option<Vector>>>, Error> {
        let steps = self.steps();
        let vs = &parts.selector.vs;
        let range_ms = duration_ms(parts.selector.range);
        let fetch = |from_ms, to_ms| evaluator.select_from_source(vs, from_ms, to_ms);
        let (all, (window_start_ms, window_end_ms)) = match evaluator.plan.whole(vs, fetch) {
            Some(result) => result?,
            None => return Ok(None),
        };
        let first_start_ms = evaluator
            .reference_time_ms(&vs.at, &vs.offset, self.start_ms)
            .saturating_sub(range_ms);
        let last_end_ms = evaluator.reference_time_ms(&vs.at, &vs.offset, self.end_ms);
        if first_start_ms < window_start_ms.saturating_sub(1) || last_end_ms > window_end_ms {
            return Ok(None);
        }

        // Each series' group, as the per-step path finds it.
        let node = key(parts.aggregate);
        let modifier = parts.aggregate.modifier.as_ref();
        let mut groups: Vec<Labels> = Vec::new();
        let mut group_index: HashMap<usize, usize> = HashMap::new();
        let series_groups: Vec<usize> = all
            .iter()
            .map(|(labels, _)| {
                let group = evaluator.groups.group_labels(node, labels, modifier);
                *group_index.entry(group.storage_id()).or_insert_with(|| {
                    groups.push(group);
                    groups.len() - 1
                })
            })
            .collect();
        if groups.len().saturating_mul(steps) > MAX_CELLS {
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
        let sweeper = Sweeper {
            series: &all,
            series_groups: &series_groups,
            windows: &windows,
            function: parts.function,
            fold,
            source: evaluator.source,
        };
        // Two workers when there is enough to share, each folding whole groups, so every
        // cell still takes its values in series order.
        let owners = split_groups(&series_groups, groups.len());
        let (first, second) = if owners.contains(&1) {
            std::thread::scope(|scope| {
                let second = scope.spawn(|| sweeper.run(&owners, 1));
                let first = sweeper.run(&owners, 0);
                let second = second
                    .join()
                    .unwrap_or_else(|_| Err(Error::execution("a sweep worker panicked")));
                (first, Some(second))
            })
        } else {
            (sweeper.run(&owners, 0), None)
        };
        let mut swept = first?;
        if let Some(second) = second {
            swept.absorb(second?, &owners, steps);
        }
        // The limit bounds the samples one step reads, as in the per-step path.
        let allowed = usize::try_from(evaluator.sample_budget.get()).unwrap_or(0);
        if swept.spent.iter().any(|&samples| samples > allowed) {
            return Err(Evaluator::too_many_samples());
        }
        // Each step's groups in order of their first series, as the per-step path groups.
        let mut order: Vec<Vec<(usize, usize)>> = vec![Vec::new(); steps];
        for (cell, slot) in swept.cells.iter().enumerate() {
            if let Some((first_series, _)) = slot {
                order[cell % steps].push((*first_series, cell / steps));
            }
        }
        let cells = swept.cells;

        let drop_name = !parts.function.keeps_name;
        let results = order
            .into_iter()
            .enumerate()
            .map(|(step, groups_at_step)| {
                let timestamp_ms = self.start_ms + step as i64 * self.step_ms;
                let mut groups_at_step = groups_at_step;
                groups_at_step.sort_unstable();
                let vector = groups_at_step
                    .into_iter()
                    .filter_map(|(_, group)| {
                        let (_, fold) = cells[group * steps + step].as_ref()?;
                        let labels = groups[group].clone();
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

/// Series below which a sweep runs on one thread.
const SERIES_PER_WORKER: usize = 64;

/// Assigns each group to worker 0 or 1, balancing their series; all to 0 when there is too
/// little to share (one group, or few series).
fn split_groups(series_groups: &[usize], groups: usize) -> Vec<u8> {
    let mut owners = vec![0u8; groups];
    if groups < 2 || series_groups.len() < 2 * SERIES_PER_WORKER {
        return owners;
    }
    let mut sizes = vec![0usize; groups];
    for &group in series_groups {
        sizes[group] += 1;
    }
    let mut by_size: Vec<usize> = (0..groups).collect();
    by_size.sort_unstable_by_key(|&group| std::cmp::Reverse(sizes[group]));
    let mut loads = [0usize; 2];
    for group in by_size {
        let worker = usize::from(loads[1] < loads[0]);
        owners[group] = worker as u8;
        loads[worker] += sizes[group];
    }
    owners
}

/// What one sweep reads, shared by its workers.
struct Sweeper<'s> {
    series: &'s [(Labels, Vec<(i64, f64)>)],
    /// Each series' group.
    series_groups: &'s [usize],
    /// Each step's window `(start, end]`.
    windows: &'s [(i64, i64)],
    function: WindowFunction,
    /// An empty fold of the aggregation.
    fold: Fold,
    source: &'s dyn SeriesSource,
}

/// One worker's cells (by group, then step: the index of the first series folded and the
/// fold) and the samples it read at each step.
struct Swept {
    cells: Vec<Option<(usize, Fold)>>,
    spent: Vec<usize>,
}

impl Swept {
    /// Takes the other worker's groups' cells and adds its samples read.
    fn absorb(&mut self, other: Swept, owners: &[u8], steps: usize) {
        for (cell, slot) in other.cells.into_iter().enumerate() {
            if owners[cell / steps] != 0 {
                self.cells[cell] = slot;
            }
        }
        for (mine, theirs) in self.spent.iter_mut().zip(other.spent) {
            *mine += theirs;
        }
    }
}

impl Sweeper<'_> {
    /// Folds the series of the groups `owners` gives to `worker`, in series order.
    fn run(&self, owners: &[u8], worker: u8) -> Result<Swept, Error> {
        let steps = self.windows.len();
        let mut swept = Swept {
            cells: vec![None; owners.len() * steps],
            spent: vec![0; steps],
        };
        let mut filtered = Vec::new();
        // Resets before each sample of the series, when the function looks for them: a
        // window without one skips the search.
        let mut resets: Vec<u32> = Vec::new();
        let count_resets = self.function.corrects_resets();
        let mine = self
            .series
            .iter()
            .zip(self.series_groups)
            .enumerate()
            .filter(|(_, (_, &group))| owners[group] == worker);
        for (done, (index, ((_, points), &group))) in mine.enumerate() {
            if done % SERIES_PER_INTERRUPT_CHECK == 0 {
                self.source.check_interrupted()?;
            }
            let points = if points.iter().any(|(_, v)| is_stale_nan(*v)) {
                filtered.clear();
                filtered.extend(points.iter().filter(|(_, v)| !is_stale_nan(*v)));
                filtered.as_slice()
            } else {
                points.as_slice()
            };
            if count_resets {
                resets.clear();
                let mut count = 0;
                let mut previous = f64::NAN;
                for &(_, value) in points {
                    count += u32::from(value < previous);
                    resets.push(count);
                    previous = value;
                }
            }
            let cells = &mut swept.cells[group * steps..(group + 1) * steps];
            let (mut from, mut to) = (0, 0);
            for (step, &(start_exclusive_ms, end_ms)) in self.windows.iter().enumerate() {
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
                swept.spent[step] += to - from;
                let window = (start_exclusive_ms, end_ms);
                let value = if count_resets && resets[to - 1] == resets[from] {
                    self.function
                        .apply_without_resets(&points[from..to], window)
                } else {
                    self.function.apply(&points[from..to], window)
                };
                let Some(value) = value else {
                    continue;
                };
                cells[step]
                    .get_or_insert_with(|| (index, self.fold.clone()))
                    .1
                    .add(value);
            }
        }
        Ok(swept)
    }
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
    fn assert_same_as_instant_queries(source: &InMemorySeries, query: &str) {
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

    #[test]
    fn sweeps_shared_by_two_workers_keep_each_group_in_series_order() {
        let source = source_of(2 * SERIES_PER_WORKER as u32 + 20);
        let mut groups = vec![1; 150];
        groups.extend([0; 50]);
        groups.push(2);
        assert_eq!(
            split_groups(&groups, 3),
            [1, 0, 1],
            "the big group on its own"
        );
        assert_eq!(
            split_groups(&groups[..100], 2),
            [0, 0],
            "too few series to share"
        );
        for query in [
            "sum by (job) (rate(requests_total[5m]))",
            "avg by (job) (avg_over_time(temperature[2m]))",
            "min without (pod) (increase(requests_total[1m]))",
            "count by (job, pod) (changes(temperature[5m]))",
        ] {
            assert_same_as_instant_queries(&source, query);
        }
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
