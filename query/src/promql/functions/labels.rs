//! Functions that rewrite labels or order: `label_replace`, `label_join`, `sort`,
//! `sort_desc`, `sort_by_label(_desc)`, and the label set `absent`/`absent_over_time` invent.

use std::cmp::Ordering;

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use regex::Regex;

use crate::promql::value::{Labels, Sample, Vector, METRIC_NAME_LABEL};
use crate::promql::Error;

/// Says whether `name` is a label name Prometheus accepts: any non-empty UTF-8 (Rust strings
/// are always UTF-8, so only emptiness can be wrong).
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub(crate) fn label_replace(
    vector: Vector,
    destination: &str,
    replacement: &str,
    source: &str,
    pattern: &str,
) -> Result<Vector, Error> {
    let regex = Regex::new(&format!("^(?s:{pattern})$")).map_err(|err| {
        Error::execution(format!(
            "invalid regular expression in label_replace(): {pattern}: {err}"
        ))
    })?;
    if !is_valid_label_name(destination) {
        return Err(Error::execution(format!(
            "invalid destination label name in label_replace(): {destination}"
        )));
    }
    let mut out = Vec::with_capacity(vector.len());
    for mut sample in vector {
        let value = sample.labels.get(source).unwrap_or("").to_string();
        if let Some(captures) = regex.captures(&value) {
            let mut expanded = String::new();
            captures.expand(replacement, &mut expanded);
            sample.labels.set(destination, expanded);
            if destination == METRIC_NAME_LABEL {
                sample.drop_name = false;
            }
        }
        out.push(sample);
    }
    Ok(out)
}

/// `label_join(v, dst, separator, src...)`.
pub(crate) fn label_join(
    vector: Vector,
    destination: &str,
    separator: &str,
    sources: &[String],
) -> Result<Vector, Error> {
    if !is_valid_label_name(destination) {
        return Err(Error::execution(format!(
            "invalid destination label name in label_join(): {destination}"
        )));
    }
    let mut out = Vec::with_capacity(vector.len());
    for mut sample in vector {
        let joined: Vec<&str> = sources
            .iter()
            .map(|source| sample.labels.get(source).unwrap_or(""))
            .collect();
        let joined = joined.join(separator);
        sample.labels.set(destination, joined);
        if destination == METRIC_NAME_LABEL {
            sample.drop_name = false;
        }
        out.push(sample);
    }
    Ok(out)
}

/// `sort` (ascending) and `sort_desc`; NaN goes last either way.
pub(crate) fn sort_by_value(mut vector: Vector, descending: bool) -> Vector {
    vector.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => b.value.total_cmp(&a.value),
        _ => a.value.total_cmp(&b.value),
    });
    vector
}

/// `sort_by_label` and `sort_by_label_desc`: natural order of the named labels' values, then
/// of the whole label set.
pub(crate) fn sort_by_labels(mut vector: Vector, names: &[String], descending: bool) -> Vector {
    vector.sort_by(|a, b| {
        let order = names
            .iter()
            .map(|name| {
                natural_cmp(
                    a.labels.get(name).unwrap_or(""),
                    b.labels.get(name).unwrap_or(""),
                )
            })
            .find(|order| *order != Ordering::Equal)
            .unwrap_or_else(|| a.labels.cmp(&b.labels));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    vector
}

/// Compares strings so runs of digits compare as numbers (`a2 < a10`).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let a_end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                let b_end = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
                let (a_digits, b_digits) = (
                    a[..a_end].trim_start_matches('0'),
                    b[..b_end].trim_start_matches('0'),
                );
                let order = a_digits
                    .len()
                    .cmp(&b_digits.len())
                    .then_with(|| a_digits.cmp(b_digits));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[a_end..], &b[b_end..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

/// The labels `absent(expr)` reports: the selector's first equality matcher of each label
/// other than the metric name, unless a later matcher names the label again (Prometheus'
/// `createLabelsForAbsentFunction`).
pub(crate) fn absent_labels(expr: &Expr) -> Labels {
    let selector = match expr {
        Expr::VectorSelector(selector) => selector,
        Expr::MatrixSelector(selector) => &selector.vs,
        Expr::Paren(paren) => return absent_labels(&paren.expr),
        _ => return Labels::default(),
    };
    let mut labels = Labels::default();
    let mut has: Vec<&str> = Vec::new();
    for matcher in &selector.matchers.matchers {
        let name = matcher.name.as_str();
        if name == METRIC_NAME_LABEL {
            continue;
        }
        if matches!(matcher.op, MatchOp::Equal) && !has.contains(&name) {
            labels.set(name, matcher.value.clone());
            has.push(name);
        } else {
            labels.remove(name);
        }
    }
    labels
}

/// One sample valued 1 with the labels of [`absent_labels`].
pub(crate) fn absent_sample(expr: &Expr, timestamp_ms: i64) -> Sample {
    Sample::new(absent_labels(expr), timestamp_ms, 1.0)
}
