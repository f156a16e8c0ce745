//! Request parameters of the Loki API, read as Loki reads them: the URL query and a
//! form-encoded POST body merged, timestamps as unix nanoseconds (or seconds when ten digits
//! or fewer), float seconds or RFC 3339, `since` and `step` as durations or float seconds,
//! `limit` and `direction`.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use http::HeaderMap;

use super::LokiError;
use crate::api::form::request_pairs;
use crate::error::Error;
use crate::logql::{parse_duration_nanos, Direction};

/// Loki's default `limit` of log queries.
pub(crate) const DEFAULT_LIMIT: usize = 100;

/// The largest `limit` accepted, Loki's default `max_entries_limit_per_query`.
pub(crate) const MAX_LIMIT: usize = 5_000;

/// One hour, the default span of queries.
pub(crate) const HOUR_NANOS: u64 = 3_600_000_000_000;

/// The merged parameters and the headers of one request.
pub(crate) struct LokiRequest {
    pairs: Vec<(String, String)>,
    /// The request headers (tenant, encoding flags).
    pub(crate) headers: HeaderMap,
}

impl LokiRequest {
    /// Returns the first non-empty value of `name`.
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Returns every non-empty value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Returns the required `query` parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when it is missing.
    pub(crate) fn query(&self) -> Result<&str, Error> {
        self.first("query")
            .ok_or_else(|| Error::invalid_parameter("query", "query is required"))
    }

    /// Parses a timestamp parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the parameter.
    pub(crate) fn time(&self, name: &'static str) -> Result<Option<u64>, Error> {
        self.first(name)
            .map(|text| parse_time(text).map_err(|reason| Error::invalid_parameter(name, reason)))
            .transpose()
    }

    /// Parses a duration parameter into nanoseconds.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the parameter.
    pub(crate) fn duration(&self, name: &'static str) -> Result<Option<u64>, Error> {
        self.first(name)
            .map(|text| {
                parse_duration(text).map_err(|reason| Error::invalid_parameter(name, reason))
            })
            .transpose()
    }

    /// Returns `(start, end)` in nanoseconds: `end` defaults to `now`, `start` to `end`
    /// minus `since` (or `default_span_nanos`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for malformed times.
    pub(crate) fn time_range(
        &self,
        now_unix_nano: u64,
        default_span_nanos: u64,
    ) -> Result<(u64, u64), Error> {
        let end = self.time("end")?.unwrap_or(now_unix_nano);
        let start = match self.time("start")? {
            Some(start) => start,
            None => {
                let since = self.duration("since")?.unwrap_or(default_span_nanos);
                // A future end counts `since` back from now, as Loki does.
                end.min(now_unix_nano).saturating_sub(since)
            }
        };
        Ok((start, end))
    }

    /// Parses `limit` (default 100, at most [`MAX_LIMIT`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-positive, malformed or too large limit.
    pub(crate) fn limit(&self) -> Result<usize, Error> {
        let Some(text) = self.first("limit") else {
            return Ok(DEFAULT_LIMIT);
        };
        let limit: i64 = text.parse().map_err(|_| {
            Error::invalid_parameter("limit", format!("cannot parse {text:?} as an integer"))
        })?;
        if limit <= 0 {
            return Err(Error::invalid_parameter(
                "limit",
                "limit must be a positive value",
            ));
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit > MAX_LIMIT {
            return Err(Error::invalid_parameter(
                "limit",
                format!(
                    "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {MAX_LIMIT})"
                ),
            ));
        }
        Ok(limit)
    }

    /// Parses `direction` (default backward).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for anything but `forward` or `backward`.
    pub(crate) fn direction(&self) -> Result<Direction, Error> {
        match self
            .first("direction")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("backward") => Ok(Direction::Backward),
            Some("forward") => Ok(Direction::Forward),
            Some(other) => Err(Error::invalid_parameter(
                "direction",
                format!("invalid direction {other:?}: use forward or backward"),
            )),
        }
    }

    /// Says whether the client asked for `categorize-labels` (Grafana does): stream labels,
    /// structured metadata and parsed labels answered apart.
    pub(crate) fn categorize_labels(&self) -> bool {
        self.headers
            .get_all("X-Loki-Response-Encoding-Flags")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|flag| flag.trim().eq_ignore_ascii_case("categorize-labels"))
    }
}

impl<S: Send + Sync> FromRequest<S> for LokiRequest {
    type Rejection = LokiError;

    async fn from_request(request: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        let (pairs, headers) = request_pairs(request).await?;
        Ok(Self { pairs, headers })
    }
}

/// Parses a timestamp as Loki does: an integer is unix nanoseconds, or unix seconds when it
/// has ten digits or fewer; a number with a fraction is unix seconds; anything else is RFC
/// 3339.
pub(crate) fn parse_time(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let invalid = || format!("cannot parse {text:?} to a valid timestamp");
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u64 = text.parse().map_err(|_| invalid())?;
        return if text.len() <= 10 {
            value.checked_mul(1_000_000_000).ok_or_else(invalid)
        } else {
            Ok(value)
        };
    }
    if text.contains('.') && !text.contains(['T', 't']) {
        let seconds: f64 = text.parse().map_err(|_| invalid())?;
        let nanos = seconds * 1e9;
        if !nanos.is_finite() || nanos < 0.0 || nanos >= u64::MAX as f64 {
            return Err(invalid());
        }
        return Ok(nanos.round() as u64);
    }
    crate::search::parse_timestamp_unix_nano(text, 1)
}

/// Parses a duration: float seconds or `1h30m`-style text, into nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let invalid = || format!("cannot parse {text:?} to a valid duration");
    let nanos = match text.trim().parse::<f64>() {
        Ok(seconds) => seconds * 1e9,
        Err(_) => parse_duration_nanos(text).ok_or_else(invalid)?,
    };
    if !nanos.is_finite() || nanos < 0.0 || nanos >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(nanos.round() as u64)
}

/// Loki's default step: the range over 250 points, at least one second.
pub(crate) fn default_step_nanos(start_unix_nano: u64, end_unix_nano: u64) -> u64 {
    let seconds = end_unix_nano.saturating_sub(start_unix_nano) / 1_000_000_000 / 250;
    seconds.max(1) * 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_loki_reads_them() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000_000_000));
        assert_eq!(
            parse_time("1700000000123456789"),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(parse_time("1700000000.5"), Ok(1_700_000_000_500_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000_000_000_000)
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn durations_and_steps() {
        assert_eq!(parse_duration("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert!(parse_duration("-5").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(default_step_nanos(0, HOUR_NANOS), 14_000_000_000);
        assert_eq!(default_step_nanos(0, 10), 1_000_000_000);
    }
}
