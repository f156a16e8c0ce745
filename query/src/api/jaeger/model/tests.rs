use std::sync::Arc;

use serde_json::json;
use sightline_model::{AnyValue, Event, KeyValue, Link, Scope, SpanKind, StatusCode, TraceId};

use super::*;
use crate::trace::assemble_trace;
use crate::trace::fixtures::{id, row, TRACE};

#[test]
fn trace_id_drops_a_zero_high_half() {
    assert_eq!(
        jaeger_trace_id(&"d269b633813fc60c".parse().unwrap()),
        "d269b633813fc60c"
    );
    assert_eq!(jaeger_trace_id(&TRACE), "07070707070707070707070707070707");
}

#[test]
fn span_translates_like_the_otel_jaeger_translator() {
    let mut server = row("cart", 2, 1, 1_500_000, 3_750_999);
    server.scope = Arc::new(Scope {
        name: "io.otel.http".into(),
        version: "1.2".into(),
        ..Scope::default()
    });
    let span = &mut server.span;
    span.kind = SpanKind::Server;
    span.status_code = StatusCode::Error;
    span.status_message = "boom".into();
    span.trace_state = "k=v".into();
    span.flags = 0x101;
    span.attributes = vec![
        KeyValue::new("http.status_code", AnyValue::Int(500)),
        KeyValue::new("ratio", AnyValue::Double(0.5)),
        KeyValue::new("blob", AnyValue::Bytes(vec![1, 2, 3])),
        KeyValue::new(
            "list",
            AnyValue::Array(vec![AnyValue::Int(1), AnyValue::String("a".into())]),
        ),
    ];
    span.events = vec![Event {
        time_unix_nano: 2_000_999,
        name: "exception".into(),
        attributes: vec![KeyValue::new(
            "exception.message",
            AnyValue::String("x".into()),
        )],
        ..Event::default()
    }];
    span.links = vec![Link {
        trace_id: TraceId([9; 16]),
        span_id: id(4),
        ..Link::default()
    }];
    let trace = assemble_trace(vec![row("web", 1, 0, 1_000_000, 4_000_000), server]).unwrap();
    let json = serde_json::to_value(jaeger_trace(&trace)).unwrap();
    let span = &json["spans"][1];
    assert_eq!(
        *span,
        json!({
            "traceID": "07070707070707070707070707070707",
            "spanID": "0202020202020202",
            "flags": 1,
            "operationName": "op2",
            "references": [
                {"refType": "CHILD_OF", "traceID": "07070707070707070707070707070707", "spanID": "0101010101010101"},
                {"refType": "FOLLOWS_FROM", "traceID": "09090909090909090909090909090909", "spanID": "0404040404040404"},
            ],
            "startTime": 1500,
            "duration": 2250,
            "tags": [
                {"key": "otel.scope.name", "type": "string", "value": "io.otel.http"},
                {"key": "otel.scope.version", "type": "string", "value": "1.2"},
                {"key": "http.status_code", "type": "int64", "value": 500},
                {"key": "ratio", "type": "float64", "value": 0.5},
                {"key": "blob", "type": "binary", "value": "AQID"},
                {"key": "list", "type": "string", "value": "[1,\"a\"]"},
                {"key": "span.kind", "type": "string", "value": "server"},
                {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                {"key": "error", "type": "bool", "value": true},
                {"key": "otel.status_description", "type": "string", "value": "boom"},
                {"key": "w3c.tracestate", "type": "string", "value": "k=v"},
            ],
            "logs": [{"timestamp": 2000, "fields": [
                {"key": "event", "type": "string", "value": "exception"},
                {"key": "exception.message", "type": "string", "value": "x"},
            ]}],
            "processID": "p2",
            "warnings": null,
        })
    );
    assert_eq!(json["spans"][0]["references"], json!([]));
    assert_eq!(json["spans"][0]["processID"], "p1");
    assert_eq!(
        json["processes"]["p2"],
        json!({"serviceName": "cart", "tags": []})
    );
    assert_eq!(json["warnings"], serde_json::Value::Null);
}

#[test]
fn processes_are_shared_and_keep_resource_tags() {
    let mut first = row("web", 1, 0, 0, 10);
    let mut resource = (*first.resource).clone();
    resource
        .attributes
        .push(KeyValue::new("host.name", AnyValue::String("h1".into())));
    first.resource = Arc::new(resource);
    let mut second = row("web", 2, 1, 1, 5);
    second.resource = first.resource.clone();
    let json =
        serde_json::to_value(jaeger_trace(&assemble_trace(vec![first, second]).unwrap())).unwrap();
    assert_eq!(
        json["processes"],
        json!({"p1": {"serviceName": "web", "tags": [{"key": "host.name", "type": "string", "value": "h1"}]}})
    );
    assert_eq!(json["spans"][1]["processID"], "p1");
}

#[test]
fn orphans_and_skew_become_span_warnings() {
    let rows = vec![
        row("web", 1, 0, 1_000, 2_000),
        row("db", 2, 1, 900, 1_500),
        row("db", 3, 8, 0, 1),
    ];
    let json = serde_json::to_value(jaeger_trace(&assemble_trace(rows).unwrap())).unwrap();
    assert!(json["spans"][1]["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("clock skew"));
    assert_eq!(
        json["spans"][2]["warnings"],
        json!(["invalid parent span IDs=0808080808080808; skipping clock skew adjustment"])
    );
    assert_eq!(
        json["warnings"],
        json!(["1 spans reference a parent that was not received"])
    );
}

#[test]
fn link_to_parent_overrides_reference_type_and_child_of_links() {
    let mut child = row("web", 2, 1, 1, 5);
    child.span.links = vec![
        Link {
            trace_id: TRACE,
            span_id: id(1),
            attributes: vec![KeyValue::new(
                "opentracing.ref_type",
                AnyValue::String("follows_from".into()),
            )],
            ..Link::default()
        },
        Link {
            trace_id: TRACE,
            span_id: id(5),
            attributes: vec![KeyValue::new(
                "opentracing.ref_type",
                AnyValue::String("child_of".into()),
            )],
            ..Link::default()
        },
    ];
    let json = serde_json::to_value(jaeger_trace(
        &assemble_trace(vec![row("web", 1, 0, 0, 10), child]).unwrap(),
    ))
    .unwrap();
    let types: Vec<&str> = json["spans"][1]["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reference| reference["refType"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["FOLLOWS_FROM", "CHILD_OF"]);
}
