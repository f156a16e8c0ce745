//! The per-timestamp evaluator: walks the parsed expression at one evaluation time, selects
//! series (lookback, staleness, `offset`, `@`), evaluates subqueries and dispatches operators,
//! aggregations and function calls to their modules.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr, VectorSelector};

use super::engine::duration_ms;
use super::prefetch::SelectionPlan;
use super::source::{map_each, SelectedSeries, SeriesMap, SeriesSource, VisitMapped};
use super::sweep::Sweeps;
use super::value::{is_stale_nan, Labels, Matrix, Sample, Series, Vector, METRIC_NAME_LABEL};
use super::{aggregate, binary, functions, Error};

/// The most points one subquery may evaluate per outer step; a guard against `x[10y:1ms]`.
const MAX_SUBQUERY_STEPS: i64 = 1_000_000;

/// An intermediate value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vector),
    Matrix(Matrix),
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// Evaluates expressions of one query; `query_start_ms`/`query_end_ms` answer `start()` and
/// `end()` of the `@` modifier.
pub(crate) struct Evaluator<'a> {
    pub(crate) source: &'a dyn SeriesSource,
    pub(crate) lookback_ms: i64,
    pub(crate) query_start_ms: i64,
    pub(crate) query_end_ms: i64,
    /// The range query's step (0 for an instant query), for `step()`.
    pub(crate) query_step_ms: i64,
    pub(crate) subquery_step_ms: i64,
    /// What is left of [`super::Engine::max_samples`]; one query runs on one thread.
    pub(crate) sample_budget: Cell<i64>,
    /// Each selector's window, read once per query.
    pub(crate) plan: SelectionPlan,
    /// The output group of each input label set, per aggregation: series keep their labels
    /// from step to step, so the grouping is worked out once per series, not once per step.
    pub(crate) groups: aggregate::GroupCache,
    /// A range query's aggregations evaluated series by series across every step.
    pub(crate) sweeps: Sweeps,
    /// Samples spent since the source was last asked whether evaluation may go on.
    pub(crate) spent_since_check: Cell<usize>,
}

/// Samples spent between two checks that evaluation may go on (asking reads the clock).
const SAMPLES_PER_INTERRUPT_CHECK: usize = 64 * 1024;

impl Evaluator<'_> {
    /// Evaluates `expr` at `timestamp_ms`.
    pub(crate) fn eval(&self, expr: &Expr, timestamp_ms: i64) -> Result<Val, Error> {
        match expr {
            Expr::NumberLiteral(number) => Ok(Val::Scalar(number.val)),
            Expr::StringLiteral(text) => Ok(Val::Str(text.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr, timestamp_ms),
            Expr::Unary(unary) => match self.eval(&unary.expr, timestamp_ms)? {
                Val::Scalar(value) => Ok(Val::Scalar(-value)),
                Val::Vector(mut vector) => {
                    for sample in &mut vector {
                        sample.value = -sample.value;
                        sample.timestamp_ms = timestamp_ms;
                        sample.drop_name = true;
                    }
                    Ok(Val::Vector(vector))
                }
                other => Err(Error::execution(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(selector) => self
                .select_instant(selector, timestamp_ms)
                .map(Val::Vector),
            Expr::MatrixSelector(selector) => self
                .select_range(&selector.vs, duration_ms(selector.range), timestamp_ms)
                .map(Val::Matrix),
            Expr::Subquery(subquery) => self.eval_subquery(subquery, timestamp_ms).map(Val::Matrix),
            Expr::Call(call) => functions::eval_call(self, call, timestamp_ms),
            Expr::Aggregate(aggregate) => match self.sweeps.take(self, aggregate, timestamp_ms)? {
                Some(vector) => Ok(Val::Vector(vector)),
                None => aggregate::eval_aggregate(self, aggregate, timestamp_ms),
            },
            Expr::Binary(binary) => binary::eval_binary(self, binary, timestamp_ms),
            Expr::Extension(_) => Err(Error::unsupported("extension expressions")),
        }
    }

    /// Takes `count` samples from the query's budget; also where a long evaluation notices
    /// that its source wants it to stop.
    fn spend_samples(&self, count: usize) -> Result<(), Error> {
        let spent = self.spent_since_check.get().saturating_add(count.max(1));
        if spent >= SAMPLES_PER_INTERRUPT_CHECK {
            self.source.check_interrupted()?;
            self.spent_since_check.set(0);
        } else {
            self.spent_since_check.set(spent);
        }
        let left = self
            .sample_budget
            .get()
            .saturating_sub(i64::try_from(count).unwrap_or(i64::MAX));
        self.sample_budget.set(left);
        if left < 0 {
            return Err(Self::too_many_samples());
        }
        Ok(())
    }

    /// The error of a query over the sample limit, in Prometheus' words.
    pub(crate) fn too_many_samples() -> Error {
        Error::execution(
            "query processing would load too many samples into memory in query execution",
        )
    }

    /// Evaluates `expr` and requires an instant vector.
    pub(crate) fn eval_vector(&self, expr: &Expr, timestamp_ms: i64) -> Result<Vector, Error> {
        match self.eval(expr, timestamp_ms)? {
            Val::Vector(vector) => Ok(vector),
            other => Err(Error::execution(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates `expr` and requires a scalar.
    pub(crate) fn eval_scalar(&self, expr: &Expr, timestamp_ms: i64) -> Result<f64, Error> {
        match self.eval(expr, timestamp_ms)? {
            Val::Scalar(value) => Ok(value),
            other => Err(Error::execution(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates `expr` and requires a range vector.
    pub(crate) fn eval_matrix(&self, expr: &Expr, timestamp_ms: i64) -> Result<Matrix, Error> {
        match self.eval(expr, timestamp_ms)? {
            Val::Matrix(matrix) => Ok(matrix),
            other => Err(Error::execution(format!(
                "expected range vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// The time a selector or subquery reads at: the `@` time (or `timestamp_ms`) minus the
    /// offset.
    pub(crate) fn reference_time_ms(
        &self,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
        timestamp_ms: i64,
    ) -> i64 {
        let base_ms = match at {
            None => timestamp_ms,
            Some(AtModifier::Start) => self.query_start_ms,
            Some(AtModifier::End) => self.query_end_ms,
            Some(AtModifier::At(time)) => system_time_ms(*time),
        };
        match offset {
            None => base_ms,
            Some(Offset::Pos(duration)) => base_ms.saturating_sub(duration_ms(*duration)),
            Some(Offset::Neg(duration)) => base_ms.saturating_add(duration_ms(*duration)),
        }
    }

    /// Reads the series a selector names, with samples in `(start_exclusive_ms, end_ms]`,
    /// from the query's prefetched window when it covers the request.
    fn select(
        &self,
        selector: &VectorSelector,
        start_exclusive_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SelectedSeries>, Error> {
        let start_ms = start_exclusive_ms.saturating_add(1);
        let fetch = |from_ms, to_ms| self.select_from_source(selector, from_ms, to_ms);
        match self.plan.select(selector, start_ms, end_ms, fetch) {
            Some(selected) => selected,
            None => self.select_from_source(selector, start_ms, end_ms),
        }
    }

    /// Reads the series a selector names, with samples in `start_ms..=end_ms`, from the
    /// source; `or` alternatives are read one by one and joined.
    pub(crate) fn select_from_source(
        &self,
        selector: &VectorSelector,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SelectedSeries>, Error> {
        let base = base_matchers(selector);
        if selector.matchers.or_matchers.is_empty() {
            return self.source.select_series(&base, start_ms, end_ms);
        }
        let mut union: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
        for alternative in &selector.matchers.or_matchers {
            let mut matchers = base.clone();
            matchers.extend(alternative.iter().cloned());
            for (labels, points) in self.source.select_series(&matchers, start_ms, end_ms)? {
                union.insert(labels, points);
            }
        }
        Ok(union.into_iter().collect())
    }

    /// Hands what `map` makes of each of the selector's series in `start_ms..=end_ms` to
    /// `visit`, a batch at a time (see [`SeriesSource::visit_mapped`]); a selector with `or`
    /// alternatives comes as one batch, mapped here.
    pub(crate) fn visit_mapped_from_source(
        &self,
        selector: &VectorSelector,
        start_ms: i64,
        end_ms: i64,
        map: &SeriesMap,
        visit: &mut VisitMapped<'_>,
    ) -> Result<(), Error> {
        if !selector.matchers.or_matchers.is_empty() {
            let selected = self.select_from_source(selector, start_ms, end_ms)?;
            return visit(map_each(selected, map)).map(|_| ());
        }
        self.source
            .visit_mapped(&base_matchers(selector), start_ms, end_ms, map, visit)
    }

    /// Evaluates an instant vector selector: each series' latest sample within the lookback
    /// delta, unless that sample is a staleness marker. Samples keep their own timestamps so
    /// `timestamp()` can report them.
    pub(crate) fn select_instant(
        &self,
        selector: &VectorSelector,
        timestamp_ms: i64,
    ) -> Result<Vector, Error> {
        let reference_ms = self.reference_time_ms(&selector.at, &selector.offset, timestamp_ms);
        let start_ms = reference_ms
            .saturating_sub(self.lookback_ms)
            .saturating_add(1);
        let mut vector = Vec::new();
        let mut take_last = |labels: &Labels, points: &[(i64, f64)]| {
            if let Some(&(sample_ms, value)) = points.last() {
                if !is_stale_nan(value) {
                    vector.push(Sample::new(labels.clone(), sample_ms, value));
                }
            }
        };
        // From the prefetched window in place: only each series' last sample is needed.
        let fetch = |from_ms, to_ms| self.select_from_source(selector, from_ms, to_ms);
        let visited = self
            .plan
            .visit(selector, start_ms, reference_ms, fetch, |labels, points| {
                take_last(labels, points);
                Ok(())
            });
        match visited {
            Some(result) => result?,
            None => {
                for (labels, points) in self.select_from_source(selector, start_ms, reference_ms)? {
                    take_last(&labels, &points);
                }
            }
        }
        self.spend_samples(vector.len())?;
        Ok(vector)
    }

    /// Evaluates a range vector selector: each series' samples in `(ref - range, ref]`,
    /// staleness markers left out.
    pub(crate) fn select_range(
        &self,
        selector: &VectorSelector,
        range_ms: i64,
        timestamp_ms: i64,
    ) -> Result<Matrix, Error> {
        let reference_ms = self.reference_time_ms(&selector.at, &selector.offset, timestamp_ms);
        let series = self.select(
            selector,
            reference_ms.saturating_sub(range_ms),
            reference_ms,
        )?;
        let mut matrix = Vec::with_capacity(series.len());
        for (labels, mut points) in series {
            points.retain(|(_, value)| !is_stale_nan(*value));
            if !points.is_empty() {
                self.spend_samples(points.len())?;
                matrix.push(Series::new(labels, points));
            }
        }
        Ok(matrix)
    }

    /// Applies `per_series` to each series of a range argument at `timestamp_ms`, as
    /// `over_series(eval_matrix(expr))` does, but for a plain range selector it reads the
    /// query's prefetched window in place instead of copying each series' samples at every
    /// step (the bulk of a range query's work for `rate` and `*_over_time`).
    pub(crate) fn map_range(
        &self,
        expr: &Expr,
        timestamp_ms: i64,
        keep_name: bool,
        mut per_series: impl FnMut(&[(i64, f64)]) -> Option<f64>,
    ) -> Result<Vector, Error> {
        let selector = match expr {
            Expr::MatrixSelector(selector) if selector.vs.at.is_none() => selector,
            Expr::Paren(paren) => {
                return self.map_range(&paren.expr, timestamp_ms, keep_name, per_series)
            }
            _ => {
                let matrix = self.eval_matrix(expr, timestamp_ms)?;
                return Ok(functions::range::over_series(
                    matrix,
                    timestamp_ms,
                    keep_name,
                    per_series,
                ));
            }
        };
        let vs = &selector.vs;
        let reference_ms = self.reference_time_ms(&vs.at, &vs.offset, timestamp_ms);
        let start_ms = reference_ms
            .saturating_sub(duration_ms(selector.range))
            .saturating_add(1);
        let mut out = Vec::new();
        let mut filtered = Vec::new();
        let fetch = |from_ms, to_ms| self.select_from_source(vs, from_ms, to_ms);
        let visited = self
            .plan
            .visit(vs, start_ms, reference_ms, fetch, |labels, points| {
                let points = if points.iter().any(|(_, v)| is_stale_nan(*v)) {
                    filtered.clear();
                    filtered.extend(points.iter().filter(|(_, v)| !is_stale_nan(*v)));
                    filtered.as_slice()
                } else {
                    points
                };
                if points.is_empty() {
                    return Ok(());
                }
                self.spend_samples(points.len())?;
                if let Some(value) = per_series(points) {
                    out.push(Sample {
                        labels: labels.clone(),
                        timestamp_ms,
                        value,
                        drop_name: !keep_name,
                    });
                }
                Ok(())
            });
        match visited {
            Some(result) => result.map(|()| out),
            None => {
                let matrix = self.select_range(vs, duration_ms(selector.range), timestamp_ms)?;
                Ok(functions::range::over_series(
                    matrix,
                    timestamp_ms,
                    keep_name,
                    per_series,
                ))
            }
        }
    }

    /// Evaluates a subquery: the inner expression at every multiple of the step within
    /// `(ref - range, ref]`.
    fn eval_subquery(&self, subquery: &SubqueryExpr, timestamp_ms: i64) -> Result<Matrix, Error> {
        let step_ms = subquery
            .step
            .map(duration_ms)
            .unwrap_or(self.subquery_step_ms);
        if step_ms <= 0 {
            return Err(Error::execution("subquery step must be positive"));
        }
        let end_ms = self.reference_time_ms(&subquery.at, &subquery.offset, timestamp_ms);
        let range_ms = duration_ms(subquery.range);
        let window_start_ms = end_ms.saturating_sub(range_ms);
        if range_ms / step_ms > MAX_SUBQUERY_STEPS {
            return Err(Error::execution(format!(
                "subquery would evaluate more than {MAX_SUBQUERY_STEPS} steps"
            )));
        }
        // Go's integer division truncates toward zero, and so does Rust's.
        let mut step_time_ms = step_ms * (window_start_ms / step_ms);
        if step_time_ms <= window_start_ms {
            step_time_ms = step_time_ms.saturating_add(step_ms);
        }
        let mut by_labels: HashMap<Labels, Series> = HashMap::new();
        while step_time_ms <= end_ms {
            self.spend_samples(1)?;
            let samples = match self.eval(&subquery.expr, step_time_ms)? {
                Val::Scalar(value) => vec![Sample::new(Labels::default(), step_time_ms, value)],
                Val::Vector(vector) => vector,
                other => {
                    return Err(Error::execution(format!(
                        "subquery is only allowed on instant vector, got {}",
                        other.type_name()
                    )))
                }
            };
            for sample in samples {
                let series = by_labels.entry(sample.labels.clone()).or_insert_with(|| {
                    let mut series = Series::new(sample.labels, Vec::new());
                    series.drop_name = sample.drop_name;
                    series
                });
                series.points.push((step_time_ms, sample.value));
            }
            if step_time_ms == i64::MAX {
                break;
            }
            step_time_ms = step_time_ms.saturating_add(step_ms);
        }
        let mut matrix: Matrix = by_labels.into_values().collect();
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(matrix)
    }
}

/// Converts a parser time (possibly before the epoch) to ms since the epoch.
fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => duration_ms(after),
        Err(before) => -duration_ms(before.duration()),
    }
}

/// The selector's matchers, its metric name among them (without its `or` alternatives).
fn base_matchers(selector: &VectorSelector) -> Vec<Matcher> {
    let mut matchers = selector.matchers.matchers.clone();
    if let Some(name) = &selector.name {
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, name));
    }
    matchers
}

#[cfg(test)]
mod tests;
