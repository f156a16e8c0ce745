//! Prometheus' template functions: `humanize` and its variants, `toUpper`, `toLower` and
//! `title` with Go's case mapping, and `stripPort`.

use sightline_model::time::civil_from_days;

use super::go_format::go_format_float;

/// Go's `%.4g`, which Prometheus' humanize functions print numbers with.
pub(super) fn g4(value: f64) -> String {
    go_format_float(value, b'g', Some(4))
}

/// Divides by `base` while the magnitude is at least `base`, once per prefix; returns the
/// result and the last prefix used, as Prometheus' humanize loops do.
fn scale_down(mut value: f64, base: f64, prefixes: [&'static str; 8]) -> (f64, &'static str) {
    let mut prefix = "";
    for candidate in prefixes {
        if value.abs() < base {
            break;
        }
        (value, prefix) = (value / base, candidate);
    }
    (value, prefix)
}

/// Multiplies by 1000 while the magnitude is below 1, once per SI prefix milli to yocto.
fn scale_up(mut value: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for candidate in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if value.abs() >= 1.0 {
            break;
        }
        (value, prefix) = (value * 1000.0, candidate);
    }
    (value, prefix)
}

pub(super) fn humanize(value: f64) -> String {
    let (value, prefix) = if value == 0.0 || !value.is_finite() {
        (value, "")
    } else if value.abs() >= 1.0 {
        scale_down(value, 1000.0, ["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        scale_up(value)
    };
    format!("{}{prefix}", g4(value))
}

pub(super) fn humanize_1024(value: f64) -> String {
    let (value, prefix) = if value.abs() <= 1.0 || !value.is_finite() {
        (value, "")
    } else {
        scale_down(
            value,
            1024.0,
            ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
        )
    };
    format!("{}{prefix}", g4(value))
}

pub(super) fn humanize_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return g4(seconds);
    }
    if seconds.abs() < 1.0 {
        let (value, prefix) = if seconds == 0.0 {
            (seconds, "")
        } else {
            scale_up(seconds)
        };
        return format!("{}{prefix}s", g4(value));
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let whole = seconds.abs() as i64;
    let (days, hours, minutes) = (whole / 86_400, whole / 3600 % 24, whole / 60 % 60);
    let secs = whole % 60;
    if days != 0 {
        format!("{sign}{days}d {hours}h {minutes}m {secs}s")
    } else if hours != 0 {
        format!("{sign}{hours}h {minutes}m {secs}s")
    } else if minutes != 0 {
        format!("{sign}{minutes}m {secs}s")
    } else {
        format!("{sign}{}s", g4(seconds.abs()))
    }
}

/// Unix seconds as Go prints a UTC `time.Time`, truncated to milliseconds as Prometheus does:
/// `2015-06-23 13:19:44.128 +0000 UTC`.
pub(super) fn humanize_timestamp(seconds: f64) -> Result<String, String> {
    if !seconds.is_finite() {
        return Ok(g4(seconds));
    }
    let nanos = seconds * 1e9;
    if nanos >= i64::MAX as f64 || nanos < i64::MIN as f64 {
        let seconds = go_format_float(seconds, b'g', None);
        return Err(format!(
            "{seconds} cannot be represented as a nanoseconds timestamp"
        ));
    }
    let millis = nanos as i64 / 1_000_000;
    let (days, millis_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let secs = millis_of_day / 1000;
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
    if millis_of_day % 1000 != 0 {
        let fraction = format!(".{:03}", millis_of_day % 1000);
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    Ok(out)
}

/// Maps each char as Go's `unicode.ToUpper`/`ToLower` do: one char to one char, so a char
/// that Rust maps to several (`ß` → `SS`) stays as it is.
pub(super) fn map_chars<I: Iterator<Item = char>>(text: &str, map: fn(char) -> I) -> String {
    text.chars().map(|c| one_char(map(c), c)).collect()
}

fn one_char(mut mapped: impl Iterator<Item = char>, c: char) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
pub(super) fn go_title(text: &str) -> String {
    let is_separator = |c: char| match c.is_ascii() {
        true => !(c.is_ascii_alphanumeric() || c == '_'),
        false => !(c.is_alphabetic() || c.is_numeric()) && c.is_whitespace(),
    };
    let mut previous = ' ';
    let title = |c: char| {
        let mapped = if is_separator(previous) {
            one_char(c.to_uppercase(), c)
        } else {
            c
        };
        previous = c;
        mapped
    };
    text.chars().map(title).collect()
}

/// The host of `host:port` or `[host]:port` as Go's `net.SplitHostPort` finds it, else the
/// text unchanged (Prometheus' `stripPort`).
pub(super) fn strip_port(host_port: &str) -> &str {
    let Some(colon) = host_port.rfind(':') else {
        return host_port;
    };
    let (host, brackets_end) = match host_port.strip_prefix('[') {
        Some(rest) => match rest.find(']') {
            Some(close) if close + 2 == colon => (&rest[..close], close + 2),
            _ => return host_port,
        },
        None if host_port[..colon].contains(':') => return host_port,
        None => (&host_port[..colon], 0),
    };
    let stray_open = host_port[usize::from(brackets_end > 0)..].contains('[');
    if stray_open || host_port[brackets_end..].contains(']') {
        return host_port;
    }
    host
}
