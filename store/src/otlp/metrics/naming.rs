//! Prometheus names for OTLP metrics and attributes: the "OTLP Metric points to Prometheus"
//! rules of the OpenTelemetry "Prometheus and OpenMetrics Compatibility" specification
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/>),
//! with Prometheus 3's default translation strategy (`UnderscoreEscapingWithSuffixes`).
//!
//! Metric names: every character outside `[a-zA-Z0-9:]` splits the name into tokens, which
//! are joined with single `_`s (so invalid characters become `_`, runs of `_` collapse, and
//! leading or trailing `_`s go). The unit's Prometheus form is appended unless the name
//! already holds it, then `_total` for monotonic counters and `_ratio` for gauges of unit
//! `1`; a name that starts with a digit gets a leading `_`.
//!
//! Label names: invalid characters become `_` and runs of `_` collapse, as the spec says.
//! A name that then starts with a digit or with `_` is prefixed with `key` (`key_` + digit),
//! as Prometheus does: names starting with `__` are reserved for Prometheus itself
//! (`__name__`), so an attribute can never produce one. Attributes whose names collide after
//! sanitising have their values joined with `;`, ordered by their original keys.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;

/// What an OTLP metric becomes, as far as its name's type suffixes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An OTLP gauge: gets `_ratio` when its unit is `1`.
    Gauge,
    /// A monotonic sum: gets `_total`.
    MonotonicCounter,
    /// Anything else (non-monotonic sums, histograms, summaries): no type suffix.
    Other,
}

/// OTLP (UCUM) units and their Prometheus words.
const MAIN_UNITS: &[(&str, &str)] = &[
    ("d", "days"),
    ("h", "hours"),
    ("min", "minutes"),
    ("s", "seconds"),
    ("ms", "milliseconds"),
    ("us", "microseconds"),
    ("ns", "nanoseconds"),
    ("By", "bytes"),
    ("KiBy", "kibibytes"),
    ("MiBy", "mebibytes"),
    ("GiBy", "gibibytes"),
    ("TiBy", "tebibytes"),
    ("KBy", "kilobytes"),
    ("MBy", "megabytes"),
    ("GBy", "gigabytes"),
    ("TBy", "terabytes"),
    ("m", "meters"),
    ("V", "volts"),
    ("A", "amperes"),
    ("J", "joules"),
    ("W", "watts"),
    ("g", "grams"),
    ("Cel", "celsius"),
    ("Hz", "hertz"),
    ("1", ""),
    ("%", "percent"),
];

/// The denominators of `a/b` units, in the singular (`requests/s` → `requests_per_second`).
const PER_UNITS: &[(&str, &str)] = &[
    ("s", "second"),
    ("m", "minute"),
    ("h", "hour"),
    ("d", "day"),
    ("w", "week"),
    ("mo", "month"),
    ("y", "year"),
];

/// Builds the Prometheus metric name of an OTLP metric (for histograms and summaries, the
/// family name before `_bucket`/`_sum`/`_count`). Returns `None` when nothing valid remains.
///
/// `http.server.duration` in `s` becomes `http_server_duration_seconds`; a monotonic
/// `requests` of unit `{request}` becomes `requests_total`; a gauge `memory.utilization` of
/// unit `1` becomes `memory_utilization_ratio`.
pub fn prometheus_metric_name(name: &str, unit: &str, kind: NameKind) -> Option<String> {
    let mut tokens: Vec<String> = split_metric_tokens(name);
    if tokens.is_empty() {
        return None;
    }
    let (main_unit, per_unit) = unit_suffixes(unit);
    for suffix in [main_unit, per_unit].into_iter().flatten() {
        let suffix_tokens = split_metric_tokens(&suffix);
        if !suffix_tokens.is_empty() && !contains_run(&tokens, &suffix_tokens) {
            tokens.extend(suffix_tokens);
        }
    }
    if kind == NameKind::MonotonicCounter {
        tokens.retain(|token| token != "total");
        tokens.push("total".to_string());
    }
    if kind == NameKind::Gauge && unit.trim() == "1" {
        tokens.retain(|token| token != "ratio");
        tokens.push("ratio".to_string());
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        Some(format!("_{joined}"))
    } else {
        Some(joined)
    }
}

/// Converts an OTLP unit into the words Prometheus uses in metadata: `ms` → `milliseconds`,
/// `By/s` → `bytes_per_second`, `{packet}` and `1` → empty.
pub fn prometheus_unit(unit: &str) -> String {
    let (main_unit, per_unit) = unit_suffixes(unit);
    [main_unit, per_unit]
        .into_iter()
        .flatten()
        .flat_map(|part| split_metric_tokens(&part))
        .collect::<Vec<_>>()
        .join("_")
}

/// Sanitises an attribute key into a Prometheus label name (see the module docs); `None`
/// when the key has no letter or digit at all.
pub fn sanitize_label_name(key: &str) -> Option<String> {
    if !key.chars().any(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut name = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        };
        if c == '_' && name.ends_with('_') {
            continue;
        }
        name.push(c);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "key_");
    } else if name.starts_with('_') {
        name.insert_str(0, "key");
    }
    Some(name)
}

/// Converts attributes into label pairs: names sanitised, values as text (see
/// [`attribute_value_text`]), keys that collide after sanitising merged into one label whose
/// values are joined with `;` in the order of the original keys. Sorted by label name.
pub fn attributes_to_label_pairs(attributes: &[proto_common::KeyValue]) -> Vec<(String, String)> {
    let mut by_name: BTreeMap<String, Vec<(&str, String)>> = BTreeMap::new();
    for attribute in attributes {
        if let Some(name) = sanitize_label_name(&attribute.key) {
            by_name.entry(name).or_default().push((
                attribute.key.as_str(),
                attribute_value_text(attribute.value.as_ref()),
            ));
        }
    }
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            if values.len() == 1 {
                let (_, value) = values.remove(0);
                return (name, value);
            }
            values.sort_by(|a, b| a.0.cmp(b.0));
            let joined = values
                .into_iter()
                .map(|(_, value)| value)
                .collect::<Vec<_>>()
                .join(";");
            (name, joined)
        })
        .collect()
}

/// Renders an attribute value as a label value, following the attribute spec's rules for
/// non-string values: booleans and numbers in their usual forms, bytes in base64, arrays and
/// maps as JSON, an empty value as the empty string (which Prometheus treats as absent).
pub fn attribute_value_text(value: Option<&proto_common::AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        None | Some(ProtoValue::StringValueStrindex(_)) => String::new(),
        Some(ProtoValue::StringValue(text)) => text.clone(),
        Some(ProtoValue::BoolValue(flag)) => flag.to_string(),
        Some(ProtoValue::IntValue(number)) => number.to_string(),
        Some(ProtoValue::DoubleValue(number)) => format_float(*number),
        Some(ProtoValue::BytesValue(bytes)) => base64_standard(bytes),
        Some(other) => attribute_value_json(Some(other)).to_string(),
    }
}

/// Formats a float the way Prometheus writes `le` and `quantile` values: the shortest decimal
/// that round-trips, never in exponent form, and `+Inf`, `-Inf`, `NaN`.
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        value.to_string()
    }
}

fn attribute_value_json(value: Option<&ProtoValue>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        None | Some(ProtoValue::StringValueStrindex(_)) => Value::Null,
        Some(ProtoValue::StringValue(text)) => Value::String(text.clone()),
        Some(ProtoValue::BoolValue(flag)) => Value::Bool(*flag),
        Some(ProtoValue::IntValue(number)) => Value::from(*number),
        Some(ProtoValue::DoubleValue(number)) => serde_json::Number::from_f64(*number)
            .map_or_else(|| Value::String(format_float(*number)), Value::Number),
        Some(ProtoValue::BytesValue(bytes)) => Value::String(base64_standard(bytes)),
        Some(ProtoValue::ArrayValue(array)) => Value::Array(
            array
                .values
                .iter()
                .map(|item| attribute_value_json(item.value.as_ref()))
                .collect(),
        ),
        Some(ProtoValue::KvlistValue(list)) => Value::Object(
            list.values
                .iter()
                .map(|kv| {
                    let value = kv.value.as_ref().and_then(|value| value.value.as_ref());
                    (kv.key.clone(), attribute_value_json(value))
                })
                .collect(),
        ),
    }
}

/// Splits a name or unit into the tokens of valid metric-name characters (`[a-zA-Z0-9:]`).
fn split_metric_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|token| !token.is_empty())
        .map(str::to_string)
        .collect()
}

/// Says whether `needle` occurs as a contiguous run of tokens in `haystack`.
fn contains_run(haystack: &[String], needle: &[String]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Splits a unit into its main part and its `per_…` part, in Prometheus' words. Parts in
/// curly braces (UCUM annotations such as `{request}`) are dropped.
fn unit_suffixes(unit: &str) -> (Option<String>, Option<String>) {
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main.trim(), Some(per.trim())),
        None => (unit.trim(), None),
    };
    let annotation = |part: &str| part.contains(['{', '}']);
    let main_unit = (!main.is_empty() && !annotation(main))
        .then(|| lookup(MAIN_UNITS, main).to_string())
        .filter(|word| !word.is_empty());
    let per_unit = per
        .filter(|per| !per.is_empty() && !annotation(per))
        .map(|per| format!("per_{}", lookup(PER_UNITS, per)));
    (main_unit, per_unit)
}

fn lookup<'a>(table: &[(&str, &'a str)], unit: &'a str) -> &'a str {
    table
        .iter()
        .find(|(otlp, _)| *otlp == unit)
        .map_or(unit, |(_, prometheus)| prometheus)
}

/// Standard base64 with padding (RFC 4648), for bytes attribute values.
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let triple = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (position, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if position <= chunk.len() {
                encoded.push(char::from(ALPHABET[((triple >> shift) & 0x3f) as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}
