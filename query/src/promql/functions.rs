//! Function calls: one dispatch `match` by name, with the instant-vector math and date
//! functions here and the larger families in submodules.

mod date;
pub(crate) mod histogram;
pub(crate) mod labels;
pub(crate) mod math;
pub(crate) mod range;

use std::f64::consts::PI;

use promql_parser::parser::{Call, Expr};

use self::labels::{absent_sample, label_join, label_replace, sort_by_labels, sort_by_value};
use self::range::{clamp, predict_linear, range_window, WindowFunction};
use super::eval::{Evaluator, Val};
use super::value::{Labels, Sample, Vector};
use super::Error;

/// The arguments of one call, evaluated on demand.
struct Args<'e, 'a> {
    evaluator: &'e Evaluator<'a>,
    exprs: &'e [Box<Expr>],
    timestamp_ms: i64,
    name: &'static str,
}

impl Args<'_, '_> {
    fn expr(&self, i: usize) -> Result<&Expr, Error> {
        self.exprs
            .get(i)
            .map(|e| e.as_ref())
            .ok_or_else(|| Error::execution(format!("missing argument {} of {}", i + 1, self.name)))
    }

    fn vector(&self, i: usize) -> Result<Vector, Error> {
        self.evaluator.eval_vector(self.expr(i)?, self.timestamp_ms)
    }

    fn scalar(&self, i: usize) -> Result<f64, Error> {
        self.evaluator.eval_scalar(self.expr(i)?, self.timestamp_ms)
    }

    fn string(&self, i: usize) -> Result<String, Error> {
        match self.evaluator.eval(self.expr(i)?, self.timestamp_ms)? {
            Val::Str(text) => Ok(text),
            other => Err(Error::execution(format!(
                "expected string argument {} of {}, got {}",
                i + 1,
                self.name,
                other.type_name()
            ))),
        }
    }

    fn matrix(&self, i: usize) -> Result<Vec<super::value::Series>, Error> {
        self.evaluator.eval_matrix(self.expr(i)?, self.timestamp_ms)
    }
}

/// Evaluates a function call at `timestamp_ms`. The families are separate functions so the
/// stack frame each nesting level of a query costs stays small.
pub(crate) fn eval_call(
    evaluator: &Evaluator<'_>,
    call: &Call,
    timestamp_ms: i64,
) -> Result<Val, Error> {
    let args = Args {
        evaluator,
        exprs: &call.args.args,
        timestamp_ms,
        name: call.func.name,
    };
    if let Some(value) = scalar_function(&args)? {
        return Ok(Val::Scalar(value));
    }
    if let Some(vector) = range_function(&args)? {
        return Ok(Val::Vector(vector));
    }
    if let Some(vector) = label_function(&args)? {
        return Ok(Val::Vector(vector));
    }
    vector_function(&args).map(Val::Vector)
}

/// The functions that return a scalar.
#[inline(never)]
fn scalar_function(args: &Args<'_, '_>) -> Result<Option<f64>, Error> {
    let evaluator = args.evaluator;
    Ok(Some(match args.name {
        "time" => args.timestamp_ms as f64 / 1000.0,
        "pi" => PI,
        "start" => evaluator.query_start_ms as f64 / 1000.0,
        "end" => evaluator.query_end_ms as f64 / 1000.0,
        "range" => (evaluator.query_end_ms as f64 - evaluator.query_start_ms as f64) / 1000.0,
        "step" => evaluator.query_step_ms as f64 / 1000.0,
        "min_of" => math::go_min(args.scalar(0)?, args.scalar(1)?),
        "max_of" => math::go_max(args.scalar(0)?, args.scalar(1)?),
        "scalar" => match args.vector(0)?.as_slice() {
            [only] => only.value,
            _ => f64::NAN,
        },
        _ => return Ok(None),
    }))
}

/// The functions over range vectors.
#[inline(never)]
fn range_function(args: &Args<'_, '_>) -> Result<Option<Vector>, Error> {
    let (name, ts, evaluator) = (args.name, args.timestamp_ms, args.evaluator);
    if let Some(function) = WindowFunction::named(name) {
        let window = range_window(evaluator, args.expr(0)?, ts)?;
        return evaluator
            .map_range(args.expr(0)?, ts, function.keeps_name, |points| {
                function.apply(points, window)
            })
            .map(Some);
    }
    Ok(Some(match name {
        "predict_linear" => {
            let seconds = args.scalar(1)?;
            evaluator.map_range(args.expr(0)?, ts, false, |points| {
                predict_linear(points, ts, seconds)
            })?
        }
        "double_exponential_smoothing" => {
            let (smoothing, trend) = (args.scalar(1)?, args.scalar(2)?);
            let mut out = Vec::new();
            for series in args.matrix(0)? {
                let value = range::double_exponential_smoothing(&series.points, smoothing, trend)?;
                if let Some(value) = value {
                    out.push(Sample {
                        labels: series.labels,
                        timestamp_ms: ts,
                        value,
                        drop_name: true,
                    });
                }
            }
            out
        }
        "quantile_over_time" => {
            let q = args.scalar(0)?;
            evaluator.map_range(args.expr(1)?, ts, false, |points| {
                Some(math::quantile(q, points.iter().map(|(_, v)| *v).collect()))
            })?
        }
        "absent_over_time" => match args.matrix(0)?.is_empty() {
            true => vec![absent_sample(args.expr(0)?, ts)],
            false => Vec::new(),
        },
        _ => return Ok(None),
    }))
}

/// The label, sort and histogram functions.
#[inline(never)]
fn label_function(args: &Args<'_, '_>) -> Result<Option<Vector>, Error> {
    let (name, ts) = (args.name, args.timestamp_ms);
    Ok(Some(match name {
        "absent" => match args.vector(0)?.is_empty() {
            true => vec![absent_sample(args.expr(0)?, ts)],
            false => Vec::new(),
        },
        "label_replace" => label_replace(
            args.vector(0)?,
            &args.string(1)?,
            &args.string(2)?,
            &args.string(3)?,
            &args.string(4)?,
        )?,
        "label_join" => {
            let sources = (3..args.exprs.len())
                .map(|i| args.string(i))
                .collect::<Result<Vec<_>, _>>()?;
            label_join(
                args.vector(0)?,
                &args.string(1)?,
                &args.string(2)?,
                &sources,
            )?
        }
        "sort" | "sort_desc" => sort_by_value(args.vector(0)?, name == "sort_desc"),
        "sort_by_label" | "sort_by_label_desc" => {
            let names = (1..args.exprs.len())
                .map(|i| args.string(i))
                .collect::<Result<Vec<_>, _>>()?;
            sort_by_labels(args.vector(0)?, &names, name == "sort_by_label_desc")
        }
        "histogram_quantiles" => {
            let label = args.string(1)?;
            let quantiles = (2..args.exprs.len())
                .map(|i| args.scalar(i))
                .collect::<Result<Vec<_>, _>>()?;
            histogram::histogram_quantiles(args.vector(0)?, &label, &quantiles, ts)?
        }
        "histogram_fraction" => {
            let (lower, upper) = (args.scalar(0)?, args.scalar(1)?);
            histogram::histogram_fraction(lower, upper, args.vector(2)?, ts)
        }
        "histogram_quantile" => {
            let q = args.scalar(0)?;
            histogram::histogram_quantile(q, args.vector(1)?, ts)
        }
        _ => return Ok(None),
    }))
}

/// The element-wise functions of one instant vector (and `vector`).
#[inline(never)]
fn vector_function(args: &Args<'_, '_>) -> Result<Vector, Error> {
    let (name, ts) = (args.name, args.timestamp_ms);
    Ok(match name {
        "vector" => vec![Sample::new(Labels::default(), ts, args.scalar(0)?)],
        "timestamp" => map_vector(args.vector(0)?, ts, |sample| {
            Some(sample.timestamp_ms as f64 / 1000.0)
        }),
        "clamp" => {
            let (min, max) = (args.scalar(1)?, args.scalar(2)?);
            let vector = args.vector(0)?;
            if max < min {
                Vec::new()
            } else {
                map_vector(vector, ts, |s| Some(clamp(s.value, min, max)))
            }
        }
        "clamp_min" => {
            let min = args.scalar(1)?;
            map_vector(args.vector(0)?, ts, |s| Some(math::go_max(min, s.value)))
        }
        "clamp_max" => {
            let max = args.scalar(1)?;
            map_vector(args.vector(0)?, ts, |s| Some(math::go_min(max, s.value)))
        }
        "round" => {
            let to_nearest = if args.exprs.len() > 1 {
                args.scalar(1)?
            } else {
                1.0
            };
            let inverse = 1.0 / to_nearest;
            map_vector(args.vector(0)?, ts, |s| {
                Some((s.value * inverse + 0.5).floor() / inverse)
            })
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let input = if args.exprs.is_empty() {
                vec![Sample::new(Labels::default(), ts, ts as f64 / 1000.0)]
            } else {
                args.vector(0)?
            };
            map_vector(input, ts, |s| Some(date::date_part(name, s.value)))
        }
        _ => match simple_math_function(name) {
            Some(function) => map_vector(args.vector(0)?, ts, |s| Some(function(s.value))),
            None => return Err(unsupported_function(name)),
        },
    })
}

/// Names what a function we do not evaluate needs.
fn unsupported_function(name: &str) -> Error {
    if name.starts_with("histogram_") {
        Error::unsupported(format!("native histograms ({name})"))
    } else {
        Error::unsupported(format!("function {name}"))
    }
}

/// Applies `function` to every sample's value, dropping the metric name.
fn map_vector(
    vector: Vector,
    timestamp_ms: i64,
    function: impl Fn(&Sample) -> Option<f64>,
) -> Vector {
    vector
        .into_iter()
        .filter_map(|sample| {
            let value = function(&sample)?;
            Some(Sample {
                labels: sample.labels,
                timestamp_ms,
                value,
                drop_name: true,
            })
        })
        .collect()
}

/// The element-wise math functions.
fn simple_math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}
