//! Prometheus' JSON, written by hand where its shape is not plain serde: query results (sample
//! values as strings, `"+Inf"`, `"NaN"`; timestamps as unix seconds with millisecond
//! decimals, as Prometheus' `jsonutil` writes them), label sets and exemplars, and the
//! `{"status":"success","data":…}` envelope around any data.

use std::collections::BTreeMap;

use sightline_model::{Exemplar, Labels};

use crate::promql::{Sample, Series, Value};

/// Wraps already encoded `data` in the success envelope, with `warnings` when any.
pub(crate) fn success_envelope(data: &[u8], warnings: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(br#"{"status":"success","data":"#);
    out.extend_from_slice(data);
    if !warnings.is_empty() {
        out.extend_from_slice(br#","warnings":["#);
        for (i, warning) in warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_string(&mut out, warning);
        }
        out.push(b']');
    }
    out.push(b'}');
    out
}

/// Encodes a query result as `{"resultType": …, "result": …}`; `time_ms` stamps scalars and
/// strings.
pub(crate) fn query_data(value: &Value, time_ms: i64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(br#"{"resultType":"#);
    match value {
        Value::Scalar {
            timestamp_ms,
            value,
        } => {
            out.extend_from_slice(br#""scalar","result":"#);
            push_point(&mut out, *timestamp_ms, *value);
        }
        Value::String(text) => {
            out.extend_from_slice(br#""string","result":["#);
            push_timestamp(&mut out, time_ms);
            out.push(b',');
            push_string(&mut out, text);
            out.push(b']');
        }
        Value::Vector(vector) => {
            out.extend_from_slice(br#""vector","result":"#);
            push_vector(&mut out, vector);
        }
        Value::Matrix(matrix) => {
            out.extend_from_slice(br#""matrix","result":"#);
            push_matrix(&mut out, matrix);
        }
    }
    out.push(b'}');
    out
}

fn push_vector(out: &mut Vec<u8>, vector: &[Sample]) {
    out.push(b'[');
    for (i, sample) in vector.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"metric":"#);
        push_labels(out, &sample.labels);
        out.extend_from_slice(br#","value":"#);
        push_point(out, sample.timestamp_ms, sample.value);
        out.push(b'}');
    }
    out.push(b']');
}

fn push_matrix(out: &mut Vec<u8>, matrix: &[Series]) {
    out.push(b'[');
    for (i, series) in matrix.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"metric":"#);
        push_labels(out, &series.labels);
        out.extend_from_slice(br#","values":["#);
        for (j, (timestamp_ms, value)) in series.points.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_point(out, *timestamp_ms, *value);
        }
        out.extend_from_slice(b"]}");
    }
    out.push(b']');
}

/// Encodes a list of label sets (the `series` endpoint).
pub(crate) fn label_sets(sets: &[Labels]) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'[');
    for (i, labels) in sets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_labels(&mut out, labels);
    }
    out.push(b']');
    out
}

/// Encodes a list of strings (label names or values).
pub(crate) fn strings(values: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(&mut out, value);
    }
    out.push(b']');
    out
}

/// Encodes exemplars grouped by series:
/// `[{"seriesLabels":{…},"exemplars":[{"labels":{…},"value":"6","timestamp":1600096945.479}]}]`.
pub(crate) fn exemplars(by_series: &BTreeMap<Labels, Vec<Exemplar>>) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'[');
    for (i, (series, exemplars)) in by_series.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"seriesLabels":"#);
        push_labels(&mut out, series);
        out.extend_from_slice(br#","exemplars":["#);
        for (j, exemplar) in exemplars.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"labels":"#);
            push_labels(&mut out, &exemplar_labels(exemplar));
            out.extend_from_slice(br#","value":"#);
            push_sample_value(&mut out, exemplar.value);
            out.extend_from_slice(br#","timestamp":"#);
            push_timestamp(&mut out, exemplar.timestamp_ms);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.push(b']');
    out
}

/// An exemplar's labels, with `trace_id` and `span_id` added from its typed ids when its
/// labels lack them (Grafana links exemplars to traces by such a label).
fn exemplar_labels(exemplar: &Exemplar) -> Labels {
    let mut labels = exemplar.labels.clone();
    if let Some(trace_id) = &exemplar.trace_id {
        if labels.get("trace_id").is_none() {
            labels.set("trace_id", trace_id.to_string());
        }
    }
    if let Some(span_id) = &exemplar.span_id {
        if labels.get("span_id").is_none() {
            labels.set("span_id", span_id.to_string());
        }
    }
    labels
}

/// `[<unix seconds>, "<value>"]`.
fn push_point(out: &mut Vec<u8>, timestamp_ms: i64, value: f64) {
    out.push(b'[');
    push_timestamp(out, timestamp_ms);
    out.push(b',');
    push_sample_value(out, value);
    out.push(b']');
}

/// Writes ms as unix seconds with up to three decimals, exactly (no float rounding):
/// `1435781451.781`, `1435781451`, `-0.5`.
pub(crate) fn push_timestamp(out: &mut Vec<u8>, timestamp_ms: i64) {
    let negative = timestamp_ms < 0;
    let magnitude = timestamp_ms.unsigned_abs();
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice((magnitude / 1000).to_string().as_bytes());
    let fraction = magnitude % 1000;
    if fraction != 0 {
        out.extend_from_slice(format!(".{fraction:03}").as_bytes());
    }
}

/// Writes a sample value as a JSON string, as Go's `FormatFloat(v, 'f', -1, 64)` does:
/// shortest digits that round-trip, no exponent; `+Inf`, `-Inf`, `NaN`.
fn push_sample_value(out: &mut Vec<u8>, value: f64) {
    out.push(b'"');
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if value == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        out.extend_from_slice(value.to_string().as_bytes());
    }
    out.push(b'"');
}

/// Formats a sample value as Prometheus does (see [`push_sample_value`]).
#[cfg(test)]
fn sample_value_text(value: f64) -> String {
    let mut out = Vec::new();
    push_sample_value(&mut out, value);
    String::from_utf8_lossy(&out[1..out.len() - 1]).into_owned()
}

/// `{"name":"value",…}` in label order.
fn push_labels(out: &mut Vec<u8>, labels: &Labels) {
    out.push(b'{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, name);
        out.push(b':');
        push_string(out, value);
    }
    out.push(b'}');
}

/// Writes a JSON string literal.
fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut buffer = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use sightline_model::TraceId;

    use super::*;

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn values_are_strings_like_go_formats_them() {
        assert_eq!(sample_value_text(1.5), "1.5");
        assert_eq!(sample_value_text(2.0), "2");
        assert_eq!(sample_value_text(-0.0), "-0");
        assert_eq!(sample_value_text(1e21), "1000000000000000000000");
        assert_eq!(sample_value_text(1e-7), "0.0000001");
        assert_eq!(sample_value_text(f64::INFINITY), "+Inf");
        assert_eq!(sample_value_text(f64::NEG_INFINITY), "-Inf");
        assert_eq!(sample_value_text(f64::NAN), "NaN");
    }

    #[test]
    fn timestamps_are_exact_seconds() {
        let text = |ms| {
            let mut out = Vec::new();
            push_timestamp(&mut out, ms);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(1_435_781_451_781), "1435781451.781");
        assert_eq!(text(1_435_781_451_000), "1435781451");
        assert_eq!(text(1_435_781_451_050), "1435781451.050");
        assert_eq!(text(-500), "-0.500");
        assert_eq!(text(0), "0");
        assert_eq!(text(i64::MIN), "-9223372036854775.808");
    }

    #[test]
    fn query_results_have_prometheus_shapes() {
        let labels = Labels::new([("__name__", "up"), ("job", "a\"b\n")]);
        let vector = Value::Vector(vec![Sample::new(labels.clone(), 1_500, 1.0)]);
        assert_eq!(
            json(&query_data(&vector, 1_500)),
            serde_json::json!({"resultType": "vector", "result": [
                {"metric": {"__name__": "up", "job": "a\"b\n"}, "value": [1.5, "1"]}
            ]})
        );
        let matrix = Value::Matrix(vec![Series::new(
            labels,
            vec![(0, 1.0), (15_000, f64::NAN)],
        )]);
        assert_eq!(
            json(&query_data(&matrix, 0))["result"][0]["values"],
            serde_json::json!([[0, "1"], [15, "NaN"]])
        );
        let scalar = Value::Scalar {
            timestamp_ms: 2_000,
            value: 2.0,
        };
        assert_eq!(
            json(&query_data(&scalar, 2_000)),
            serde_json::json!({"resultType": "scalar", "result": [2, "2"]})
        );
        let string = Value::String("hi".into());
        assert_eq!(
            json(&query_data(&string, 2_000)),
            serde_json::json!({"resultType": "string", "result": [2, "hi"]})
        );
    }

    #[test]
    fn envelope_carries_warnings_only_when_any() {
        assert_eq!(
            json(&success_envelope(b"[]", &[])),
            serde_json::json!({"status": "success", "data": []})
        );
        assert_eq!(
            json(&success_envelope(b"1", &["results truncated".into()]))["warnings"],
            serde_json::json!(["results truncated"])
        );
    }

    #[test]
    fn exemplars_name_their_trace() {
        let mut by_series = BTreeMap::new();
        by_series.insert(
            Labels::new([("__name__", "latency_bucket")]),
            vec![Exemplar {
                labels: Labels::default(),
                timestamp_ms: 1_600_096_945_479,
                value: 6.0,
                trace_id: Some(TraceId([1; 16])),
                span_id: None,
            }],
        );
        let encoded = json(&exemplars(&by_series));
        assert_eq!(
            encoded[0]["exemplars"][0],
            serde_json::json!({
                "labels": {"trace_id": "01010101010101010101010101010101"},
                "value": "6",
                "timestamp": 1600096945.479
            })
        );
        assert_eq!(encoded[0]["seriesLabels"]["__name__"], "latency_bucket");
    }
}
