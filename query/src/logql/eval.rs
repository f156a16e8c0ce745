//! Evaluates parsed LogQL over a [`LogSource`]: log queries into entries (newest or oldest
//! first, at most `limit`), metric queries into one vector per step.
//!
//! A metric query reads its whole window once, oldest first: each entry that passes the
//! pipeline adds its time and line length to its series, then every step counts the entries
//! in `(t - offset - range, t - offset]` with a sliding window. When a `sum` directly wraps
//! the range aggregation, entries are grouped by its labels as they are read (as Loki does),
//! so `sum by (level) (count_over_time(…))` holds a handful of series even when every line
//! has its own `trace_id`. Vector aggregations and binary operators then work step by step
//! on those vectors (binary operators match samples by identical labels, one to one).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Instant;

use sightline_model::{Labels, TenantId};

use super::aggregate::aggregate;
use super::ast::{
    Expr, Grouping, LineFilterOp, LogExpr, MetricExpr, RangeOp, Stage, Unwrap, VectorOp,
};
use super::binary::{binary, StepValues};
use super::pipeline::{
    line_matches, run_pipeline, unwrap_value, Row, ERROR_DETAILS_LABEL, ERROR_LABEL,
};
use super::source::{Direction, LogEntry, LogRequest, LogSource, MatchOp};
use super::window::{range_value, slide};
use super::Error;

/// How many series a metric query may hold (read or answered), like Loki's
/// `max_query_series`.
pub const MAX_SERIES: usize = 5_000;

/// How many steps a range query may have, as Loki and Prometheus allow.
pub const MAX_STEPS: usize = 11_000;

/// How many entries pass between deadline checks.
const DEADLINE_CHECK_INTERVAL: usize = 1024;

/// A series' `(timestamp ns, value)` points (line bytes, or unwrapped values), as a metric
/// query reads them.
type SeriesPoints = (Labels, Vec<(u64, f64)>);

/// A range aggregation's parts, as [`MetricExpr::Range`] holds them.
struct RangeSpec<'a> {
    op: RangeOp,
    log: &'a LogExpr,
    range_nanos: u64,
    offset_nanos: u64,
    unwrap: Option<&'a Unwrap>,
    phi: Option<f64>,
}

/// One sample: labels and value.
pub type Sample = (Labels, f64);

/// A series of a range query: its labels and `(timestamp ns, value)` points in time order.
pub type Series = (Labels, Vec<(u64, f64)>);

/// What a query returns.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// A log query's entries, in the requested direction.
    Streams(Vec<Row>),
    /// An instant metric query's samples, sorted by labels.
    Vector(Vec<Sample>),
    /// A range metric query's series, sorted by labels.
    Matrix(Vec<Series>),
}

/// The time frame of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParams {
    /// Log queries: start of the range, inclusive. Metric queries: the first step.
    pub start_unix_nano: u64,
    /// Log queries: end of the range, exclusive. Metric queries: the last step (inclusive).
    pub end_unix_nano: u64,
    /// Distance between steps of a metric query, nanoseconds; 0 for an instant query.
    pub step_nanos: u64,
    /// At most this many entries for a log query.
    pub limit: usize,
    /// The order of a log query's entries.
    pub direction: Direction,
}

/// What an evaluation read, for the `stats` of Loki's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvalStats {
    /// Entries the source returned.
    pub lines_processed: u64,
    /// Their line bytes.
    pub bytes_processed: u64,
    /// Entries that passed the pipeline.
    pub post_filter_lines: u64,
}

/// Evaluates LogQL for one tenant over a source, within an optional deadline. Runs
/// synchronously: call it on a blocking thread.
pub struct Engine<'a> {
    source: &'a dyn LogSource,
    tenant: &'a TenantId,
    deadline: Option<Instant>,
    stats: Cell<EvalStats>,
}

impl<'a> Engine<'a> {
    /// Creates an engine reading `tenant`'s entries from `source`.
    pub fn new(source: &'a dyn LogSource, tenant: &'a TenantId) -> Self {
        Self {
            source,
            tenant,
            deadline: None,
            stats: Cell::new(EvalStats::default()),
        }
    }

    /// Returns what the evaluations so far read.
    pub fn stats(&self) -> EvalStats {
        self.stats.get()
    }

    /// Counts an entry read, and whether it passed the pipeline.
    fn count(&self, line_bytes: usize, passed: bool) {
        let mut stats = self.stats.get();
        stats.lines_processed += 1;
        stats.bytes_processed += u64::try_from(line_bytes).unwrap_or(u64::MAX);
        stats.post_filter_lines += u64::from(passed);
        self.stats.set(stats);
    }

    /// Stops evaluation with [`Error::Timeout`] after `deadline`.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Evaluates a parsed query. A metric query with `step_nanos == 0` is an instant query
    /// at `end_unix_nano` and returns [`QueryResult::Vector`].
    ///
    /// # Errors
    /// [`Error::Timeout`], [`Error::TooManySeries`], [`Error::TooManySteps`], a pipeline error in a metric query
    /// (an `__error__` label left on a sample, as Loki refuses), and source failures.
    pub fn evaluate(&self, expr: &Expr, params: &QueryParams) -> Result<QueryResult, Error> {
        match expr {
            Expr::Log(log) => self.select_logs(log, params).map(QueryResult::Streams),
            Expr::Metric(metric) if params.step_nanos == 0 => {
                let steps = [params.end_unix_nano];
                let mut matrix = self.evaluate_metric(metric, &steps)?;
                let mut vector: Vec<Sample> = matrix
                    .iter_mut()
                    .filter_map(|(labels, points)| {
                        points.pop().map(|(_, value)| (labels.clone(), value))
                    })
                    .collect();
                vector.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(QueryResult::Vector(vector))
            }
            Expr::Metric(metric) => {
                let steps: Vec<u64> = (0..)
                    .map(|i: u64| {
                        params
                            .start_unix_nano
                            .saturating_add(i.saturating_mul(params.step_nanos))
                    })
                    .take_while(|t| *t <= params.end_unix_nano)
                    .take(MAX_STEPS + 1)
                    .collect();
                if steps.len() > MAX_STEPS {
                    return Err(Error::TooManySteps { limit: MAX_STEPS });
                }
                self.evaluate_metric(metric, &steps)
                    .map(QueryResult::Matrix)
            }
        }
    }

    /// Returns up to `limit` entries of the range that pass the pipeline.
    fn select_logs(&self, log: &LogExpr, params: &QueryParams) -> Result<Vec<Row>, Error> {
        let request = LogRequest {
            matchers: log.matchers.clone(),
            start_unix_nano: params.start_unix_nano,
            end_unix_nano: params.end_unix_nano,
            direction: params.direction,
            required_substrings: required_substrings(&log.pipeline),
            limit_hint: Some(params.limit),
        };
        let mut rows = Vec::new();
        let mut seen = 0usize;
        let mut timed_out = false;
        if params.limit == 0 {
            return Ok(rows);
        }
        self.source.select(self.tenant, &request, &mut |entry| {
            seen += 1;
            if seen.is_multiple_of(DEADLINE_CHECK_INTERVAL) && self.past_deadline() {
                timed_out = true;
                return ControlFlow::Break(());
            }
            let line_bytes = entry.line.len();
            let mut row = Row::new(entry);
            let passed = run_pipeline(&log.pipeline, &mut row);
            self.count(line_bytes, passed);
            if passed {
                rows.push(row);
                if rows.len() >= params.limit {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        if timed_out {
            return Err(Error::Timeout);
        }
        Ok(rows)
    }

    /// Evaluates a metric expression at every step; returns series sorted by labels (a
    /// scalar becomes one series without labels).
    fn evaluate_metric(&self, metric: &MetricExpr, steps: &[u64]) -> Result<Vec<Series>, Error> {
        let per_step = match self.evaluate_node(metric, steps, None)? {
            StepValues::Vectors(vectors) => vectors,
            StepValues::Scalars(values) => values
                .into_iter()
                .map(|value| vec![(Labels::default(), value)])
                .collect(),
        };
        let mut matrix: BTreeMap<Labels, Vec<(u64, f64)>> = BTreeMap::new();
        for (vector, &t) in per_step.into_iter().zip(steps) {
            for (labels, value) in vector {
                matrix.entry(labels).or_default().push((t, value));
            }
            if matrix.len() > MAX_SERIES {
                return Err(Error::TooManySeries { limit: MAX_SERIES });
            }
        }
        Ok(matrix.into_iter().collect())
    }

    /// Evaluates one node of a metric expression at every step. `projection` is the
    /// grouping of a `sum` directly around a range aggregation.
    fn evaluate_node(
        &self,
        node: &MetricExpr,
        steps: &[u64],
        projection: Option<&Grouping>,
    ) -> Result<StepValues, Error> {
        match node {
            MetricExpr::Range {
                op,
                log,
                range_nanos,
                offset_nanos,
                unwrap,
                parameter,
                grouping,
            } => {
                let range = RangeSpec {
                    op: *op,
                    log,
                    range_nanos: *range_nanos,
                    offset_nanos: *offset_nanos,
                    unwrap: unwrap.as_ref(),
                    phi: *parameter,
                };
                // A range aggregation's own grouping merges series before the function.
                let projection = grouping.as_ref().or(projection);
                self.evaluate_range(&range, steps, projection)
                    .map(StepValues::Vectors)
            }
            MetricExpr::Vector {
                op,
                grouping,
                parameter,
                inner,
            } => {
                let projection = match inner.as_ref() {
                    MetricExpr::Range {
                        op: range_op,
                        grouping: None,
                        ..
                    } if *op == VectorOp::Sum && range_op.is_additive() => {
                        Some(grouping.as_ref().unwrap_or(&EVERYTHING))
                    }
                    _ => None,
                };
                let vectors = match self.evaluate_node(inner, steps, projection)? {
                    StepValues::Vectors(vectors) => vectors,
                    StepValues::Scalars(_) => {
                        return Err(Error::unsupported(format!(
                            "{} over a scalar (it aggregates a vector)",
                            op.name()
                        )))
                    }
                };
                Ok(StepValues::Vectors(
                    vectors
                        .into_iter()
                        .map(|vector| aggregate(*op, grouping.as_ref(), *parameter, vector))
                        .collect(),
                ))
            }
            MetricExpr::Scalar(value) => Ok(StepValues::Scalars(vec![*value; steps.len()])),
            MetricExpr::VectorLiteral(value) => {
                Ok(StepValues::Vectors(vec![
                    vec![(Labels::default(), *value)];
                    steps.len()
                ]))
            }
            MetricExpr::Binary {
                op,
                return_bool,
                left,
                right,
            } => {
                let left = self.evaluate_node(left, steps, None)?;
                let right = self.evaluate_node(right, steps, None)?;
                Ok(binary(*op, *return_bool, left, right))
            }
        }
    }

    /// Evaluates a range aggregation: reads its window once, then slides over the steps.
    fn evaluate_range(
        &self,
        range: &RangeSpec<'_>,
        steps: &[u64],
        projection: Option<&Grouping>,
    ) -> Result<Vec<Vec<Sample>>, Error> {
        let (Some(&first), Some(&last)) = (steps.first(), steps.last()) else {
            return Ok(Vec::new());
        };
        let window_start = first
            .saturating_sub(range.offset_nanos)
            .saturating_sub(range.range_nanos)
            .saturating_add(1);
        let window_end = last.saturating_sub(range.offset_nanos).saturating_add(1);
        let series = self.read_series(range, window_start, window_end, projection)?;
        let mut cursors = vec![(0usize, 0usize); series.len()];
        let mut per_step = Vec::with_capacity(steps.len());
        for (step_index, &t) in steps.iter().enumerate() {
            if step_index.is_multiple_of(64) && self.past_deadline() {
                return Err(Error::Timeout);
            }
            let upper = t.saturating_sub(range.offset_nanos);
            let lower = upper.saturating_sub(range.range_nanos);
            let mut vector = Vec::new();
            for ((labels, points), cursor) in series.iter().zip(cursors.iter_mut()) {
                let window = slide(points, cursor, lower, upper);
                let unwrapped = range.unwrap.is_some();
                if let Some(value) =
                    range_value(range.op, window, range.range_nanos, unwrapped, range.phi)
                {
                    vector.push((labels.clone(), value));
                }
            }
            if range.op == RangeOp::AbsentOverTime {
                vector = if vector.is_empty() {
                    vec![(absent_labels(range.log), 1.0)]
                } else {
                    Vec::new()
                };
            }
            per_step.push(vector);
        }
        Ok(per_step)
    }

    /// Reads the window once, oldest first, into per-series `(time, line bytes)` points.
    fn read_series(
        &self,
        range: &RangeSpec<'_>,
        start_unix_nano: u64,
        end_unix_nano: u64,
        projection: Option<&Grouping>,
    ) -> Result<Vec<SeriesPoints>, Error> {
        let log = range.log;
        let request = LogRequest {
            matchers: log.matchers.clone(),
            start_unix_nano,
            end_unix_nano,
            direction: Direction::Forward,
            required_substrings: required_substrings(&log.pipeline),
            limit_hint: None,
        };
        let mut series: BTreeMap<Labels, Vec<(u64, f64)>> = BTreeMap::new();
        let mut failure: Option<Error> = None;
        let mut seen = 0usize;
        // Without parsers or label stages an entry's labels are its own, and the line filters
        // can run on the entry directly (the common case, and the cheap one).
        let only_line_filters = range.unwrap.is_none()
            && log
                .pipeline
                .iter()
                .all(|stage| matches!(stage, Stage::LineFilter(_)));
        self.source.select(self.tenant, &request, &mut |entry| {
            seen += 1;
            if seen.is_multiple_of(DEADLINE_CHECK_INTERVAL) && self.past_deadline() {
                failure = Some(Error::Timeout);
                return ControlFlow::Break(());
            }
            let line_bytes = entry.line.len();
            let (timestamp, labels, value) = if only_line_filters {
                let passed = log.pipeline.iter().all(|stage| match stage {
                    Stage::LineFilter(filter) => line_matches(filter, &entry.line),
                    _ => true,
                });
                self.count(line_bytes, passed);
                if !passed {
                    return ControlFlow::Continue(());
                }
                let labels = entry_labels(&entry, projection);
                (entry.timestamp_unix_nano, labels, line_bytes as f64)
            } else {
                let mut row = Row::new(entry);
                let passed = run_pipeline(&log.pipeline, &mut row);
                self.count(line_bytes, passed);
                if !passed {
                    return ControlFlow::Continue(());
                }
                // The sample value: the unwrapped label, or the line as the pipeline left
                // it (`bytes_over_time` counts that, as Loki does).
                let value = match range.unwrap {
                    Some(unwrap) => match unwrap_value(unwrap, &mut row) {
                        Some(value) => value,
                        None => return ControlFlow::Continue(()),
                    },
                    None => row.line.len() as f64,
                };
                let labels = row.all_labels();
                if let Some(error) = labels.get(ERROR_LABEL) {
                    failure = Some(pipeline_error(error, &labels));
                    return ControlFlow::Break(());
                }
                let labels = match projection {
                    Some(grouping) => group_labels(&labels, Some(grouping)),
                    None => labels,
                };
                (row.timestamp_unix_nano, labels, value)
            };
            series.entry(labels).or_default().push((timestamp, value));
            if series.len() > MAX_SERIES {
                failure = Some(Error::TooManySeries { limit: MAX_SERIES });
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        if let Some(failure) = failure {
            return Err(failure);
        }
        // Entries with equal times may come in any order, and a source may interleave
        // streams loosely; the sliding window needs each series in time order.
        let mut series: Vec<_> = series.into_iter().collect();
        for (_, points) in &mut series {
            points.sort_by_key(|(t, _)| *t);
        }
        Ok(series)
    }
}

/// The labels of an entry that no stage changed: its stream labels and structured metadata
/// (which wins a clash, as in [`Row::new`]), narrowed to a `sum`'s grouping when given.
fn entry_labels(entry: &LogEntry, projection: Option<&Grouping>) -> Labels {
    let value_of = |name: &str| entry.metadata.get(name).or_else(|| entry.labels.get(name));
    match projection {
        Some(Grouping::By(names)) => Labels::new(
            names
                .iter()
                .filter_map(|name| value_of(name).map(|value| (name.as_str(), value))),
        ),
        Some(Grouping::Without(names)) => Labels::new(
            entry
                .labels
                .iter()
                .chain(entry.metadata.iter())
                .filter(|(name, _)| !names.iter().any(|n| n == name)),
        ),
        None => Labels::new(entry.labels.iter().chain(entry.metadata.iter())),
    }
}

/// The labels of `absent_over_time`'s sample: the selector's equality matchers.
fn absent_labels(log: &LogExpr) -> Labels {
    Labels::new(
        log.matchers
            .iter()
            .filter(|m| m.op == MatchOp::Equal)
            .map(|m| (m.name.as_str(), m.value.as_str())),
    )
}

/// `sum` without a grouping: one group.
static EVERYTHING: Grouping = Grouping::By(Vec::new());

/// Returns the labels a sample keeps in its group.
pub(crate) fn group_labels(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Labels::default(),
        Some(Grouping::By(names)) => {
            let mut kept = labels.clone();
            kept.retain(|name| names.iter().any(|n| n == name));
            kept
        }
        Some(Grouping::Without(names)) => {
            let mut kept = labels.clone();
            kept.retain(|name| !names.iter().any(|n| n == name));
            kept
        }
    }
}

/// The substrings every passing line must contain: the single-value `|=` filters before
/// any stage that rewrites the line.
pub fn required_substrings(pipeline: &[Stage]) -> Vec<String> {
    let mut required = Vec::new();
    for stage in pipeline {
        match stage {
            Stage::LineFilter(filter)
                if filter.op == LineFilterOp::Contains && filter.values.len() == 1 =>
            {
                if let Some(value) = filter.values.first().filter(|v| !v.is_empty()) {
                    required.push(value.clone());
                }
            }
            Stage::LineFormat(_) => break,
            _ => {}
        }
    }
    required
}

/// Loki's refusal of a metric query whose samples carry an `__error__` label.
fn pipeline_error(error: &str, labels: &Labels) -> Error {
    let mut shown = labels.clone();
    shown.remove(ERROR_DETAILS_LABEL);
    Error::Pipeline {
        message: format!(
            "pipeline error: '{error}' for series: '{shown}'. Use a label filter to intentionally skip this error. (e.g | __error__!=\"{error}\"). To skip all potential errors you can match empty errors.(e.g __error__=\"\")"
        ),
    }
}

#[cfg(test)]
mod tests;
