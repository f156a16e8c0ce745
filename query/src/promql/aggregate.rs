//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `limitk`, `count_values`) with `by`/`without` grouping.

use std::cell::RefCell;
use std::collections::HashMap;

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMITK, T_LIMIT_RATIO, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::eval::{Evaluator, Val};
use super::functions::labels::is_valid_label_name;
use super::functions::math::{kahan_sum_inc, quantile, MeanAccumulator};
use super::value::{Labels, Sample, Vector, METRIC_NAME_LABEL};
use super::Error;

/// The samples of one output group.
struct Group {
    labels: Labels,
    samples: Vec<Sample>,
}

/// Evaluates an aggregation at `timestamp_ms`.
pub(crate) fn eval_aggregate(
    evaluator: &Evaluator<'_>,
    aggregate: &AggregateExpr,
    timestamp_ms: i64,
) -> Result<Val, Error> {
    let op = aggregate.op.id();
    let param = match (&aggregate.param, op) {
        (Some(param), T_COUNT_VALUES) => Param::Label(eval_string(evaluator, param, timestamp_ms)?),
        (Some(param), _) => Param::Number(evaluator.eval_scalar(param, timestamp_ms)?),
        (None, _) => Param::None,
    };
    let input = evaluator.eval_vector(&aggregate.expr, timestamp_ms)?;
    let groups = evaluator.groups.group_samples(
        aggregate as *const AggregateExpr as usize,
        input,
        aggregate.modifier.as_ref(),
    );
    let mut out = Vec::new();
    match op {
        T_TOPK | T_BOTTOMK | T_LIMITK => {
            let k = param.count()?;
            for group in groups {
                out.extend(select_k(group.samples, k, op));
            }
        }
        T_LIMIT_RATIO => {
            if matches!(param, Param::Number(ratio) if ratio.is_nan()) {
                return Err(Error::execution("Ratio value is NaN"));
            }
            return Err(Error::unsupported("limit_ratio"));
        }
        T_COUNT_VALUES => {
            let Param::Label(label) = param else {
                return Err(Error::execution("count_values needs a label name"));
            };
            if !is_valid_label_name(&label) {
                return Err(Error::execution(format!("invalid label name {label:?}")));
            }
            for group in groups {
                out.extend(count_values(group, &label, timestamp_ms));
            }
        }
        _ => {
            for group in groups {
                let drop_name = group.samples.iter().any(|s| s.drop_name)
                    && group.labels.get(METRIC_NAME_LABEL).is_some();
                let values: Vec<f64> = group.samples.iter().map(|s| s.value).collect();
                let value = aggregate_values(op, &values, &param)?;
                out.push(Sample {
                    labels: group.labels,
                    timestamp_ms,
                    value,
                    drop_name,
                });
            }
        }
    }
    Ok(Val::Vector(out))
}

enum Param {
    None,
    Number(f64),
    Label(String),
}

impl Param {
    /// The `k` of `topk`/`bottomk`/`limitk`, as Prometheus converts it.
    fn count(&self) -> Result<usize, Error> {
        let Param::Number(k) = self else {
            return Err(Error::execution("missing parameter"));
        };
        if k.is_nan() {
            return Err(Error::execution("Parameter value is NaN"));
        }
        if *k < 1.0 {
            return Ok(0);
        }
        Ok(if *k >= usize::MAX as f64 {
            usize::MAX
        } else {
            *k as usize
        })
    }
}

fn eval_string(evaluator: &Evaluator<'_>, expr: &Expr, timestamp_ms: i64) -> Result<String, Error> {
    match evaluator.eval(expr, timestamp_ms)? {
        Val::Str(text) => Ok(text),
        other => Err(Error::execution(format!(
            "expected string, got {}",
            other.type_name()
        ))),
    }
}

/// Remembers, per aggregation node and input label set, the output group's labels, and
/// interns group label sets so that equal groups share storage. Entries hold a clone of
/// their input label set, so its storage id cannot be reused by another set while cached.
#[derive(Default)]
pub(crate) struct GroupCache {
    groups: RefCell<HashMap<(usize, usize), (Labels, Labels)>>,
    interned: RefCell<HashMap<Labels, Labels>>,
}

/// Entries a [`GroupCache`] holds before it starts over (a guard for queries over millions
/// of distinct series).
const GROUP_CACHE_ENTRIES: usize = 1_000_000;

impl GroupCache {
    /// Splits samples into groups by the `by`/`without` labels, in order of first appearance.
    fn group_samples(
        &self,
        node: usize,
        input: Vector,
        modifier: Option<&LabelModifier>,
    ) -> Vec<Group> {
        // Start over only between steps: within one, equal groups must share storage.
        if self.groups.borrow().len() >= GROUP_CACHE_ENTRIES {
            self.groups.borrow_mut().clear();
            self.interned.borrow_mut().clear();
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<usize, usize> = HashMap::new();
        for sample in input {
            let labels = self.group_labels(node, &sample.labels, modifier);
            match index.get(&labels.storage_id()) {
                Some(&i) => groups[i].samples.push(sample),
                None => {
                    index.insert(labels.storage_id(), groups.len());
                    groups.push(Group {
                        labels,
                        samples: vec![sample],
                    });
                }
            }
        }
        groups
    }

    /// The interned group labels of `labels` under `modifier`.
    pub(crate) fn group_labels(
        &self,
        node: usize,
        labels: &Labels,
        modifier: Option<&LabelModifier>,
    ) -> Labels {
        let key = (node, labels.storage_id());
        if let Some((_, group)) = self.groups.borrow().get(&key) {
            return group.clone();
        }
        let mut group = labels.clone();
        match modifier {
            Some(LabelModifier::Include(by)) => {
                group.retain(|name| by.labels.iter().any(|l| l == name));
            }
            Some(LabelModifier::Exclude(without)) => group.retain(|name| {
                name != METRIC_NAME_LABEL && !without.labels.iter().any(|l| l == name)
            }),
            None => group = Labels::default(),
        }
        let group = self
            .interned
            .borrow_mut()
            .entry(group.clone())
            .or_insert(group)
            .clone();
        self.groups
            .borrow_mut()
            .insert(key, (labels.clone(), group.clone()));
        group
    }
}

/// An aggregation that takes its group's values one at a time, in order: `sum`, `avg`,
/// `count`, `group`, `min` and `max`. The per-step evaluator folds a group's values at once;
/// the series-by-series sweep folds each step's value as each series yields it.
#[derive(Debug, Clone)]
pub(crate) enum Fold {
    /// Kahan sum and compensation.
    Sum(f64, f64),
    Avg(MeanAccumulator),
    Count(f64),
    Group,
    /// The smallest so far (NaN loses to any number).
    Min(Option<f64>),
    /// The largest so far (NaN loses to any number).
    Max(Option<f64>),
}

impl Fold {
    /// The fold of aggregation operator `op`, if it is one of the folding ones.
    pub(crate) fn new(op: u16) -> Option<Self> {
        Some(match op {
            T_SUM => Fold::Sum(0.0, 0.0),
            T_AVG => Fold::Avg(MeanAccumulator::default()),
            T_COUNT => Fold::Count(0.0),
            T_GROUP => Fold::Group,
            T_MIN => Fold::Min(None),
            T_MAX => Fold::Max(None),
            _ => return None,
        })
    }

    /// Takes the next value.
    #[inline]
    pub(crate) fn add(&mut self, value: f64) {
        match self {
            Fold::Sum(sum, compensation) => {
                (*sum, *compensation) = kahan_sum_inc(value, *sum, *compensation);
            }
            Fold::Avg(mean) => mean.add(value),
            Fold::Count(count) => *count += 1.0,
            Fold::Group => {}
            Fold::Min(best) => {
                *best = Some(match *best {
                    Some(acc) if !(acc > value || acc.is_nan()) => acc,
                    _ => value,
                });
            }
            Fold::Max(best) => {
                *best = Some(match *best {
                    Some(acc) if !(acc < value || acc.is_nan()) => acc,
                    _ => value,
                });
            }
        }
    }

    /// The aggregate of the values taken (at least one).
    pub(crate) fn value(&self) -> f64 {
        match self {
            Fold::Sum(sum, compensation) => sum + compensation,
            Fold::Avg(mean) => mean.mean(),
            Fold::Count(count) => *count,
            Fold::Group => 1.0,
            Fold::Min(best) | Fold::Max(best) => best.unwrap_or(f64::NAN),
        }
    }
}

/// Computes a numeric aggregation over one group's values (never empty).
fn aggregate_values(op: u16, values: &[f64], param: &Param) -> Result<f64, Error> {
    if let Some(mut fold) = Fold::new(op) {
        values.iter().for_each(|v| fold.add(*v));
        return Ok(fold.value());
    }
    Ok(match op {
        T_STDDEV => variance(values).sqrt(),
        T_STDVAR => variance(values),
        T_QUANTILE => {
            let Param::Number(q) = param else {
                return Err(Error::execution("quantile needs a parameter"));
            };
            quantile(*q, values.to_vec())
        }
        _ => return Err(Error::unsupported(format!("aggregation operator {op}"))),
    })
}

/// Population variance by Welford's method, as Prometheus' `stdvar`.
pub(crate) fn variance(values: &[f64]) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for value in values {
        count += 1.0;
        let delta = value - mean;
        mean += delta / count;
        m2 += delta * (value - mean);
    }
    m2 / count
}

/// `topk`/`bottomk` (largest or smallest k, NaN last) or `limitk` (first k) of one group.
fn select_k(mut samples: Vec<Sample>, k: usize, op: u16) -> Vec<Sample> {
    if op != T_LIMITK {
        let top = op == T_TOPK;
        samples.sort_by(|a, b| {
            use std::cmp::Ordering;
            match (a.value.is_nan(), b.value.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ if top => b.value.total_cmp(&a.value),
                _ => a.value.total_cmp(&b.value),
            }
        });
    }
    samples.truncate(k);
    samples
}

fn count_values(group: Group, label: &str, timestamp_ms: i64) -> Vec<Sample> {
    let mut counts: Vec<(Labels, f64)> = Vec::new();
    for sample in group.samples {
        let mut labels = group.labels.clone();
        labels.set(label, format_go_float(sample.value));
        match counts.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, count)) => *count += 1.0,
            None => counts.push((labels, 1.0)),
        }
    }
    counts
        .into_iter()
        .map(|(labels, count)| Sample::new(labels, timestamp_ms, count))
        .collect()
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_go_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{value}")
    }
}
