//! LogQL, Loki's query language, over any [`LogSource`].
//!
//! - [`parser`] (with a private lexer): LogQL text → [`ast::Expr`], the subset below;
//!   anything else is [`Error::Unsupported`].
//! - [`pipeline`]: one entry through a log pipeline (line filters, `json`, `logfmt`, label
//!   filters, `line_format`, `label_format`, `drop`, `keep`).
//! - [`eval`]: [`Engine`] runs a query over a [`LogSource`]: log queries into entries, metric
//!   queries into samples per step; `window` holds the range functions, [`aggregate`] the
//!   vector aggregations.
//! - [`source`]: what the engine reads ([`LogSource`], [`LogRequest`], [`LogEntry`]), the one
//!   mapping from stored records to stream labels, lines and structured metadata, and
//!   [`InMemoryLogs`] for tests.
//!
//! Supported: stream selectors (`=`, `!=`, `=~`, `!~`); line filters `|=`, `!=`, `|~`,
//! `!~`, chained, with `or` alternatives; `| json` and `| logfmt` (with optional
//! extractions, `--strict`), label filters (strings, numbers, durations, byte sizes; `and`,
//! `or`, `,`, parentheses), `| line_format` and `| label_format` with `{{ .label }}`
//! templates, `| drop`, `| keep`; `count_over_time`, `rate`, `bytes_over_time`,
//! `bytes_rate`, `absent_over_time` over `[range]` with `offset`; `| unwrap` (plain,
//! `duration()`, `bytes()`, with label filters after it) for `sum_over_time`,
//! `avg_over_time`, `min_over_time`, `max_over_time`, `stddev_over_time`,
//! `stdvar_over_time`, `quantile_over_time`, `first_over_time`, `last_over_time` and `rate`,
//! with `by`/`without`; `sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`
//! `by`/`without`, `topk`, `bottomk`; `vector(n)`, numbers, arithmetic and comparison
//! operators (with `bool`) between them, samples matched one to one by labels.
//!
//! Anything outside the supported subset is [`Error::Unsupported`], which the Loki API answers
//! with 400 naming what is not supported; nothing a query says can panic the engine.

pub mod aggregate;
pub mod ast;
mod binary;
pub mod eval;
mod lexer;
pub mod parser;
pub mod pipeline;
pub mod source;
mod window;

use sightline_model::ErrorClass;

pub use eval::{Engine, EvalStats, QueryParams, QueryResult};
pub use lexer::{parse_bytes, parse_duration_nanos};
pub use parser::{parse, parse_selector};
pub use source::{
    Direction, InMemoryLogs, LabelMatcher, LogEntry, LogRequest, LogSource, LogStats, MatchOp,
};

/// What went wrong parsing or evaluating a LogQL query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query is not valid LogQL; the message names the position as Loki does.
    #[error("parse error at line {line}, col {column}: {message}")]
    Parse {
        /// The 1-based line of the offending token.
        line: usize,
        /// The 1-based column of the offending token.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The query is valid LogQL that this engine does not evaluate.
    #[error("unsupported: {what}")]
    Unsupported {
        /// The construct, as the user would recognise it (`| pattern`, `quantile_over_time`).
        what: String,
    },
    /// A regular expression in a matcher or filter does not compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex {
        /// The expression as written.
        pattern: String,
        /// Why it does not compile.
        reason: String,
    },
    /// The query would produce more series than allowed.
    #[error("maximum of series ({limit}) reached for a single query")]
    TooManySeries {
        /// The limit.
        limit: usize,
    },
    /// A range query has more steps than allowed.
    #[error("exceeded maximum resolution of {limit} points per timeseries. Try decreasing the query resolution (?step=XX)")]
    TooManySteps {
        /// The limit.
        limit: usize,
    },
    /// A metric query's samples carry an `__error__` label (a parser or filter failed on
    /// some line), which Loki refuses rather than count such lines silently.
    #[error("{message}")]
    Pipeline {
        /// Loki's message, naming the error and the series.
        message: String,
    },
    /// The query ran past its deadline.
    #[error("query timed out")]
    Timeout,
    /// The log store failed.
    #[error("log store read failed: {0}")]
    Store(#[from] sightline_store::Error),
    /// A [`LogSource`] other than the store failed.
    #[error("log source failed: {0}")]
    Source(String),
}

impl Error {
    /// Builds an [`Error::Unsupported`].
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported { what: what.into() }
    }

    /// Returns the class of this error, for the wire mapping.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Parse { .. }
            | Error::Unsupported { .. }
            | Error::InvalidRegex { .. }
            | Error::TooManySeries { .. }
            | Error::TooManySteps { .. }
            | Error::Pipeline { .. } => ErrorClass::InvalidInput,
            Error::Timeout => ErrorClass::Unavailable,
            Error::Store(source) => source.class(),
            Error::Source(_) => ErrorClass::Internal,
        }
    }
}
