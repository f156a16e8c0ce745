//! Prometheus' duration syntax (`model.Duration`), as rule files and the rules API write it:
//! integers with units `y`, `w`, `d`, `h`, `m`, `s`, `ms`, largest first (`"1h30m"`, `"5m"`,
//! `"250ms"`, `"0s"`; a bare `"0"` too).

use std::time::Duration;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a Prometheus duration.
///
/// # Errors
/// What is wrong, in words.
pub fn parse_prometheus_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as \"30s\", \"5m\" or \"1h30m\"");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut next_unit = 0;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let amount: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let after = &rest[digits..];
        let letters = after
            .bytes()
            .take_while(|byte| byte.is_ascii_alphabetic())
            .count();
        let unit = &after[..letters];
        let position = UNITS[next_unit..]
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(invalid)?;
        let millis_per_unit = UNITS[next_unit + position].1;
        next_unit += position + 1;
        total_ms = amount
            .checked_mul(millis_per_unit)
            .and_then(|millis| total_ms.checked_add(millis))
            .ok_or_else(invalid)?;
        rest = &after[letters..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration as Prometheus does (`"1h30m"`, `"5m"`, `"250ms"`, `"0s"`).
pub fn format_prometheus_duration(duration: Duration) -> String {
    let mut millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return "0s".to_string();
    }
    let mut text = String::new();
    for (name, size) in UNITS {
        if millis >= size {
            text.push_str(&format!("{}{name}", millis / size));
            millis %= size;
        }
    }
    text
}

/// Serde helpers for optional duration strings in definitions.
pub(crate) fn parse_optional(
    field: &'static str,
    text: Option<&str>,
    default: Duration,
    problems: &mut Vec<String>,
) -> Duration {
    match text {
        None => default,
        Some(text) => parse_prometheus_duration(text).unwrap_or_else(|message| {
            problems.push(format!("{field}: {message}"));
            default
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_format_as_prometheus_writes_them() {
        for (text, millis, formatted) in [
            ("0", 0, "0s"),
            ("0s", 0, "0s"),
            ("250ms", 250, "250ms"),
            ("90s", 90_000, "1m30s"),
            ("1h30m", 5_400_000, "1h30m"),
            ("1d", 86_400_000, "1d"),
            ("2w1d", 15 * 86_400_000, "2w1d"),
        ] {
            let parsed = parse_prometheus_duration(text).unwrap();
            assert_eq!(parsed, Duration::from_millis(millis), "{text}");
            assert_eq!(format_prometheus_duration(parsed), formatted, "{text}");
        }
        for bad in ["", "5", "m", "1.5m", "5m1h", "1x", "-1s", "1m1m"] {
            assert!(parse_prometheus_duration(bad).is_err(), "{bad}");
        }
    }
}
