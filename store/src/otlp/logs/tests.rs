use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::logs::v1 as proto_logs;
use opentelemetry_proto::tonic::resource::v1 as proto_resource;
use proptest::prelude::*;
use prost::Message;
use sightline_model::AnyValue;

use super::*;

fn kv(key: &str, value: Option<ProtoValue>) -> proto_common::KeyValue {
    proto_common::KeyValue {
        key: key.to_string(),
        value: Some(proto_common::AnyValue { value }),
        key_strindex: 0,
    }
}

fn every_value_type() -> Vec<proto_common::KeyValue> {
    vec![
        kv("empty", None),
        kv("string", Some(ProtoValue::StringValue("text ✓".into()))),
        kv("bool", Some(ProtoValue::BoolValue(true))),
        kv("int", Some(ProtoValue::IntValue(-42))),
        kv("double", Some(ProtoValue::DoubleValue(1.5))),
        kv("bytes", Some(ProtoValue::BytesValue(vec![0, 0xff, 7]))),
        kv(
            "map",
            Some(ProtoValue::KvlistValue(proto_common::KeyValueList {
                values: vec![kv("nested", Some(ProtoValue::BoolValue(false)))],
            })),
        ),
    ]
}

fn valid_record(seed: u8) -> proto_logs::LogRecord {
    proto_logs::LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000 + u64::from(seed),
        observed_time_unix_nano: 1_700_000_000_500_000_000,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(proto_common::AnyValue {
            value: Some(ProtoValue::StringValue(format!("payment {seed} failed"))),
        }),
        attributes: every_value_type(),
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: vec![seed; 16],
        span_id: vec![seed; 8],
        event_name: "checkout.failed".into(),
    }
}

fn request(records: Vec<proto_logs::LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![proto_logs::ResourceLogs {
            resource: Some(proto_resource::Resource {
                attributes: vec![kv(
                    "service.name",
                    Some(ProtoValue::StringValue("checkout".into())),
                )],
                dropped_attributes_count: 3,
                entity_refs: Vec::new(),
            }),
            scope_logs: vec![proto_logs::ScopeLogs {
                scope: Some(proto_common::InstrumentationScope {
                    name: "app".into(),
                    version: "2.0".into(),
                    attributes: every_value_type(),
                    dropped_attributes_count: 4,
                }),
                log_records: records,
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
        }],
    }
}

#[test]
fn round_trip_keeps_every_field_and_value_type() {
    let mut structured = valid_record(2);
    structured.body = Some(proto_common::AnyValue {
        value: Some(ProtoValue::KvlistValue(proto_common::KeyValueList {
            values: every_value_type(),
        })),
    });
    let mut no_body = valid_record(3);
    no_body.body = None;
    no_body.trace_id.clear();
    no_body.span_id.clear();
    let input = request(vec![valid_record(1), structured, no_body]);
    let decoded = logs_from_otlp(input.clone());
    assert_eq!(decoded.accepted_records, 3);
    assert_eq!(decoded.rejected_records, 0);
    let records = &decoded.batch.resources[0].scopes[0].logs;
    assert_eq!(
        records[0].body,
        Some(AnyValue::String("payment 1 failed".into()))
    );
    assert!(matches!(records[1].body, Some(AnyValue::KvList(_))));
    assert_eq!(records[2].body, None);
    assert_eq!(records[2].trace_id, None);
    assert_eq!(records[0].trace_id, Some(TraceId([1; 16])));
    let encoded = logs_to_otlp(&decoded.batch);
    assert_eq!(encoded.resource_logs, input.resource_logs);
}

#[test]
fn zero_ids_mean_no_trace_context() {
    let mut record = valid_record(1);
    record.trace_id = vec![0; 16];
    record.span_id = vec![0; 8];
    let decoded = logs_from_otlp(request(vec![record]));
    assert_eq!(decoded.accepted_records, 1);
    let stored = &decoded.batch.resources[0].scopes[0].logs[0];
    assert_eq!((stored.trace_id, stored.span_id), (None, None));
    let encoded = logs_to_otlp(&decoded.batch);
    let record = &encoded.resource_logs[0].scope_logs[0].log_records[0];
    assert!(record.trace_id.is_empty() && record.span_id.is_empty());
}

#[test]
fn invalid_ids_are_rejected_and_counted() {
    let mut short_trace = valid_record(1);
    short_trace.trace_id = vec![1; 3];
    let mut long_span = valid_record(2);
    long_span.span_id = vec![1; 9];
    let mut zero_short = valid_record(3);
    zero_short.trace_id = vec![0; 4];
    let decoded = logs_from_otlp(request(vec![
        valid_record(4),
        short_trace,
        long_span,
        zero_short,
    ]));
    assert_eq!(decoded.accepted_records, 1);
    assert_eq!(decoded.rejected_records, 3);
    assert_eq!(decoded.batch.record_count(), 1);
    assert_eq!(
        decoded.first_rejection.as_deref(),
        Some("log record 1 of scope 'app': invalid trace id: id must be 32 hex characters, got 6")
    );
    assert_eq!(decoded.rejected_by_reason.get("invalid_trace_id"), Some(&2));
    assert_eq!(decoded.rejected_by_reason.get("invalid_span_id"), Some(&1));
}

#[test]
fn groups_left_empty_are_omitted() {
    let mut bad = valid_record(1);
    bad.span_id = vec![1; 2];
    let decoded = logs_from_otlp(request(vec![bad]));
    assert_eq!(decoded.rejected_records, 1);
    assert!(decoded.batch.resources.is_empty());
}

#[test]
fn otlp_json_decodes_hex_ids() {
    let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
        "scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"1700000000000000000",
        "severityNumber":9,"severityText":"INFO","body":{"stringValue":"hello"},
        "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
    let request: ExportLogsServiceRequest = serde_json::from_str(json).unwrap();
    let decoded = logs_from_otlp(request);
    let record = &decoded.batch.resources[0].scopes[0].logs[0];
    assert_eq!(
        record.trace_id.map(|id| id.to_hex()).as_deref(),
        Some("5b8efff798038103d269b633813fc60c")
    );
    assert_eq!(record.severity_number, 9);
}

fn value_strategy() -> impl Strategy<Value = ProtoValue> {
    let leaf = prop_oneof![
        any::<String>().prop_map(ProtoValue::StringValue),
        any::<bool>().prop_map(ProtoValue::BoolValue),
        any::<i64>().prop_map(ProtoValue::IntValue),
        any::<f64>()
            .prop_filter("NaN never equals itself", |value| !value.is_nan())
            .prop_map(ProtoValue::DoubleValue),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(ProtoValue::BytesValue),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        proptest::collection::vec(("[a-z.]{1,6}", inner), 0..3).prop_map(|pairs| {
            ProtoValue::KvlistValue(proto_common::KeyValueList {
                values: pairs
                    .into_iter()
                    .map(|(key, value)| kv(&key, Some(value)))
                    .collect(),
            })
        })
    })
}

proptest! {
    /// Any valid record survives protobuf → model → protobuf unchanged.
    #[test]
    fn valid_records_round_trip(
        body in proptest::option::of(value_strategy()),
        attributes in proptest::collection::vec(("[a-z.]{1,8}", value_strategy()), 0..4),
        time in any::<u64>(),
        severity in 0i32..25,
        text in ".{0,8}",
        ids in proptest::option::of((any::<[u8; 16]>(), any::<[u8; 8]>())),
    ) {
        let record = proto_logs::LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time / 2,
            severity_number: severity,
            severity_text: text,
            body: body.map(|value| proto_common::AnyValue { value: Some(value) }),
            attributes: attributes.into_iter().map(|(key, value)| kv(&key, Some(value))).collect(),
            dropped_attributes_count: 0,
            flags: 0,
            trace_id: ids.map(|(trace, _)| trace.to_vec()).filter(|id| id.iter().any(|b| *b != 0)).unwrap_or_default(),
            span_id: ids.map(|(_, span)| span.to_vec()).filter(|id| id.iter().any(|b| *b != 0)).unwrap_or_default(),
            event_name: String::new(),
        };
        let input = request(vec![record]);
        let bytes = input.encode_to_vec();
        let decoded = logs_from_otlp(ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap());
        prop_assert_eq!(decoded.rejected_records, 0);
        prop_assert_eq!(logs_to_otlp(&decoded.batch).resource_logs, input.resource_logs);
    }
}
