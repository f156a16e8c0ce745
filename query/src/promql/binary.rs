//! Binary operators: arithmetic, comparison (with `bool`), `atan2` and the set operators
//! `and`/`or`/`unless`, with `on`/`ignoring`/`group_left`/`group_right` vector matching, as
//! Prometheus' `VectorBinop`, `VectorAnd`/`VectorOr`/`VectorUnless` do it.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::token::{
    TokenType, T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS,
    T_MOD, T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{Evaluator, Val};
use super::value::{Labels, Sample, Vector, METRIC_NAME_LABEL};
use super::Error;

/// Applies `op` to two floats; the bool says whether a comparison holds (always true for
/// arithmetic). Comparisons return the left value, as Prometheus does.
pub(crate) fn apply_operator(op: TokenType, lhs: f64, rhs: f64) -> Result<(f64, bool), Error> {
    Ok(match op.id() {
        T_ADD => (lhs + rhs, true),
        T_SUB => (lhs - rhs, true),
        T_MUL => (lhs * rhs, true),
        T_DIV => (lhs / rhs, true),
        T_POW => (lhs.powf(rhs), true),
        T_MOD => (lhs % rhs, true),
        T_ATAN2 => (lhs.atan2(rhs), true),
        T_EQLC => (lhs, lhs == rhs),
        T_NEQ => (lhs, lhs != rhs),
        T_GTR => (lhs, lhs > rhs),
        T_LSS => (lhs, lhs < rhs),
        T_GTE => (lhs, lhs >= rhs),
        T_LTE => (lhs, lhs <= rhs),
        _ => return Err(Error::unsupported(format!("binary operator {op}"))),
    })
}

/// Evaluates a binary expression at `timestamp_ms`.
pub(crate) fn eval_binary(
    evaluator: &Evaluator<'_>,
    binary: &BinaryExpr,
    timestamp_ms: i64,
) -> Result<Val, Error> {
    let modifier = binary.modifier.as_ref();
    if let Some(modifier) = modifier {
        if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
            return Err(Error::unsupported("fill modifiers of binary operators"));
        }
    }
    let return_bool = modifier.is_some_and(|m| m.return_bool);
    let lhs = evaluator.eval(&binary.lhs, timestamp_ms)?;
    let rhs = evaluator.eval(&binary.rhs, timestamp_ms)?;
    let op = binary.op;
    match (lhs, rhs) {
        (Val::Scalar(lhs), Val::Scalar(rhs)) => {
            let (value, keep) = apply_operator(op, lhs, rhs)?;
            if op.is_comparison_operator() {
                Ok(Val::Scalar(if keep { 1.0 } else { 0.0 }))
            } else {
                Ok(Val::Scalar(value))
            }
        }
        (Val::Vector(vector), Val::Scalar(scalar)) => {
            vector_scalar(op, vector, scalar, false, return_bool, timestamp_ms).map(Val::Vector)
        }
        (Val::Scalar(scalar), Val::Vector(vector)) => {
            vector_scalar(op, vector, scalar, true, return_bool, timestamp_ms).map(Val::Vector)
        }
        (Val::Vector(lhs), Val::Vector(rhs)) => {
            let matching = Matching::from_modifier(binary);
            let result = match op.id() {
                T_LAND => vector_and_unless(lhs, rhs, &matching, true),
                T_LUNLESS => vector_and_unless(lhs, rhs, &matching, false),
                T_LOR => vector_or(lhs, rhs, &matching),
                _ => vector_vector(op, lhs, rhs, &matching, return_bool, timestamp_ms)?,
            };
            Ok(Val::Vector(result))
        }
        (lhs, rhs) => Err(Error::execution(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            lhs.type_name(),
            rhs.type_name()
        ))),
    }
}

fn vector_scalar(
    op: TokenType,
    vector: Vector,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
    timestamp_ms: i64,
) -> Result<Vector, Error> {
    let comparison = op.is_comparison_operator();
    let mut out = Vec::with_capacity(vector.len());
    for mut sample in vector {
        let (lhs, rhs) = if scalar_on_left {
            (scalar, sample.value)
        } else {
            (sample.value, scalar)
        };
        let (mut value, mut keep) = apply_operator(op, lhs, rhs)?;
        if comparison && scalar_on_left {
            value = rhs;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            sample.value = value;
            sample.timestamp_ms = timestamp_ms;
            sample.drop_name |= !comparison || return_bool;
            out.push(sample);
        }
    }
    Ok(out)
}

/// How two vectors' elements are matched.
struct Matching {
    card: VectorMatchCardinality,
    /// `Some(true)` for `on(…)`, `Some(false)` for `ignoring(…)`, `None` for neither.
    on: Option<bool>,
    labels: Vec<String>,
}

impl Matching {
    fn from_modifier(binary: &BinaryExpr) -> Self {
        let card = match &binary.modifier {
            _ if binary.op.is_set_operator() => VectorMatchCardinality::ManyToMany,
            Some(modifier) => modifier.card.clone(),
            None => VectorMatchCardinality::OneToOne,
        };
        let (on, labels) = match binary.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(labels)) => (Some(true), labels.labels.clone()),
            Some(LabelModifier::Exclude(labels)) => (Some(false), labels.labels.clone()),
            None => (None, Vec::new()),
        };
        Self { card, on, labels }
    }

    /// The labels two elements must share to match.
    fn signature(&self, labels: &Labels) -> Labels {
        let mut signature = labels.clone();
        if self.on == Some(true) {
            signature.retain(|name| self.labels.iter().any(|l| l == name));
        } else {
            signature
                .retain(|name| name != METRIC_NAME_LABEL && !self.labels.iter().any(|l| l == name));
        }
        signature
    }
}

fn vector_and_unless(lhs: Vector, rhs: Vector, matching: &Matching, and: bool) -> Vector {
    let right: HashSet<Labels> = rhs.iter().map(|s| matching.signature(&s.labels)).collect();
    lhs.into_iter()
        .filter(|s| right.contains(&matching.signature(&s.labels)) == and)
        .collect()
}

fn vector_or(lhs: Vector, rhs: Vector, matching: &Matching) -> Vector {
    let left: HashSet<Labels> = lhs.iter().map(|s| matching.signature(&s.labels)).collect();
    let mut out = lhs;
    out.extend(
        rhs.into_iter()
            .filter(|s| !left.contains(&matching.signature(&s.labels))),
    );
    out
}

/// Formats labels as Prometheus' `labels.String()` does: `{__name__="m", a="b"}`.
pub(crate) fn prometheus_label_string(labels: &Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn vector_vector(
    op: TokenType,
    lhs: Vector,
    rhs: Vector,
    matching: &Matching,
    return_bool: bool,
    timestamp_ms: i64,
) -> Result<Vector, Error> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = matches!(matching.card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let one_by_signature = index_one_side(&one, matching, one_to_many)?;
    let comparison = op.is_comparison_operator();
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for sample in &many {
        let signature = matching.signature(&sample.labels);
        let Some(other) = one_by_signature.get(&signature) else {
            continue;
        };
        let (left, right) = if one_to_many {
            (other.value, sample.value)
        } else {
            (sample.value, other.value)
        };
        let (mut value, keep) = apply_operator(op, left, right)?;
        let labels = result_labels(sample, other, matching);
        let seen = matched.entry(signature).or_default();
        if matches!(matching.card, VectorMatchCardinality::OneToOne) {
            if !seen.is_empty() {
                return Err(Error::execution("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"));
            }
        } else if seen.contains(&labels) {
            return Err(Error::execution(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
        seen.insert(labels.clone());
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        out.push(Sample {
            labels,
            timestamp_ms,
            value,
            drop_name: return_bool || !comparison || sample.drop_name,
        });
    }
    Ok(out)
}

/// Indexes the "one" side by match signature, failing as Prometheus does when two of its
/// elements share a signature.
fn index_one_side<'s>(
    one: &'s [Sample],
    matching: &Matching,
    one_to_many: bool,
) -> Result<HashMap<Labels, &'s Sample>, Error> {
    let mut one_by_signature: HashMap<Labels, &Sample> = HashMap::new();
    for sample in one {
        let signature = matching.signature(&sample.labels);
        if let Some(duplicate) = one_by_signature.get(&signature) {
            let side = if one_to_many { "left" } else { "right" };
            let mut pair = [
                prometheus_label_string(&sample.labels),
                prometheus_label_string(&duplicate.labels),
            ];
            pair.sort();
            return Err(Error::execution(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                prometheus_label_string(&signature),
                pair[0],
                pair[1]
            )));
        }
        one_by_signature.insert(signature, sample);
    }
    Ok(one_by_signature)
}

/// The labels of a matched pair's result: the "many" side's, narrowed to the `on` labels
/// for one-to-one matching, plus the `group_*` labels copied from the "one" side.
fn result_labels(many: &Sample, one: &Sample, matching: &Matching) -> Labels {
    let mut labels = many.labels.clone();
    match &matching.card {
        VectorMatchCardinality::OneToOne => match matching.on {
            Some(true) => labels.retain(|name| matching.labels.iter().any(|l| l == name)),
            _ => labels.retain(|name| !matching.labels.iter().any(|l| l == name)),
        },
        VectorMatchCardinality::ManyToOne(include) | VectorMatchCardinality::OneToMany(include) => {
            for name in &include.labels {
                labels.set(name, one.labels.get(name).unwrap_or("").to_string());
            }
        }
        VectorMatchCardinality::ManyToMany => {}
    }
    labels
}
