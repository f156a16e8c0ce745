use serde_json::json;
use sightline_model::{AnyValue, KeyValue, StatusCode};

use super::*;
use crate::trace::assemble_trace;
use crate::trace::fixtures::row;

#[test]
fn typed_values_keep_their_type() {
    let attributes = vec![
        KeyValue::new("s", AnyValue::String("x".into())),
        KeyValue::new("i", AnyValue::Int(-3)),
        KeyValue::new("d", AnyValue::Double(f64::NAN)),
        KeyValue::new("b", AnyValue::Bytes(vec![0xff, 0])),
        KeyValue::new("a", AnyValue::Array(vec![AnyValue::Bool(true)])),
        KeyValue::new(
            "m",
            AnyValue::KvList(vec![KeyValue::new("k", AnyValue::Empty)]),
        ),
    ];
    let json = serde_json::to_value(typed_key_values(&attributes)).unwrap();
    assert_eq!(
        json,
        json!([
            {"key": "s", "type": "string", "value": "x"},
            {"key": "i", "type": "int", "value": -3},
            {"key": "d", "type": "double", "value": "NaN"},
            {"key": "b", "type": "bytes", "value": "/wA="},
            {"key": "a", "type": "array", "value": [{"type": "bool", "value": true}]},
            {"key": "m", "type": "map", "value": [{"key": "k", "type": "empty"}]},
        ])
    );
}

#[test]
fn trace_json_has_tree_and_derived_facts() {
    let mut failing = row("db", 2, 1, 5, 30);
    failing.span.status_code = StatusCode::Error;
    failing.span.status_message = "timeout".into();
    let trace = assemble_trace(vec![
        row("api", 1, 0, 10, 40),
        failing,
        row("db", 3, 7, 12, 13),
    ])
    .unwrap();
    let json = serde_json::to_value(TraceJson::from_trace(&trace)).unwrap();
    assert_eq!(json["traceId"], "07070707070707070707070707070707");
    assert_eq!(json["startTimeUnixNano"], "5");
    assert_eq!(json["durationNanos"], 35);
    assert_eq!(json["rootServiceName"], "api");
    assert_eq!(json["rootSpanName"], "op1");
    assert_eq!(
        (json["spanCount"].clone(), json["errorCount"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(
        json["services"],
        json!([
            {"name": "api", "spanCount": 1, "errorCount": 0},
            {"name": "db", "spanCount": 2, "errorCount": 1},
        ])
    );
    let root = &json["spans"][0];
    assert_eq!(root["parentSpanId"], serde_json::Value::Null);
    assert_eq!(root["childSpanIds"], json!(["0202020202020202"]));
    assert_eq!(root["kind"], "unspecified");
    assert_eq!(
        root["resource"]["attributes"][0],
        json!({"key": "service.name", "type": "string", "value": "api"})
    );
    let child = &json["spans"][1];
    assert_eq!(child["depth"], 1);
    assert_eq!(
        child["status"],
        json!({"code": "error", "message": "timeout"})
    );
    assert_eq!(child["clockSkew"]["startsBeforeParentNanos"], 5);
    assert!(child["clockSkew"]["warning"]
        .as_str()
        .unwrap()
        .starts_with("clock skew"));
    assert_eq!(
        child["criticalPath"],
        json!([{"startTimeUnixNano": "10", "endTimeUnixNano": "30"}])
    );
    let orphan = &json["spans"][2];
    assert_eq!(orphan["orphan"], true);
    assert_eq!(orphan["criticalPath"], json!([]));
}

#[test]
fn summary_json() {
    let trace = assemble_trace(vec![row("api", 1, 0, 10, 40), row("db", 2, 1, 15, 30)]).unwrap();
    let json = serde_json::to_value(TraceSummaryJson::from_trace(&trace)).unwrap();
    assert_eq!(
        json,
        json!({
            "traceId": "07070707070707070707070707070707",
            "rootServiceName": "api",
            "rootSpanName": "op1",
            "startTimeUnixNano": "10",
            "durationNanos": 30,
            "spanCount": 2,
            "errorCount": 0,
            "services": [
                {"name": "api", "spanCount": 1, "errorCount": 0},
                {"name": "db", "spanCount": 1, "errorCount": 0},
            ],
        })
    );
}
