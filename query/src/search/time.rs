//! Humane time parameters: Go-style durations ("1.5s", "250us", "1h30m") and timestamps as
//! integers or RFC 3339 text.

use sightline_model::time::days_from_civil;

/// Nanoseconds per unit suffix, longest suffixes first so "ms" is not read as "m".
const DURATION_UNITS: [(&str, u64); 10] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

/// Parses a duration into nanoseconds: Go's `time.ParseDuration` syntax ("100ms", "1.5s",
/// "1h30m", units ns, us/µs, ms, s, m, h) plus "d" and "w" for lookbacks, or a plain integer
/// meaning milliseconds.
///
/// # Errors
/// A message saying what is wrong, for the caller to wrap with the parameter's name.
pub fn parse_duration_nanos(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let millis: u64 = text
            .parse()
            .map_err(|_| format!("duration {text:?} is too large"))?;
        return millis
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("duration {text:?} is too large"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(format!(
                "invalid duration {text:?}: expected a number like \"1.5s\""
            ));
        }
        let (unit, scale) = DURATION_UNITS
            .iter()
            .filter(|(unit, _)| after.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())
            .ok_or_else(|| {
                format!(
                    "invalid duration {text:?}: missing or unknown unit (use ns, us, ms, s, m, h)"
                )
            })?;
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        let nanos = value * *scale as f64;
        if !nanos.is_finite() || nanos >= u64::MAX as f64 {
            return Err(format!("duration {text:?} is too large"));
        }
        total = total
            .checked_add(nanos.round() as u64)
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
        rest = &after[unit.len()..];
    }
    Ok(total)
}

/// Parses a timestamp: an integer in `integer_unit_nanos` units (1 for nanoseconds, 1000 for
/// microseconds) or RFC 3339 text such as `2024-05-01T12:00:00.5Z`.
///
/// # Errors
/// A message saying what is wrong, for the caller to wrap with the parameter's name.
pub fn parse_timestamp_unix_nano(text: &str, integer_unit_nanos: u64) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u64 = text
            .parse()
            .map_err(|_| format!("timestamp {text:?} is too large"))?;
        return value
            .checked_mul(integer_unit_nanos)
            .ok_or_else(|| format!("timestamp {text:?} is too large"));
    }
    parse_rfc3339_unix_nano(text)
}

/// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) into unix nanoseconds.
fn parse_rfc3339_unix_nano(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!("invalid timestamp {text:?}: use unix time or RFC 3339 like 2024-05-01T12:00:00Z")
    };
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err(invalid());
    }
    let field = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = text.get(range).ok_or_else(invalid)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().map_err(|_| invalid())
        } else {
            Err(invalid())
        }
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|&(at, expected)| bytes[at] != expected)
    {
        return Err(invalid());
    }
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(invalid());
    }
    let mut rest = &text[19..];
    let mut fraction_nanos: i64 = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let kept = &after_dot[..digits.min(9)];
        fraction_nanos =
            kept.parse::<i64>().map_err(|_| invalid())? * 10_i64.pow(9 - kept.len() as u32);
        rest = &after_dot[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let hours: i64 = rest[1..3].parse().map_err(|_| invalid())?;
            let minutes: i64 = rest[4..6].parse().map_err(|_| invalid())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return Err(invalid()),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    if seconds < 0 {
        return Err(format!("timestamp {text:?} is before 1970"));
    }
    (seconds as u64)
        .checked_mul(1_000_000_000)
        .and_then(|nanos| nanos.checked_add(fraction_nanos as u64))
        .ok_or_else(|| format!("timestamp {text:?} is after 2554, beyond nanoseconds in 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_8_fuzz_far_future_timestamps_are_refused_not_overflowed() {
        // See: fuzz/regressions/search_parse (found by the search_parse fuzz target).
        let error = parse_rfc3339_unix_nano("6581-01-01T00:00:00Z").unwrap_err();
        assert!(error.contains("after 2554"), "{error}");
        assert!(parse_rfc3339_unix_nano("2554-01-01T00:00:00Z").is_ok());
    }

    #[test]
    fn go_style_durations() {
        assert_eq!(parse_duration_nanos("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration_nanos("250us"), Ok(250_000));
        assert_eq!(parse_duration_nanos("250µs"), Ok(250_000));
        assert_eq!(parse_duration_nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration_nanos("2d"), Ok(172_800_000_000_000));
        assert_eq!(parse_duration_nanos("7ns"), Ok(7));
    }

    #[test]
    fn plain_integers_are_milliseconds() {
        assert_eq!(parse_duration_nanos("250"), Ok(250_000_000));
    }

    #[test]
    fn bad_durations_are_rejected() {
        for bad in [
            "",
            "ms",
            "1.5",
            "-1s",
            "1x",
            "1.2.3s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration_nanos(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn integer_and_rfc3339_timestamps() {
        assert_eq!(
            parse_timestamp_unix_nano("1700000000000000000", 1),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp_unix_nano("1700000000000000", 1_000),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp_unix_nano("1970-01-01T00:00:01Z", 1),
            Ok(1_000_000_000)
        );
        assert_eq!(
            parse_timestamp_unix_nano("2023-11-14T22:13:20Z", 1),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp_unix_nano("2023-11-14T23:13:20.25+01:00", 1),
            Ok(1_700_000_000_250_000_000)
        );
        assert_eq!(
            parse_timestamp_unix_nano("2024-02-29t00:00:00.000000001z", 1),
            Ok(1_709_164_800_000_000_001)
        );
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_timestamp_unix_nano(bad, 1).is_err(), "{bad}");
        }
    }
}
