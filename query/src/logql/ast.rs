//! The syntax tree of the LogQL subset the engine evaluates. [`super::parser`] builds it;
//! [`super::pipeline`] and [`super::eval`] run it.

use std::fmt;

use regex::Regex;

use super::source::LabelMatcher;

/// A parsed query: a log query (returns streams) or a metric query (returns samples).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `{selector} | pipeline`.
    Log(LogExpr),
    /// A range aggregation, perhaps inside vector aggregations.
    Metric(MetricExpr),
}

/// A stream selector and the pipeline applied to each selected entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    /// The stream matchers, `{name op "value", ...}`.
    pub matchers: Vec<LabelMatcher>,
    /// The stages, in order.
    pub pipeline: Vec<Stage>,
}

/// One pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `|= "x"`, `!= "x"`, `|~ "re"`, `!~ "re"`, with `or` alternatives.
    LineFilter(LineFilter),
    /// `| json` with optional `name="path"` extractions.
    Json(Vec<Extraction>),
    /// `| logfmt [--strict] [--keep-empty]` with optional `name="key"` extractions.
    Logfmt {
        /// `--strict`: a malformed pair fails the line (`__error__`) instead of being skipped.
        strict: bool,
        /// The extractions; none extracts every key.
        extractions: Vec<Extraction>,
    },
    /// `| label filter expression`.
    LabelFilter(LabelFilter),
    /// `| line_format "template"`.
    LineFormat(Template),
    /// `| label_format name=other, name="template"`.
    LabelFormat(Vec<LabelFormat>),
    /// `| drop a, b="v"`.
    Drop(Vec<LabelSelection>),
    /// `| keep a, b="v"`.
    Keep(Vec<LabelSelection>),
}

/// How a line filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`: the line contains the text.
    Contains,
    /// `!=`: the line does not contain the text.
    NotContains,
    /// `|~`: the line matches the expression somewhere.
    Regex,
    /// `!~`: the line does not match the expression.
    NotRegex,
}

/// A line filter with its alternatives (`|= "a" or "b"`): a positive filter keeps a line
/// that matches any alternative; a negative one keeps a line that matches none.
#[derive(Debug, Clone)]
pub struct LineFilter {
    /// The comparison.
    pub op: LineFilterOp,
    /// The texts or expressions as written.
    pub values: Vec<String>,
    /// The compiled expressions, for `|~` and `!~`.
    pub regexes: Vec<Regex>,
}

impl PartialEq for LineFilter {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op && self.values == other.values
    }
}

/// `name="path"` in `| json name="a.b[0]"` or `| logfmt name="key"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// The label to set.
    pub label: String,
    /// The path (json) or key (logfmt) to read.
    pub path: Vec<PathPart>,
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A comparison of numbers, durations or byte sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` or `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
}

impl CmpOp {
    /// Applies the comparison.
    pub fn compare(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
        }
    }
}

/// What a numeric label filter compares the label with, and how the label is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberKind {
    /// A plain number.
    Number,
    /// A duration in seconds (`10s`, `250ms`); the label is read as a Go duration.
    Duration,
    /// A byte size (`20MB`); the label is read as a humanised size.
    Bytes,
}

/// A label filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// Both hold.
    And(Box<LabelFilter>, Box<LabelFilter>),
    /// Either holds.
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// A string comparison, `name op "value"`.
    Matcher(LabelMatcher),
    /// A numeric comparison, `name op 500` (or a duration or byte size).
    Number {
        /// The label.
        name: String,
        /// The comparison.
        op: CmpOp,
        /// The right-hand side (seconds for durations, bytes for sizes).
        value: f64,
        /// How to read the label.
        kind: NumberKind,
    },
}

/// `| label_format` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFormat {
    /// `dst=src`: renames `src` to `dst`.
    Rename {
        /// The new name.
        to: String,
        /// The old name.
        from: String,
    },
    /// `dst="template"`: sets `dst` to the rendered template.
    Template {
        /// The label to set.
        to: String,
        /// The template.
        template: Template,
    },
}

/// `name` or `name op "value"` in `| drop` and `| keep`.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSelection {
    /// The label, whatever its value.
    Name(String),
    /// The label when its value matches.
    Matcher(LabelMatcher),
}

/// A `line_format`/`label_format` template in the supported subset of Go's text/template:
/// literal text and `{{ .label }}` references.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template as written.
    pub source: String,
    /// Its parts.
    pub parts: Vec<TemplatePart>,
}

/// One part of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// `{{ .name }}`: the label's value, or nothing.
    Label(String),
    /// `{{ __line__ }}`: the current line.
    Line,
}

/// `| unwrap [duration(|duration_seconds(|bytes(]label[)]` and the label filters after it:
/// the sample value of each entry comes from a label instead of the entry count.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    /// The label holding the value; it is removed from the series' labels.
    pub label: String,
    /// How the label is read: a number, a duration (as seconds) or a byte size.
    pub conversion: NumberKind,
    /// Label filters after the unwrap (typically `| __error__=""`).
    pub post_filters: Vec<LabelFilter>,
}

/// A range aggregation over a log expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    /// `count_over_time`: entries in the window.
    CountOverTime,
    /// `rate`: entries per second.
    Rate,
    /// `bytes_over_time`: line bytes in the window.
    BytesOverTime,
    /// `bytes_rate`: line bytes per second.
    BytesRate,
    /// `absent_over_time`: 1 when the window has no entry.
    AbsentOverTime,
    /// `sum_over_time` of unwrapped values.
    SumOverTime,
    /// `avg_over_time` of unwrapped values.
    AvgOverTime,
    /// `min_over_time` of unwrapped values.
    MinOverTime,
    /// `max_over_time` of unwrapped values.
    MaxOverTime,
    /// `stddev_over_time` of unwrapped values (population).
    StddevOverTime,
    /// `stdvar_over_time` of unwrapped values (population).
    StdvarOverTime,
    /// `quantile_over_time(φ, …)` of unwrapped values.
    QuantileOverTime,
    /// `first_over_time`: the oldest unwrapped value in the window.
    FirstOverTime,
    /// `last_over_time`: the newest unwrapped value in the window.
    LastOverTime,
}

impl RangeOp {
    /// Returns the function's name.
    pub fn name(self) -> &'static str {
        match self {
            RangeOp::CountOverTime => "count_over_time",
            RangeOp::Rate => "rate",
            RangeOp::BytesOverTime => "bytes_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::AbsentOverTime => "absent_over_time",
            RangeOp::SumOverTime => "sum_over_time",
            RangeOp::AvgOverTime => "avg_over_time",
            RangeOp::MinOverTime => "min_over_time",
            RangeOp::MaxOverTime => "max_over_time",
            RangeOp::StddevOverTime => "stddev_over_time",
            RangeOp::StdvarOverTime => "stdvar_over_time",
            RangeOp::QuantileOverTime => "quantile_over_time",
            RangeOp::FirstOverTime => "first_over_time",
            RangeOp::LastOverTime => "last_over_time",
        }
    }

    /// Says whether the function needs `| unwrap` (and refuses to run without it).
    pub fn needs_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }

    /// Says whether the function refuses `| unwrap`.
    pub fn refuses_unwrap(self) -> bool {
        matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }

    /// Says whether a `sum` around the function may group entries as they are read: the
    /// function is additive over the entries of a window.
    pub fn is_additive(self) -> bool {
        matches!(
            self,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::SumOverTime
        )
    }
}

/// A vector aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorOp {
    /// `sum`.
    Sum,
    /// `avg`.
    Avg,
    /// `min`.
    Min,
    /// `max`.
    Max,
    /// `count`.
    Count,
    /// `stddev`.
    Stddev,
    /// `stdvar`.
    Stdvar,
    /// `topk(k, …)`.
    Topk,
    /// `bottomk(k, …)`.
    Bottomk,
}

impl VectorOp {
    /// Returns the operator's name.
    pub fn name(self) -> &'static str {
        match self {
            VectorOp::Sum => "sum",
            VectorOp::Avg => "avg",
            VectorOp::Min => "min",
            VectorOp::Max => "max",
            VectorOp::Count => "count",
            VectorOp::Stddev => "stddev",
            VectorOp::Stdvar => "stdvar",
            VectorOp::Topk => "topk",
            VectorOp::Bottomk => "bottomk",
        }
    }
}

/// `by (a, b)` or `without (a, b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// Keep only these labels.
    By(Vec<String>),
    /// Drop these labels.
    Without(Vec<String>),
}

/// An arithmetic or comparison operator between metric expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Mod,
    /// `^`.
    Pow,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
}

impl BinaryOp {
    /// Says whether this is a comparison (which filters, or with `bool` yields 0 or 1).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le
        )
    }

    /// Binding strength, higher binds tighter (Prometheus' precedence).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Pow => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 3,
            BinaryOp::Add | BinaryOp::Sub => 2,
            _ => 1,
        }
    }

    /// Applies an arithmetic operator; for a comparison, returns 1 when it holds, else 0.
    pub fn apply(self, left: f64, right: f64) -> f64 {
        let holds = |condition: bool| if condition { 1.0 } else { 0.0 };
        match self {
            BinaryOp::Add => left + right,
            BinaryOp::Sub => left - right,
            BinaryOp::Mul => left * right,
            BinaryOp::Div => left / right,
            BinaryOp::Mod => left % right,
            BinaryOp::Pow => left.powf(right),
            BinaryOp::Eq => holds(left == right),
            BinaryOp::Ne => holds(left != right),
            BinaryOp::Gt => holds(left > right),
            BinaryOp::Ge => holds(left >= right),
            BinaryOp::Lt => holds(left < right),
            BinaryOp::Le => holds(left <= right),
        }
    }
}

/// A metric expression.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    /// `op(log_expr [range] offset d)`.
    Range {
        /// The function.
        op: RangeOp,
        /// What it counts.
        log: LogExpr,
        /// The window, nanoseconds.
        range_nanos: u64,
        /// The offset, nanoseconds.
        offset_nanos: u64,
        /// Where sample values come from, for the unwrapped functions.
        unwrap: Option<Unwrap>,
        /// `φ` of `quantile_over_time`.
        parameter: Option<f64>,
        /// `by`/`without` after an unwrapped range aggregation: entries of series with the
        /// same grouped labels form one series.
        grouping: Option<Grouping>,
    },
    /// `op by (…) (inner)`.
    Vector {
        /// The aggregation.
        op: VectorOp,
        /// The grouping; `None` aggregates everything into one series.
        grouping: Option<Grouping>,
        /// `k` of `topk`/`bottomk`.
        parameter: Option<usize>,
        /// The aggregated expression.
        inner: Box<MetricExpr>,
    },
    /// A number.
    Scalar(f64),
    /// `vector(x)`: one sample without labels at every step.
    VectorLiteral(f64),
    /// `left op right`, samples matched by identical labels.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// `bool` after a comparison: answer 0 or 1 instead of filtering.
        return_bool: bool,
        /// The left operand.
        left: Box<MetricExpr>,
        /// The right operand.
        right: Box<MetricExpr>,
    },
}

impl fmt::Display for LineFilterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Regex => "|~",
            LineFilterOp::NotRegex => "!~",
        })
    }
}
