//! Go's float formatting, `strconv.FormatFloat` with the verbs `e`, `f` and `g`, which `%v`,
//! `printf`, the humanize functions and `format_value_go_e` share.

use std::fmt::Write as _;

/// Formats `value` as Go's `strconv.FormatFloat(value, verb, precision, 64)` does, for the
/// verbs `e`, `f` and `g`; `None` is Go's precision -1 (the fewest digits that read back the
/// same value). Go's `%v` of a float64 is `g` with `None`.
pub(super) fn go_format_float(value: f64, verb: u8, precision: Option<usize>) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let mut out = String::from(if value.is_sign_negative() { "-" } else { "" });
    if let (b'f', Some(precision)) = (verb, precision) {
        let _ = write!(out, "{:.*}", precision, value.abs());
        return out;
    }
    let (precision, significant) = match verb {
        b'e' => (precision, precision.map(|p| p + 1)),
        b'f' => (None, None),
        _ => (precision.map(|p| p.max(1)), precision.map(|p| p.max(1))),
    };
    let (digits, point) = decimal_digits(value, significant);
    let count = digits.len() as i64;
    let (point, exponent) = (i64::from(point), i64::from(point) - 1);
    // Go's %g is %e when the exponent is below -4 or at least the precision (6 for shortest).
    let limit = match precision {
        Some(p) if p as i64 > count && count >= point => count,
        Some(p) => p as i64,
        None => 6,
    };
    let fraction = match (verb, precision) {
        (b'e', Some(p)) => return fmt_e(out, &digits, exponent, p as i64),
        (b'e', None) => return fmt_e(out, &digits, exponent, count - 1),
        (b'f', _) => count - point,
        (_, _) if exponent < -4 || exponent >= limit => {
            let kept = precision.map_or(count, |p| (p as i64).min(count));
            return fmt_e(out, &digits, exponent, kept - 1);
        }
        (_, Some(p)) if p as i64 <= point => p as i64 - point,
        (_, _) => count - point,
    };
    fmt_f(out, &digits, point, fraction)
}

/// The decimal digits of finite `value`'s magnitude without trailing zeros, and the decimal
/// point's position: the magnitude is `0.d₁d₂… × 10^point`; zero has no digits. `significant`
/// rounds (half to even, as Go) to that many digits; `None` gives the shortest round-trip digits.
fn decimal_digits(value: f64, significant: Option<usize>) -> (Vec<u8>, i32) {
    if value == 0.0 {
        return (Vec::new(), 0);
    }
    let text = match significant {
        None => format!("{:e}", value.abs()),
        Some(count) => format!("{:.*e}", count.saturating_sub(1), value.abs()),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent.parse::<i32>().unwrap_or(0) + 1)
}

fn digit_at(digits: &[u8], index: i64) -> char {
    let digit = usize::try_from(index).ok().and_then(|i| digits.get(i));
    digit.map_or('0', |&d| char::from(d))
}

/// Go's `fmtE`: `d.ddde±dd` with `precision` digits after the point.
fn fmt_e(mut out: String, digits: &[u8], exponent: i64, precision: i64) -> String {
    out.push(digit_at(digits, 0));
    if precision > 0 {
        out.push('.');
        out.extend((1..=precision).map(|i| digit_at(digits, i)));
    }
    let exponent = if digits.is_empty() { 0 } else { exponent };
    let sign = if exponent < 0 { '-' } else { '+' };
    let _ = write!(out, "e{sign}{:02}", exponent.abs());
    out
}

/// Go's `fmtF`: `ddd.ddd` with `precision` digits after the point.
fn fmt_f(mut out: String, digits: &[u8], point: i64, precision: i64) -> String {
    if point > 0 {
        out.extend((0..point).map(|i| digit_at(digits, i)));
    } else {
        out.push('0');
    }
    if precision > 0 {
        out.push('.');
        out.extend((0..precision).map(|i| digit_at(digits, point + i)));
    }
    out
}
