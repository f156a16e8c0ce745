//! A PromQL evaluator: parses with the `promql-parser` crate and evaluates float series read
//! through a [`SeriesSource`], with Prometheus' semantics (lookback delta, staleness markers,
//! `offset` and `@`, subqueries, delayed metric-name removal).
//!
//! Modules, in evaluation order:
//! - [`source`]: [`SeriesSource`], what the evaluator reads, and [`InMemorySeries`].
//! - [`store_source`]: [`MetricStoreSource`], a [`SeriesSource`] over the metric store for one
//!   tenant, with the query's deadline and cancellation.
//! - [`engine`]: [`Engine`]: instant and range queries, the final name cleanup.
//! - `prefetch`: reads each selector's whole window once per query.
//! - `eval`: the per-timestamp evaluator: selectors, subqueries, dispatch.
//! - `sweep`: a range query's aggregations of range functions over plain selectors
//!   (`sum by (job) (rate(x[5m]))`), evaluated series by series across every step.
//! - `binary`: arithmetic, comparison and set operators with vector matching.
//! - `aggregate`: `sum`, `avg`, `topk`, `quantile`, `count_values`, … with `by`/`without`.
//! - `functions`: the function calls (`functions::range` for `rate` and `*_over_time`,
//!   `functions::labels` for label and sort functions, `functions::histogram` for
//!   `histogram_quantile`/`histogram_fraction` over classic buckets, `functions::date` for
//!   the calendar functions, `functions::math` for the shared numerics).
//!
//! Limits against hostile queries: [`engine::MAX_OPERATORS_AND_BRACKETS`] and
//! [`engine::MAX_EXPRESSION_DEPTH`] bound recursion, [`Engine::max_samples`] bounds work.
//! - [`value`]: [`Labels`], [`Sample`], [`Series`], [`Value`].
//!
//! Native histograms are not supported: every series holds floats only.
//!
//! Evaluation runs one timestamp at a time: a range query evaluates the expression at each
//! step and joins the vectors by label set. That is simple and exact; `prefetch` keeps it
//! from reading the source once per step, and `sweep` precomputes the common aggregations
//! over every step at once, with the same results.

#![warn(missing_docs)]

mod aggregate;
mod binary;
pub mod engine;
mod eval;
mod functions;
mod prefetch;
pub mod source;
pub mod store_source;
mod sweep;
pub mod value;

use sightline_model::ErrorClass;

pub use engine::Engine;
pub(crate) use functions::histogram::bucket_quantile;
pub use promql_parser::label::{MatchOp, Matcher};
pub use source::{InMemorySeries, SeriesSource};
pub use store_source::MetricStoreSource;
pub use value::{Labels, Matrix, Sample, Series, Value, Vector};

/// What went wrong while parsing or evaluating a PromQL query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The query text is not valid PromQL.
    #[error("parse error: {message}")]
    Parse {
        /// The parser's message.
        message: String,
    },
    /// The query uses something this evaluator does not implement.
    #[error("unsupported PromQL feature: {feature}")]
    Unsupported {
        /// What is missing, such as `native histograms` or a function name.
        feature: String,
    },
    /// The query parsed but cannot be evaluated; the message is Prometheus' own wording (for
    /// example `many-to-many matching not allowed: matching labels must be unique on one
    /// side`).
    #[error("{message}")]
    Execution {
        /// Prometheus' message.
        message: String,
    },
    /// The query's parameters (time range, step) are out of range.
    #[error("invalid query parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter, such as `step`.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading series from the source failed.
    #[error("reading series failed: {reason}")]
    Source {
        /// Why.
        reason: String,
    },
    /// The query ran past its deadline (Prometheus' wording).
    #[error("query timed out in expression evaluation")]
    Timeout,
    /// The query was abandoned, its client gone (Prometheus' wording).
    #[error("query was canceled in expression evaluation")]
    Canceled,
}

impl Error {
    /// Builds an [`Error::Execution`].
    pub(crate) fn execution(message: impl Into<String>) -> Self {
        Error::Execution {
            message: message.into(),
        }
    }

    /// Builds an [`Error::Unsupported`].
    pub(crate) fn unsupported(feature: impl Into<String>) -> Self {
        Error::Unsupported {
            feature: feature.into(),
        }
    }

    /// Returns the class of this error, for the wire mapping.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Parse { .. }
            | Error::Unsupported { .. }
            | Error::Execution { .. }
            | Error::InvalidParameter { .. } => ErrorClass::InvalidInput,
            Error::Source { .. } | Error::Timeout | Error::Canceled => ErrorClass::Unavailable,
        }
    }

    /// Says whether retrying the same query later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }
}
