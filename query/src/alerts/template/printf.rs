//! Go's `fmt.Sprintf` for the `printf` function: the verbs, flags, width and precision alert
//! templates use, and Go's inline messages for a verb that does not fit its argument.

use std::fmt::Write as _;

use super::go_format::go_format_float;
use super::render::Value;

/// The largest width or precision `printf` honours, so a template cannot ask for huge output.
const MAX_PRINTF_WIDTH: usize = 10_000;

/// Go's `fmt.Sprintf` for the verbs alert templates use (`%v %s %q %d %t %f %F %e %E %g %G
/// %%`), with the flags `-+0`, a width and a precision. A verb that does not fit its argument,
/// and a missing or an extra argument, are written inline as Go does (`%!d(float64=0.5)`).
pub(super) fn go_sprintf(format: &str, args: &[Value<'_>]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut rest = format;
    while let Some(percent) = rest.find('%') {
        out.push_str(&rest[..percent]);
        let spec = &rest[percent + 1..];
        let (flags, spec) =
            spec.split_at(spec.find(|c| !"-+# 0".contains(c)).unwrap_or(spec.len()));
        let (width, spec) = leading_number(spec);
        let (precision, spec) = match spec.strip_prefix('.') {
            Some(spec) => {
                let (precision, spec) = leading_number(spec);
                (Some(precision.unwrap_or(0)), spec)
            }
            None => (None, spec),
        };
        let Some(verb) = spec.chars().next() else {
            out.push_str("%!(NOVERB)");
            return out;
        };
        rest = &spec[verb.len_utf8()..];
        if verb == '%' {
            out.push('%');
            continue;
        }
        let text = match args.next() {
            None => format!("%!{verb}(MISSING)"),
            Some(arg) => match format_verb(verb, precision, flags.contains('+'), arg) {
                Some(text) => pad(&text, flags, width.unwrap_or(0)),
                None => format!("%!{verb}({}={})", arg.type_name(), arg.to_go_string()),
            },
        };
        out.push_str(&text);
    }
    out.push_str(rest);
    let extra: Vec<String> = args
        .map(|arg| format!("{}={}", arg.type_name(), arg.to_go_string()))
        .collect();
    if !extra.is_empty() {
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
}

/// Reads a width or precision: digits at the start of `text`, capped.
fn leading_number(text: &str) -> (Option<usize>, &str) {
    let len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number = text[..len]
        .parse::<usize>()
        .ok()
        .map(|n| n.min(MAX_PRINTF_WIDTH));
    (number, &text[len..])
}

/// One verb's text before padding; `None` when the verb does not fit the argument.
fn format_verb(
    verb: char,
    precision: Option<usize>,
    plus: bool,
    arg: &Value<'_>,
) -> Option<String> {
    let text = match (verb, arg) {
        ('e' | 'E', Value::Float(number)) => go_format_float(*number, b'e', precision.or(Some(6))),
        ('f' | 'F', Value::Float(number)) => go_format_float(*number, b'f', precision.or(Some(6))),
        ('v' | 'g' | 'G', Value::Float(number)) => go_format_float(*number, b'g', precision),
        ('v' | 'd', Value::Int(number)) => number.to_string(),
        ('v' | 's', Value::Str(text)) => match precision {
            Some(precision) => text.chars().take(precision).collect(),
            None => text.clone(),
        },
        // Go's `strconv.Quote`, which Rust's escaping matches but for control characters.
        ('q', Value::Str(text)) => format!("{text:?}"),
        ('v' | 't', Value::Bool(_)) | ('v' | 's', Value::Map(_)) => arg.to_go_string(),
        _ => return None,
    };
    let text = if verb == 'E' || verb == 'G' {
        text.replace('e', "E")
    } else {
        text
    };
    let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
    Some(match plus && numeric && !text.starts_with(['-', '+']) {
        true => format!("+{text}"),
        false => text,
    })
}

/// Pads to `width`: spaces on the left, on the right with the `-` flag, or zeros after the
/// sign with the `0` flag (not for `Inf` and `NaN`), as Go does.
fn pad(text: &str, flags: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.chars().count());
    if flags.contains('-') {
        return format!("{text}{}", " ".repeat(fill));
    }
    if flags.contains('0') && !text.ends_with("Inf") && !text.ends_with("NaN") {
        let sign = usize::from(text.starts_with(['-', '+']));
        return format!("{}{}{}", &text[..sign], "0".repeat(fill), &text[sign..]);
    }
    format!("{}{text}", " ".repeat(fill))
}
