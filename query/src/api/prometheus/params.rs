//! Request parameters of the Prometheus API, read the way Prometheus reads them: the URL query
//! and a form-encoded POST body merged (Go's `Request.Form`, body first), timestamps as float
//! unix seconds or RFC 3339, durations as float seconds or `1h30m`, series selectors for
//! `match[]`, and `limit`.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use http::HeaderMap;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Expr, VectorSelector};

use super::PrometheusError;
use crate::api::form::request_pairs;
use crate::api::AppState;
use crate::error::Error;
use crate::promql::engine::parse_query;
use crate::promql::value::METRIC_NAME_LABEL;

/// Prometheus' earliest timestamp (`minTime` in `web/api/v1`), the default start of metadata
/// queries, in ms.
pub(crate) const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;

/// Prometheus' latest timestamp (`maxTime`), the default end of metadata queries, in ms.
pub(crate) const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

/// How Prometheus' clients (client_golang) send [`MIN_TIME_MS`]: RFC 3339 with a year Go's
/// parser cannot read, so it is matched as text.
const MIN_TIME_TEXT: &str = "-292273086-05-16T16:47:06Z";

/// How Prometheus' clients send [`MAX_TIME_MS`].
const MAX_TIME_TEXT: &str = "292277025-08-17T07:12:55.999999999Z";

/// Duration units of Prometheus' duration syntax, in the order they must appear, in ms.
const DURATION_UNITS_MS: [(&str, i64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The decoded parameters of one request: body pairs first, then URL query pairs, repeats
/// kept in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormParams(Vec<(String, String)>);

impl FormParams {
    /// Returns the first value of `name`, as Go's `FormValue`; an empty value counts as
    /// absent, as every Prometheus handler treats it.
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// Returns every value of `name` in order, empty ones included.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A request's parameters and headers, for every Prometheus handler.
pub(crate) struct PromRequest {
    /// The merged parameters.
    pub(crate) params: FormParams,
    /// The request headers (tenant).
    pub(crate) headers: HeaderMap,
}

impl FromRequest<AppState> for PromRequest {
    type Rejection = PrometheusError;

    async fn from_request(
        request: Request<Body>,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (pairs, headers) = request_pairs(request).await?;
        Ok(Self {
            params: FormParams(pairs),
            headers,
        })
    }
}

/// Parses a timestamp parameter, `default_ms` when absent.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter.
pub(crate) fn time_param(
    params: &FormParams,
    name: &'static str,
    default_ms: i64,
) -> Result<i64, Error> {
    match params.first(name) {
        None => Ok(default_ms),
        Some(text) => parse_time_ms(text).map_err(|reason| Error::invalid_parameter(name, reason)),
    }
}

/// Parses a required timestamp parameter.
///
/// # Errors
/// [`Error::InvalidParameter`] when absent or malformed.
pub(crate) fn required_time_param(params: &FormParams, name: &'static str) -> Result<i64, Error> {
    let text = params.first(name).unwrap_or("");
    parse_time_ms(text).map_err(|reason| Error::invalid_parameter(name, reason))
}

/// Parses a timestamp as Prometheus does: float unix seconds (rounded to ms), RFC 3339, or
/// the texts clients send for Prometheus' earliest and latest times.
pub(crate) fn parse_time_ms(text: &str) -> Result<i64, String> {
    let invalid = || format!("cannot parse {text:?} to a valid timestamp");
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds.abs() >= (MAX_TIME_MS / 1000) as f64 {
            return Err(invalid());
        }
        let whole = seconds.trunc();
        let millis = ((seconds - whole) * 1000.0).round();
        return Ok(whole as i64 * 1000 + millis as i64);
    }
    match text {
        MIN_TIME_TEXT => return Ok(MIN_TIME_MS),
        MAX_TIME_TEXT => return Ok(MAX_TIME_MS),
        _ => {}
    }
    let nanos = crate::search::parse_timestamp_unix_nano(text, 1).map_err(|_| invalid())?;
    i64::try_from(nanos / 1_000_000).map_err(|_| invalid())
}

/// Parses a duration parameter (`step`, `timeout`, `lookback_delta`) into nanoseconds.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter.
pub(crate) fn duration_param(
    params: &FormParams,
    name: &'static str,
) -> Result<Option<i64>, Error> {
    params
        .first(name)
        .map(|text| {
            parse_duration_nanos(text).map_err(|reason| Error::invalid_parameter(name, reason))
        })
        .transpose()
}

/// Parses a duration as Prometheus does: float seconds (possibly negative), or its duration
/// syntax (`1h30m`, `5m`, `250ms`: integers with units y, w, d, h, m, s, ms in that order).
pub(crate) fn parse_duration_nanos(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        let nanos = seconds * 1e9;
        if !nanos.is_finite() || nanos.abs() >= i64::MAX as f64 {
            return Err(format!(
                "cannot parse {text:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(nanos as i64);
    }
    let invalid = || format!("cannot parse {text:?} to a valid duration");
    let mut rest = text;
    let mut next_unit = 0;
    let mut total_ms: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        let after = &rest[digits..];
        // "ms" before "m": the longer unit wins where both fit.
        let (index, unit, scale_ms) = DURATION_UNITS_MS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (unit, _))| after.starts_with(unit))
            .max_by_key(|(_, (unit, _))| unit.len())
            .map(|(index, (unit, scale))| (index, *unit, *scale))
            .ok_or_else(invalid)?;
        total_ms = number
            .checked_mul(scale_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(invalid)?;
        next_unit = index + 1;
        rest = &after[unit.len()..];
    }
    if text.is_empty() {
        return Err(invalid());
    }
    total_ms.checked_mul(1_000_000).ok_or_else(invalid)
}

/// Parses the `match[]` selectors into matcher sets: a series matches when it satisfies
/// every matcher of any set. A selector with `or` alternatives gives one set per alternative.
///
/// # Errors
/// [`Error::InvalidParameter`] for a selector that is not a plain series selector.
pub(crate) fn parse_matcher_sets<'a>(
    selectors: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Vec<Matcher>>, Error> {
    let mut sets = Vec::new();
    for text in selectors {
        let invalid = |reason: String| Error::invalid_parameter("match[]", reason);
        match parse_query(text).map_err(|error| invalid(error.to_string()))? {
            Expr::VectorSelector(selector)
                if selector.offset.is_none() && selector.at.is_none() =>
            {
                sets.extend(selector_matcher_sets(&selector));
            }
            _ => {
                return Err(invalid(format!(
                    "{text:?} is not a series selector like up{{job=\"api\"}}"
                )))
            }
        }
    }
    Ok(sets)
}

/// The matcher sets a vector selector stands for: its name and matchers, once per `or`
/// alternative.
pub(crate) fn selector_matcher_sets(selector: &VectorSelector) -> Vec<Vec<Matcher>> {
    let mut base = selector.matchers.matchers.clone();
    if let Some(name) = &selector.name {
        base.push(Matcher::new(MatchOp::Equal, METRIC_NAME_LABEL, name));
    }
    if selector.matchers.or_matchers.is_empty() {
        return vec![base];
    }
    selector
        .matchers
        .or_matchers
        .iter()
        .map(|alternative| {
            let mut set = base.clone();
            set.extend(alternative.iter().cloned());
            set
        })
        .collect()
}

/// Parses `limit` of the series and label endpoints: absent or 0 means no limit.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-integer or negative limit.
pub(crate) fn limit_param(params: &FormParams) -> Result<Option<usize>, Error> {
    let Some(text) = params.first("limit") else {
        return Ok(None);
    };
    let limit: i64 = text.parse().map_err(|_| {
        Error::invalid_parameter("limit", format!("cannot parse {text:?} as an integer"))
    })?;
    if limit < 0 {
        return Err(Error::invalid_parameter(
            "limit",
            "limit must be non-negative",
        ));
    }
    Ok(usize::try_from(limit).ok().filter(|limit| *limit > 0))
}

/// Helpers for the handlers' unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::api::form::decode_form;

    /// Parameters from form-encoded text.
    pub(crate) fn form(text: &str) -> FormParams {
        let mut pairs = Vec::new();
        decode_form(text.as_bytes(), &mut pairs).unwrap();
        FormParams(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::form::decode_form;

    fn decoded(text: &str) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        decode_form(text.as_bytes(), &mut pairs).unwrap();
        pairs
    }

    #[test]
    fn form_encoding_decodes_like_go() {
        assert_eq!(
            decoded("query=sum(rate(x%5B5m%5D))+by+(job)&match%5B%5D=up&flag&&empty="),
            vec![
                ("query".into(), "sum(rate(x[5m])) by (job)".into()),
                ("match[]".into(), "up".into()),
                ("flag".into(), String::new()),
                ("empty".into(), String::new()),
            ]
        );
        let mut pairs = Vec::new();
        assert!(decode_form(b"a=%zz", &mut pairs).is_err());
        assert!(decode_form(b"a=%f", &mut pairs).is_err());
        assert!(decode_form(b"a=%ff", &mut pairs).is_err());
    }

    #[test]
    fn first_value_wins_and_empty_is_absent() {
        let params = FormParams(decoded("time=1&time=2&query="));
        assert_eq!(params.first("time"), Some("1"));
        assert_eq!(params.first("query"), None);
        assert_eq!(params.all("time").collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn timestamps_as_float_seconds_or_rfc3339() {
        assert_eq!(parse_time_ms("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time_ms("1435781451"), Ok(1_435_781_451_000));
        assert_eq!(parse_time_ms("-1.5"), Ok(-1_500));
        assert_eq!(parse_time_ms("1e3"), Ok(1_000_000));
        assert_eq!(
            parse_time_ms("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time_ms("2015-07-01T22:10:51+02:00"),
            Ok(1_435_781_451_000)
        );
        assert_eq!(parse_time_ms(MIN_TIME_TEXT), Ok(MIN_TIME_MS));
        assert_eq!(parse_time_ms(MAX_TIME_TEXT), Ok(MAX_TIME_MS));
        for bad in ["", "now", "NaN", "inf", "1e300", "2015-07-01"] {
            assert_eq!(
                parse_time_ms(bad),
                Err(format!("cannot parse {bad:?} to a valid timestamp"))
            );
        }
    }

    #[test]
    fn durations_as_float_seconds_or_prometheus_syntax() {
        assert_eq!(parse_duration_nanos("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration_nanos("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration_nanos("-1"), Ok(-1_000_000_000));
        assert_eq!(parse_duration_nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration_nanos("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration_nanos("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration_nanos("1m500ms"), Ok(60_500_000_000));
        assert_eq!(parse_duration_nanos("1y"), Ok(31_536_000_000_000_000));
        for bad in [
            "",
            "1.5h",
            "m",
            "5x",
            "1s1h",
            "1m1m",
            "99999999999999999999s",
        ] {
            assert!(parse_duration_nanos(bad).is_err(), "{bad}");
        }
        assert!(parse_duration_nanos("1e30")
            .unwrap_err()
            .contains("overflows"));
    }

    #[test]
    fn matchers_from_selectors() {
        let sets = parse_matcher_sets(["up{job=\"api\"}", "{__name__=~\"go_.*\"}"]).unwrap();
        assert_eq!(sets.len(), 2);
        assert!(sets[0]
            .iter()
            .any(|m| m.name == "__name__" && m.value == "up"));
        for bad in ["up[5m]", "sum(up)", "up offset 1m", "", "{job=\"\"}"] {
            assert!(
                matches!(
                    parse_matcher_sets([bad]),
                    Err(Error::InvalidParameter {
                        name: "match[]",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits() {
        let params = |text: &str| FormParams(decoded(text));
        assert_eq!(limit_param(&params("")).unwrap(), None);
        assert_eq!(limit_param(&params("limit=0")).unwrap(), None);
        assert_eq!(limit_param(&params("limit=5")).unwrap(), Some(5));
        assert!(limit_param(&params("limit=-1")).is_err());
        assert!(limit_param(&params("limit=x")).is_err());
    }
}
