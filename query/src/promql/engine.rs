//! [`Engine`]: runs instant and range queries and applies the final metric-name cleanup.

use std::collections::HashMap;
use std::time::Duration;

use promql_parser::parser::{self, Expr};

use super::eval::{Evaluator, Val};
use super::prefetch::SelectionPlan;
use super::source::SeriesSource;
use super::sweep::Sweeps;
use super::value::{Labels, Matrix, Sample, Series, Value, Vector, METRIC_NAME_LABEL};
use super::Error;

/// Prometheus' limit on a range query's resolution: `(end - start) / step` may be at most
/// this, so a series holds at most one point more.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Evaluates PromQL queries against a [`SeriesSource`].
///
/// Metric names are removed the way Prometheus 3 does with delayed name removal (the mode
/// its conformance scripts assume): an operation that drops the name only marks the sample,
/// and the names go when the query finishes, so `label_replace` can still read them and
/// two series that differ only by name collide only in the final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// How far back an instant selector looks for a series' latest sample (Prometheus'
    /// `--query.lookback-delta`, 5 minutes by default).
    pub lookback_delta: Duration,
    /// The resolution of a subquery written without one (`x[5m:]`); Prometheus uses the
    /// global evaluation interval, 1 minute by default.
    pub default_subquery_step: Duration,
    /// How many samples one evaluation step may select plus subquery steps it may evaluate
    /// (in the spirit of Prometheus' `--query.max-samples`, 50 million by default, which
    /// bounds the samples held at once); the query timeout bounds the work over all steps.
    pub max_samples: i64,
}

impl Default for Engine {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(5 * 60),
            default_subquery_step: Duration::from_secs(60),
            max_samples: 50_000_000,
        }
    }
}

/// How deeply a query's expressions may nest (function calls, operators, aggregations,
/// subqueries). Evaluation recurses once per level; the limit keeps a hostile query from
/// overflowing the stack of a 2 MiB thread.
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// Parses a query, mapping the parser's message into [`Error::Parse`], and rejects
/// expressions nested deeper than [`MAX_EXPRESSION_DEPTH`].
///
/// # Errors
/// [`Error::Parse`] with the parser's message or the depth problem.
pub fn parse_query(query: &str) -> Result<Expr, Error> {
    if count_operators_and_brackets(query) > MAX_OPERATORS_AND_BRACKETS {
        return Err(Error::Parse {
            message: format!(
                "query has more than {MAX_OPERATORS_AND_BRACKETS} operators and brackets"
            ),
        });
    }
    let expr = parser::parse(query).map_err(|message| Error::Parse { message })?;
    if expression_depth(&expr) > MAX_EXPRESSION_DEPTH {
        return Err(Error::Parse {
            message: format!("expression nested more than {MAX_EXPRESSION_DEPTH} levels deep"),
        });
    }
    Ok(expr)
}

/// How many operators and opening brackets a query may hold. The parser and the parsed
/// tree's destructor recurse once per nesting level, so an unbounded count could overflow
/// the stack before [`MAX_EXPRESSION_DEPTH`] is checked.
pub const MAX_OPERATORS_AND_BRACKETS: usize = 4096;

/// Counts operator characters, set-operator keywords and opening brackets outside string
/// literals: an upper bound of the parsed tree's depth.
fn count_operators_and_brackets(query: &str) -> usize {
    let mut count = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut word = String::new();
    for c in query.chars() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && open != '`' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c.to_ascii_lowercase());
            continue;
        }
        if matches!(word.as_str(), "and" | "or" | "unless" | "atan2") {
            count += 1;
        }
        word.clear();
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' | '+' | '-' | '*' | '/' | '%' | '^' | '=' | '!' | '<' | '>' => {
                count += 1
            }
            _ => {}
        }
    }
    count
}

/// The nesting depth of an expression, walked without recursion.
fn expression_depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(expr, 1)];
    while let Some((expr, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        match expr {
            Expr::Aggregate(aggregate) => {
                pending.push((&aggregate.expr, depth + 1));
                if let Some(param) = &aggregate.param {
                    pending.push((param, depth + 1));
                }
            }
            Expr::Unary(unary) => pending.push((&unary.expr, depth + 1)),
            Expr::Binary(binary) => {
                pending.push((&binary.lhs, depth + 1));
                pending.push((&binary.rhs, depth + 1));
            }
            Expr::Paren(paren) => pending.push((&paren.expr, depth + 1)),
            Expr::Subquery(subquery) => pending.push((&subquery.expr, depth + 1)),
            Expr::Call(call) => {
                pending.extend(call.args.args.iter().map(|arg| (&**arg, depth + 1)))
            }
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
    }
    deepest
}

impl Engine {
    fn evaluator<'a>(
        &self,
        source: &'a dyn SeriesSource,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Evaluator<'a> {
        let lookback_ms = duration_ms(self.lookback_delta).max(1);
        Evaluator {
            source,
            lookback_ms,
            plan: SelectionPlan::new(expr, start_ms, end_ms, lookback_ms),
            query_start_ms: start_ms,
            query_end_ms: end_ms,
            query_step_ms: step_ms,
            subquery_step_ms: duration_ms(self.default_subquery_step).max(1),
            sample_budget: std::cell::Cell::new(self.max_samples),
            groups: Default::default(),
            sweeps: Sweeps::plan(expr, start_ms, end_ms, step_ms),
            spent_since_check: Default::default(),
        }
    }

    /// Evaluates `query` at `time_ms` (ms since the epoch).
    ///
    /// # Errors
    /// [`Error::Parse`] for invalid PromQL, [`Error::Unsupported`] for features this engine
    /// lacks, [`Error::Execution`] for evaluation errors as Prometheus words them,
    /// [`Error::Source`] when reading series fails, and [`Error::Timeout`] or
    /// [`Error::Canceled`] when the source interrupts the evaluation
    /// ([`SeriesSource::check_interrupted`]).
    pub fn instant_query(
        &self,
        source: &dyn SeriesSource,
        query: &str,
        time_ms: i64,
    ) -> Result<Value, Error> {
        let expr = parse_query(query)?;
        let evaluator = self.evaluator(source, &expr, time_ms, time_ms, 0);
        Ok(match evaluator.eval(&expr, time_ms)? {
            Val::Scalar(value) => Value::Scalar {
                timestamp_ms: time_ms,
                value,
            },
            Val::Str(text) => Value::String(text),
            Val::Vector(vector) => Value::Vector(finish_vector(vector, time_ms)?),
            Val::Matrix(matrix) => Value::Matrix(finish_matrix(matrix)?),
        })
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` inclusive and returns one
    /// series per label set, sorted by labels.
    ///
    /// # Errors
    /// As [`Engine::instant_query`], plus [`Error::InvalidParameter`] for a non-positive step,
    /// an end before the start or more than [`MAX_POINTS_PER_SERIES`] steps, and
    /// [`Error::Execution`] when the query is not a scalar or instant vector.
    pub fn range_query(
        &self,
        source: &dyn SeriesSource,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Matrix, Error> {
        check_range(start_ms, end_ms, step_ms)?;
        let expr = parse_query(query)?;
        let evaluator = self.evaluator(source, &expr, start_ms, end_ms, step_ms);
        let mut by_labels: HashMap<Labels, Series> = HashMap::new();
        let mut timestamp_ms = start_ms;
        while timestamp_ms <= end_ms {
            source.check_interrupted()?;
            // The limit bounds what one step holds, as Prometheus' `--query.max-samples`
            // bounds the samples loaded at once, not the sum over a long range query's steps;
            // the query timeout bounds the total work.
            evaluator.sample_budget.set(self.max_samples);
            match evaluator.eval(&expr, timestamp_ms)? {
                Val::Scalar(value) => by_labels
                    .entry(Labels::default())
                    .or_insert_with(|| Series::new(Labels::default(), Vec::new()))
                    .points
                    .push((timestamp_ms, value)),
                Val::Vector(vector) => {
                    for sample in vector {
                        let series = by_labels.entry(sample.labels.clone()).or_insert_with(|| {
                            let mut series = Series::new(sample.labels.clone(), Vec::new());
                            series.drop_name = sample.drop_name;
                            series
                        });
                        series.points.push((timestamp_ms, sample.value));
                    }
                }
                other => {
                    return Err(Error::execution(format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        other.type_name()
                    )))
                }
            }
            timestamp_ms = timestamp_ms.saturating_add(step_ms);
            if timestamp_ms == i64::MAX {
                break;
            }
        }
        finish_matrix(by_labels.into_values().collect())
    }
}

fn check_range(start_ms: i64, end_ms: i64, step_ms: i64) -> Result<(), Error> {
    if step_ms <= 0 {
        return Err(Error::InvalidParameter {
            name: "step",
            reason: "zero or negative query resolution step widths are not accepted".into(),
        });
    }
    if end_ms < start_ms {
        return Err(Error::InvalidParameter {
            name: "end",
            reason: "end timestamp must not be before start time".into(),
        });
    }
    // Prometheus bounds the number of steps, so a range may hold one point more.
    if (i128::from(end_ms) - i128::from(start_ms)) / i128::from(step_ms)
        > i128::from(MAX_POINTS_PER_SERIES)
    {
        return Err(Error::InvalidParameter {
            name: "step",
            reason: "exceeded maximum resolution of 11,000 points per timeseries".into(),
        });
    }
    Ok(())
}

/// Converts a duration to whole milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Drops the metric names marked for dropping, stamps the evaluation time, and rejects
/// duplicate label sets, as Prometheus does at the end of a query.
fn finish_vector(mut vector: Vector, time_ms: i64) -> Result<Vector, Error> {
    for sample in &mut vector {
        sample.timestamp_ms = time_ms;
        if sample.drop_name {
            sample.labels.remove(METRIC_NAME_LABEL);
            sample.drop_name = false;
        }
    }
    reject_duplicate_labels(vector.iter().map(|sample: &Sample| &sample.labels))?;
    Ok(vector)
}

fn finish_matrix(mut matrix: Matrix) -> Result<Matrix, Error> {
    for series in &mut matrix {
        if series.drop_name {
            series.labels.remove(METRIC_NAME_LABEL);
            series.drop_name = false;
        }
    }
    // Series whose names were dropped at different steps can now coincide: join them when
    // their timestamps do not overlap, as a series is one label set over time.
    matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut joined: Matrix = Vec::with_capacity(matrix.len());
    for series in matrix {
        match joined.last_mut() {
            Some(last) if last.labels == series.labels => {
                let overlaps = series
                    .points
                    .iter()
                    .any(|(t, _)| last.points.binary_search_by_key(t, |(lt, _)| *lt).is_ok());
                if overlaps {
                    return Err(Error::execution(
                        "vector cannot contain metrics with the same labelset",
                    ));
                }
                last.points.extend(series.points);
                last.points.sort_by_key(|(t, _)| *t);
            }
            _ => joined.push(series),
        }
    }
    Ok(joined)
}

/// Fails with Prometheus' message when two elements share a label set.
pub(crate) fn reject_duplicate_labels<'a>(
    labels: impl Iterator<Item = &'a Labels>,
) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for labels in labels {
        if !seen.insert(labels) {
            return Err(Error::execution(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(())
}
