//! Trace search parameters: parses and validates the query string of the native and Jaeger
//! search endpoints into a [`SpanQuery`].
//!
//! Every problem becomes [`Error::InvalidParameter`] naming the parameter as the client wrote
//! it. Unknown parameters are ignored (the Jaeger UI sends a few we do not use).

mod edge;
mod time;

use std::collections::BTreeMap;

use sightline_model::{SpanKind, StatusCode, TraceId};
use sightline_store::SpanQuery;

pub use self::edge::{keep_edge_traces, EdgeFilter, EDGE_CANDIDATE_FACTOR, MAX_EDGE_CANDIDATES};
pub use self::time::{parse_duration_nanos, parse_timestamp_unix_nano};
use crate::error::Error;
use crate::QueryConfig;

/// The default search window when `start` is not given: one hour before `end`.
pub const DEFAULT_LOOKBACK_NANOS: u64 = 3_600_000_000_000;

/// The decoded query string: every `name=value` pair in order, repeats kept.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Wraps decoded pairs (as axum's `Query<Vec<(String, String)>>` yields them).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// Returns the last non-empty value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Returns every non-empty value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, value)| key == name && !value.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the native search parameters (`/api/v1/traces`).
///
/// - `service`, `operation`: exact match.
/// - `spanKind`: `server`, `client`, `producer`, `consumer`, `internal`.
/// - `attributes`: logfmt-like `key=value` pairs separated by spaces, e.g.
///   `http.route=/api/x db.system=redis`; quote values with spaces (`k="a b"`); the parameter
///   may also be repeated. A span matches when each attribute's value, as text, equals.
/// - `minDuration`, `maxDuration`: Go-style ("100ms", "1.5s", "250us") or integer milliseconds.
/// - `status`: `unset`, `ok` or `error`.
/// - `start`, `end`: unix nanoseconds or RFC 3339; `end` defaults to now, `start` to an hour
///   before `end`.
/// - `limit`: 1 to `config.max_search_limit`, default `config.default_search_limit`.
/// - `peerService` (read by [`EdgeFilter::from_params`], not here): only traces in which
///   `service` calls this service, database or virtual node.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the first bad parameter.
pub fn parse_native_search(
    params: &QueryParams,
    config: &QueryConfig,
    now_unix_nano: u64,
) -> Result<SpanQuery, Error> {
    let mut attributes = Vec::new();
    for text in params.all("attributes") {
        attributes.extend(
            parse_logfmt_pairs(text)
                .map_err(|reason| Error::invalid_parameter("attributes", reason))?,
        );
    }
    let span_kind = match params.get("spanKind") {
        Some(text) => Some(
            SpanKind::parse(text)
                .filter(|kind| *kind != SpanKind::Unspecified)
                .ok_or_else(|| {
                    Error::invalid_parameter(
                        "spanKind",
                        format!(
                            "{text:?} is not one of server, client, producer, consumer, internal"
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let status = match params.get("status") {
        Some(text) => Some(StatusCode::parse(text).ok_or_else(|| {
            Error::invalid_parameter("status", format!("{text:?} is not one of unset, ok, error"))
        })?),
        None => None,
    };
    let end_unix_nano = optional_timestamp(params, "end", 1)?.unwrap_or(now_unix_nano);
    let start_unix_nano = optional_timestamp(params, "start", 1)?
        .unwrap_or_else(|| end_unix_nano.saturating_sub(DEFAULT_LOOKBACK_NANOS));
    let limit = match params.get("limit") {
        Some(text) => parse_limit(text, config.max_search_limit)?,
        None => config.default_search_limit,
    };
    let query = SpanQuery {
        service: params.get("service").map(str::to_string),
        operation: params.get("operation").map(str::to_string),
        span_kind,
        attributes,
        min_duration_nanos: optional_duration(params, "minDuration")?,
        max_duration_nanos: optional_duration(params, "maxDuration")?,
        status,
        start_unix_nano,
        end_unix_nano,
        limit,
    };
    config.check_time_range(query.start_unix_nano, query.end_unix_nano)?;
    check_ranges(query)
}

/// A Jaeger search: either explicit trace ids or a span query.
#[derive(Debug, Clone, PartialEq)]
pub struct JaegerSearch {
    /// Trace ids given with repeated `traceID` parameters; when present, the filters are
    /// ignored and these traces are returned, as Jaeger does.
    pub trace_ids: Vec<TraceId>,
    /// The filters.
    pub query: SpanQuery,
}

/// Parses Jaeger's search parameters (`/jaeger/api/traces`).
///
/// `service` is required unless `traceID` is given; `tags` is a JSON object string
/// (`{"http.status_code":"500"}`) or logfmt (`k=v k2=v2`), `tag` may be repeated as `k:v`;
/// `start` and `end` are unix microseconds (or RFC 3339); without `start` the window is
/// `lookback` (default 1h) before `end`; `limit` above the maximum is lowered to it, as the
/// Jaeger UI offers larger values than we allow.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the first bad parameter.
pub fn parse_jaeger_search(
    params: &QueryParams,
    config: &QueryConfig,
    now_unix_nano: u64,
) -> Result<JaegerSearch, Error> {
    let trace_ids = params
        .all("traceID")
        .map(|text| {
            text.parse().map_err(|source| {
                Error::invalid_parameter("traceID", format!("{text:?}: {source}"))
            })
        })
        .collect::<Result<Vec<TraceId>, Error>>()?;
    let service = params.get("service").map(str::to_string);
    if service.is_none() && trace_ids.is_empty() {
        return Err(Error::invalid_parameter(
            "service",
            "parameter 'service' is required",
        ));
    }
    let mut attributes = Vec::new();
    for text in params.all("tags") {
        attributes.extend(
            parse_jaeger_tags(text).map_err(|reason| Error::invalid_parameter("tags", reason))?,
        );
    }
    for text in params.all("tag") {
        let (key, value) = text
            .split_once(':')
            .ok_or_else(|| Error::invalid_parameter("tag", format!("{text:?} is not key:value")))?;
        attributes.push((key.to_string(), value.to_string()));
    }
    let end_unix_nano = optional_timestamp(params, "end", 1_000)?.unwrap_or(now_unix_nano);
    let lookback = match params.get("lookback").filter(|text| *text != "custom") {
        Some(text) => parse_duration_nanos(text)
            .map_err(|reason| Error::invalid_parameter("lookback", reason))?,
        None => DEFAULT_LOOKBACK_NANOS,
    };
    let start_unix_nano = optional_timestamp(params, "start", 1_000)?
        .unwrap_or(end_unix_nano.saturating_sub(lookback));
    let limit = match params.get("limit") {
        Some(text) => parse_limit(text, usize::MAX)?.min(config.max_search_limit),
        None => config.default_search_limit,
    };
    let operation = params.get("operation").map(str::to_string);
    let query = SpanQuery {
        service,
        operation,
        span_kind: None,
        attributes,
        min_duration_nanos: optional_duration(params, "minDuration")?,
        max_duration_nanos: optional_duration(params, "maxDuration")?,
        status: None,
        start_unix_nano,
        end_unix_nano,
        limit,
    };
    config.check_time_range(query.start_unix_nano, query.end_unix_nano)?;
    Ok(JaegerSearch {
        trace_ids,
        query: check_ranges(query)?,
    })
}

/// Parses logfmt-like `key=value` pairs separated by whitespace; values may be double-quoted
/// with `\"` and `\\` escapes.
///
/// # Errors
/// A message naming the malformed pair.
pub fn parse_logfmt_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (key, after_key) = rest
            .split_once('=')
            .filter(|(key, _)| !key.is_empty() && !key.contains(char::is_whitespace))
            .ok_or_else(|| {
                format!(
                    "expected key=value at {:?}",
                    rest.split_whitespace().next().unwrap_or(rest)
                )
            })?;
        let (value, after_value) = match after_key.strip_prefix('"') {
            Some(quoted) => read_quoted(quoted)
                .ok_or_else(|| format!("unterminated quote in value of {key:?}"))?,
            None => {
                let end = after_key
                    .find(char::is_whitespace)
                    .unwrap_or(after_key.len());
                (after_key[..end].to_string(), &after_key[end..])
            }
        };
        pairs.push((key.to_string(), value));
        rest = after_value.trim_start();
    }
    Ok(pairs)
}

/// Reads a quoted value up to its closing quote; returns the value and the text after it.
fn read_quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[index + 1..])),
            '\\' => value.push(chars.next()?.1),
            other => value.push(other),
        }
    }
    None
}

/// Parses Jaeger's `tags`: a JSON object of strings (other JSON values are taken as their
/// JSON text), or logfmt when the text is not a JSON object.
fn parse_jaeger_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    if !text.trim_start().starts_with('{') {
        return parse_logfmt_pairs(text);
    }
    let object: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|error| format!("malformed JSON object: {error}"))?;
    Ok(object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect())
}

/// Parses the timestamp parameter `name` (unix time in `integer_unit_nanos`, or RFC 3339).
pub(crate) fn optional_timestamp(
    params: &QueryParams,
    name: &'static str,
    integer_unit_nanos: u64,
) -> Result<Option<u64>, Error> {
    params
        .get(name)
        .map(|text| {
            parse_timestamp_unix_nano(text, integer_unit_nanos)
                .map_err(|reason| Error::invalid_parameter(name, reason))
        })
        .transpose()
}

/// Parses the duration parameter `name` (Go-style, or integer milliseconds).
pub(crate) fn optional_duration(
    params: &QueryParams,
    name: &'static str,
) -> Result<Option<u64>, Error> {
    params
        .get(name)
        .map(|text| {
            parse_duration_nanos(text).map_err(|reason| Error::invalid_parameter(name, reason))
        })
        .transpose()
}

fn parse_limit(text: &str, max: usize) -> Result<usize, Error> {
    let limit: usize = text.trim().parse().map_err(|_| {
        Error::invalid_parameter("limit", format!("{text:?} is not a positive integer"))
    })?;
    if limit == 0 || limit > max {
        return Err(Error::invalid_parameter(
            "limit",
            format!("must be between 1 and {max}, got {limit}"),
        ));
    }
    Ok(limit)
}

/// Rejects windows and duration ranges that cannot match anything.
fn check_ranges(query: SpanQuery) -> Result<SpanQuery, Error> {
    if query.start_unix_nano > query.end_unix_nano {
        return Err(Error::invalid_parameter("start", "must not be after end"));
    }
    if let (Some(min), Some(max)) = (query.min_duration_nanos, query.max_duration_nanos) {
        if min > max {
            return Err(Error::invalid_parameter(
                "minDuration",
                "must not be greater than maxDuration",
            ));
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests;
