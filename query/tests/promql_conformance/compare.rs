//! Runs one parsed `eval` and compares the engine's answer with the expectation, the way
//! promqltest does (unordered unless `expect ordered`, floats within a relative 1e-6).

use std::collections::HashMap;

use sightline_query::promql::{Engine, Error, Labels, SeriesSource, Value};

use crate::script::{Eval, EvalKind, FailMatch};

const EPSILON: f64 = 0.000_001;

/// Prometheus' `almost.Equal`.
fn almost_equal(a: f64, b: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

pub fn run_eval(engine: &Engine, source: &dyn SeriesSource, eval: &Eval) -> Result<(), String> {
    let result = match eval.kind {
        EvalKind::Instant { time_ms } => engine.instant_query(source, &eval.expr, time_ms),
        EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        } => engine
            .range_query(source, &eval.expr, start_ms, end_ms, step_ms)
            .map(Value::Matrix),
    };
    match (&eval.expect.fail, result) {
        (Some(expected), Err(error)) => check_error(expected, &error),
        (Some(_), Ok(value)) => Err(format!("expected an error, got {}", summarize(&value))),
        (None, Err(error)) => Err(format!("unexpected error: {error}")),
        (None, Ok(value)) => {
            check_value(eval, value.clone())?;
            check_instant_as_range(engine, source, eval, &value)
        }
    }
}

/// Runs an instant eval again as a range query from and to the same time, which must agree
/// (promqltest cross-checks instant queries too).
fn check_instant_as_range(
    engine: &Engine,
    source: &dyn SeriesSource,
    eval: &Eval,
    instant: &Value,
) -> Result<(), String> {
    let EvalKind::Instant { time_ms } = eval.kind else {
        return Ok(());
    };
    if eval.expr.contains("step()") {
        // `step()` is 0 in an instant query and the step in a range query, by definition.
        return Ok(());
    }
    let mut expected: Vec<(Labels, f64)> = match instant {
        Value::Scalar { value, .. } => vec![(Labels::default(), *value)],
        Value::Vector(vector) => vector.iter().map(|s| (s.labels.clone(), s.value)).collect(),
        Value::String(_) | Value::Matrix(_) => return Ok(()),
    };
    let matrix = engine
        .range_query(source, &eval.expr, time_ms, time_ms, 60_000)
        .map_err(|e| format!("as a range query: {e}"))?;
    let mut actual: Vec<(Labels, f64)> = Vec::new();
    for series in matrix {
        for (t, value) in series.points {
            if t != time_ms {
                return Err(format!("as a range query: point at {t}"));
            }
            actual.push((series.labels.clone(), value));
        }
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    actual.sort_by(|a, b| a.0.cmp(&b.0));
    let same = expected.len() == actual.len()
        && expected
            .iter()
            .zip(&actual)
            .all(|(e, a)| e.0 == a.0 && almost_equal(e.1, a.1));
    if same {
        Ok(())
    } else {
        Err(format!(
            "as a range query: got {actual:?}, instant gave {expected:?}"
        ))
    }
}

fn check_error(expected: &FailMatch, error: &Error) -> Result<(), String> {
    let message = error.to_string();
    if let Error::Unsupported { .. } = error {
        // An unimplemented feature must not pass for the error a test expects.
        return Err(format!("expected an error, got only {message:?}"));
    }
    if std::env::var_os("SIGHTLINE_PROMQL_CONFORMANCE_VERBOSE").is_some() {
        println!("  expected failure: {message}");
    }
    match expected {
        FailMatch::Any => Ok(()),
        FailMatch::Message(text) if *text == message => Ok(()),
        FailMatch::Regex(pattern) => {
            let regex = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
            if regex.is_match(&message) {
                Ok(())
            } else {
                Err(format!("error {message:?} does not match /{pattern}/"))
            }
        }
        FailMatch::Message(text) => Err(format!("expected error {text:?}, got {message:?}")),
    }
}

fn summarize(value: &Value) -> String {
    match value {
        Value::Scalar { value, .. } => format!("scalar {value}"),
        Value::String(text) => format!("string {text:?}"),
        Value::Vector(vector) => format!(
            "vector [{}]",
            vector
                .iter()
                .map(|s| format!("{} {}", s.labels, s.value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Matrix(matrix) => format!(
            "matrix [{}]",
            matrix
                .iter()
                .map(|s| format!("{} {:?}", s.labels, s.points))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn check_value(eval: &Eval, value: Value) -> Result<(), String> {
    if let Some(expected) = &eval.expect.string {
        return match &value {
            Value::String(text) if text == expected => Ok(()),
            other => Err(format!(
                "expected string {expected:?}, got {}",
                summarize(other)
            )),
        };
    }
    match (&eval.kind, &value) {
        (_, Value::Scalar { value: actual, .. }) => {
            let expected = eval.scalar.or_else(|| match eval.series.as_slice() {
                [only] if only.labels.is_empty() && only.values.len() == 1 => only.values[0],
                _ => None,
            });
            match expected {
                Some(expected) if almost_equal(expected, *actual) => Ok(()),
                _ => Err(format!("expected {expected:?}, got scalar {actual}")),
            }
        }
        (EvalKind::Instant { .. }, Value::Vector(vector)) => {
            check_vector(eval, vector).map_err(|e| format!("{e}; got {}", summarize(&value)))
        }
        (EvalKind::Instant { .. }, Value::Matrix(matrix)) => {
            let Some((start_ms, _, step_ms)) = eval.expect.range_vector else {
                return Err(format!("unexpected range vector {}", summarize(&value)));
            };
            check_matrix(eval, matrix, start_ms, step_ms)
                .map_err(|e| format!("{e}; got {}", summarize(&value)))
        }
        (
            EvalKind::Range {
                start_ms, step_ms, ..
            },
            Value::Matrix(matrix),
        ) => check_matrix(eval, matrix, *start_ms, *step_ms)
            .map_err(|e| format!("{e}; got {}", summarize(&value))),
        (_, other) => Err(format!("unexpected result {}", summarize(other))),
    }
}

fn check_vector(eval: &Eval, vector: &[sightline_query::promql::Sample]) -> Result<(), String> {
    if eval.scalar.is_some() {
        return Err("expected a scalar".into());
    }
    if vector.len() != eval.series.len() {
        return Err(format!(
            "expected {} samples, got {}",
            eval.series.len(),
            vector.len()
        ));
    }
    let expected: HashMap<&Labels, (usize, f64)> = eval
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                &s.labels,
                (i, s.values.first().copied().flatten().unwrap_or(f64::NAN)),
            )
        })
        .collect();
    for (position, sample) in vector.iter().enumerate() {
        let Some(&(index, value)) = expected.get(&sample.labels) else {
            return Err(format!("unexpected sample {}", sample.labels));
        };
        if eval.expect.ordered && index != position {
            return Err(format!(
                "{} at position {position}, expected {index}",
                sample.labels
            ));
        }
        if !almost_equal(value, sample.value) {
            return Err(format!(
                "{}: expected {value}, got {}",
                sample.labels, sample.value
            ));
        }
    }
    Ok(())
}

fn check_matrix(
    eval: &Eval,
    matrix: &[sightline_query::promql::Series],
    start_ms: i64,
    step_ms: i64,
) -> Result<(), String> {
    let expected: Vec<_> = eval
        .series
        .iter()
        .filter(|s| s.values.iter().any(Option::is_some))
        .collect();
    if matrix.len() != expected.len() {
        return Err(format!(
            "expected {} series, got {}",
            expected.len(),
            matrix.len()
        ));
    }
    for series in expected {
        let Some(actual) = matrix.iter().find(|s| s.labels == series.labels) else {
            return Err(format!("missing series {}", series.labels));
        };
        let points: Vec<(i64, f64)> = series
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (start_ms + i as i64 * step_ms, v)))
            .collect();
        let same = points.len() == actual.points.len()
            && points
                .iter()
                .zip(&actual.points)
                .all(|(e, a)| e.0 == a.0 && almost_equal(e.1, a.1));
        if !same {
            return Err(format!("{}: expected {points:?}", series.labels));
        }
    }
    Ok(())
}
