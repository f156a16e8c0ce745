//! Loki's JSON shapes: `streams` (merged labels, or with `categorize-labels` stream labels
//! apart from each entry's structured metadata and parsed labels), `matrix` and `vector`
//! with `[<seconds>, "<value>"]` points, and the `stats` block.

use std::collections::HashMap;

use serde_json::{json, Map, Number, Value};
use sightline_model::Labels;

use crate::logql::pipeline::{Category, Row};
use crate::logql::{EvalStats, QueryResult};

/// Renders a query's answer: `{"status":"success","data":{"resultType":…,"result":…,
/// "stats":…}}`. `instant_unix_nano` is the time of a vector's samples.
pub(crate) fn render_query_result(
    result: &QueryResult,
    categorize: bool,
    stats: EvalStats,
    exec_seconds: f64,
    instant_unix_nano: u64,
) -> Value {
    let (result_type, result) = match result {
        QueryResult::Streams(rows) if categorize => ("streams", categorized_streams(rows)),
        QueryResult::Streams(rows) => ("streams", merged_streams(rows)),
        QueryResult::Vector(samples) => (
            "vector",
            samples
                .iter()
                .map(|(labels, value)| {
                    json!({"metric": labels_json(labels), "value": point(instant_unix_nano, *value)})
                })
                .collect(),
        ),
        QueryResult::Matrix(series) => (
            "matrix",
            series
                .iter()
                .map(|(labels, points)| {
                    let values: Vec<Value> =
                        points.iter().map(|(t, v)| point(*t, *v)).collect();
                    json!({"metric": labels_json(labels), "values": values})
                })
                .collect(),
        ),
    };
    let entries_returned = match result_type {
        "streams" => stats.post_filter_lines.min(entry_count(&result)),
        _ => 0,
    };
    let mut data = json!({
        "resultType": result_type,
        "result": result,
        "stats": stats_json(stats, exec_seconds, entries_returned),
    });
    if categorize && result_type == "streams" {
        data["encodingFlags"] = json!(["categorize-labels"]);
    }
    json!({"status": "success", "data": data})
}

fn entry_count(result: &[Value]) -> u64 {
    result
        .iter()
        .filter_map(|stream| stream.get("values").and_then(Value::as_array))
        .map(|values| values.len() as u64)
        .sum()
}

/// Groups rows into streams by all their labels, in order of first appearance.
fn merged_streams(rows: &[Row]) -> Vec<Value> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut streams: Vec<(Labels, Vec<Value>)> = Vec::new();
    for row in rows {
        let labels = row.all_labels();
        let at = *index.entry(labels.clone()).or_insert_with(|| {
            streams.push((labels, Vec::new()));
            streams.len() - 1
        });
        if let Some((_, values)) = streams.get_mut(at) {
            values.push(json!([row.timestamp_unix_nano.to_string(), row.line]));
        }
    }
    streams
        .into_iter()
        .map(|(labels, values)| json!({"stream": labels_json(&labels), "values": values}))
        .collect()
}

/// Groups rows into streams by their stream labels; each value carries its structured
/// metadata and parsed labels as a third element.
fn categorized_streams(rows: &[Row]) -> Vec<Value> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut streams: Vec<(Labels, Vec<Value>)> = Vec::new();
    for row in rows {
        let labels = row.labels_of(Category::Stream);
        let at = *index.entry(labels.clone()).or_insert_with(|| {
            streams.push((labels, Vec::new()));
            streams.len() - 1
        });
        let mut categories = Map::new();
        let metadata = row.labels_of(Category::Metadata);
        if !metadata.is_empty() {
            categories.insert("structuredMetadata".into(), labels_json(&metadata));
        }
        let parsed = row.labels_of(Category::Parsed);
        if !parsed.is_empty() {
            categories.insert("parsed".into(), labels_json(&parsed));
        }
        if let Some((_, values)) = streams.get_mut(at) {
            values.push(json!([
                row.timestamp_unix_nano.to_string(),
                row.line,
                Value::Object(categories)
            ]));
        }
    }
    streams
        .into_iter()
        .map(|(labels, values)| json!({"stream": labels_json(&labels), "values": values}))
        .collect()
}

/// Renders a label set as a JSON object.
pub(crate) fn labels_json(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
            .collect(),
    )
}

/// Renders a sample point: `[<unix seconds>, "<value>"]`, seconds as an integer when whole.
pub(crate) fn point(timestamp_unix_nano: u64, value: f64) -> Value {
    let seconds = if timestamp_unix_nano.is_multiple_of(1_000_000_000) {
        Value::Number(Number::from(timestamp_unix_nano / 1_000_000_000))
    } else {
        Number::from_f64(timestamp_unix_nano as f64 / 1e9).map_or(Value::Null, Value::Number)
    };
    json!([seconds, format_value(value)])
}

/// Formats a value as Go's `strconv.FormatFloat(v, 'f', -1, 64)` does, which Loki uses.
pub(crate) fn format_value(value: f64) -> String {
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

/// Loki's `stats` block, with the figures this engine knows.
fn stats_json(stats: EvalStats, exec_seconds: f64, entries_returned: u64) -> Value {
    let per_second = |amount: u64| {
        if exec_seconds > 0.0 {
            (amount as f64 / exec_seconds) as u64
        } else {
            0
        }
    };
    json!({
        "summary": {
            "bytesProcessedPerSecond": per_second(stats.bytes_processed),
            "linesProcessedPerSecond": per_second(stats.lines_processed),
            "totalBytesProcessed": stats.bytes_processed,
            "totalLinesProcessed": stats.lines_processed,
            "execTime": exec_seconds,
            "queueTime": 0.0,
            "subqueries": 0,
            "totalEntriesReturned": entries_returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": stats.post_filter_lines,
            "totalStructuredMetadataBytesProcessed": 0
        }
    })
}
