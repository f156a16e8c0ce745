use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::resource::v1 as proto_resource;
use opentelemetry_proto::tonic::trace::v1 as proto_trace;
use proptest::prelude::*;
use prost::Message;

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
        kv("string", Some(ProtoValue::StringValue("text".into()))),
        kv("bool", Some(ProtoValue::BoolValue(true))),
        kv("int", Some(ProtoValue::IntValue(-42))),
        kv("double", Some(ProtoValue::DoubleValue(1.5))),
        kv("bytes", Some(ProtoValue::BytesValue(vec![0, 0xff, 7]))),
        kv(
            "array",
            Some(ProtoValue::ArrayValue(proto_common::ArrayValue {
                values: vec![
                    proto_common::AnyValue {
                        value: Some(ProtoValue::IntValue(1)),
                    },
                    proto_common::AnyValue { value: None },
                ],
            })),
        ),
        kv(
            "map",
            Some(ProtoValue::KvlistValue(proto_common::KeyValueList {
                values: vec![kv("nested", Some(ProtoValue::BoolValue(false)))],
            })),
        ),
    ]
}

fn valid_span(seed: u8) -> proto_trace::Span {
    proto_trace::Span {
        trace_id: vec![seed; 16],
        span_id: vec![seed; 8],
        trace_state: "vendor=1".into(),
        parent_span_id: vec![seed.wrapping_add(1); 8],
        flags: 0x301,
        name: format!("op{seed}"),
        kind: 3,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        attributes: every_value_type(),
        dropped_attributes_count: 1,
        events: vec![proto_trace::span::Event {
            time_unix_nano: 1_544_712_660_500_000_000,
            name: "exception".into(),
            attributes: every_value_type(),
            dropped_attributes_count: 2,
        }],
        dropped_events_count: 3,
        links: vec![proto_trace::span::Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            trace_state: "other=2".into(),
            attributes: every_value_type(),
            dropped_attributes_count: 4,
            flags: 1,
        }],
        dropped_links_count: 5,
        status: Some(proto_trace::Status {
            message: "boom".into(),
            code: 2,
        }),
    }
}

fn request(spans: Vec<proto_trace::Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![proto_trace::ResourceSpans {
            resource: Some(proto_resource::Resource {
                attributes: vec![kv(
                    "service.name",
                    Some(ProtoValue::StringValue("svc".into())),
                )],
                dropped_attributes_count: 6,
                entity_refs: Vec::new(),
            }),
            scope_spans: vec![proto_trace::ScopeSpans {
                scope: Some(proto_common::InstrumentationScope {
                    name: "x".into(),
                    version: "1.0".into(),
                    attributes: every_value_type(),
                    dropped_attributes_count: 7,
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
        }],
    }
}

fn round_trip(request: ExportTraceServiceRequest) -> (DecodedSpans, proto_trace::TracesData) {
    let decoded = spans_from_otlp(request);
    let encoded = spans_to_otlp(&decoded.batch);
    (decoded, encoded)
}

#[test]
fn round_trip_keeps_every_field_and_value_type() {
    let input = request(vec![valid_span(1), valid_span(2)]);
    let (decoded, encoded) = round_trip(input.clone());
    assert_eq!(decoded.accepted_spans, 2);
    assert_eq!(decoded.rejected_spans, 0);
    assert_eq!(decoded.first_rejection, None);
    let span = &decoded.batch.resources[0].scopes[0].spans[0];
    assert_eq!(span.attributes[5].value, AnyValue::Bytes(vec![0, 0xff, 7]));
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(encoded.resource_spans, input.resource_spans);
}

#[test]
fn root_span_has_no_parent() {
    let mut span = valid_span(1);
    span.parent_span_id.clear();
    let (decoded, encoded) = round_trip(request(vec![span.clone()]));
    assert_eq!(
        decoded.batch.resources[0].scopes[0].spans[0].parent_span_id,
        None
    );
    assert_eq!(encoded.resource_spans[0].scope_spans[0].spans[0], span);
}

#[test]
fn invalid_ids_are_rejected_and_counted() {
    let mut no_trace_id = valid_span(1);
    no_trace_id.trace_id.clear();
    let mut zero_span_id = valid_span(2);
    zero_span_id.span_id = vec![0; 8];
    let mut short_parent = valid_span(3);
    short_parent.parent_span_id = vec![1; 4];
    let mut long_trace_id = valid_span(4);
    long_trace_id.trace_id = vec![1; 17];
    let spans = vec![
        valid_span(5),
        no_trace_id,
        zero_span_id,
        short_parent,
        long_trace_id,
    ];
    let decoded = spans_from_otlp(request(spans));
    assert_eq!(decoded.accepted_spans, 1);
    assert_eq!(decoded.rejected_spans, 4);
    assert_eq!(decoded.batch.span_count(), 1);
    assert_eq!(
        decoded.first_rejection.as_deref(),
        Some("span 1 of scope 'x': invalid trace id: id must be 32 hex characters, got 0")
    );
    assert_eq!(decoded.rejected_by_reason.get("invalid_trace_id"), Some(&2));
    assert_eq!(decoded.rejected_by_reason.get("invalid_span_id"), Some(&1));
    assert_eq!(
        decoded.rejected_by_reason.get("invalid_parent_span_id"),
        Some(&1)
    );
}

#[test]
fn groups_left_empty_are_omitted() {
    let mut bad = valid_span(1);
    bad.span_id = vec![0; 8];
    let decoded = spans_from_otlp(request(vec![bad]));
    assert_eq!(decoded.rejected_spans, 1);
    assert!(decoded.batch.resources.is_empty());
}

#[test]
fn bad_link_ids_drop_the_link_not_the_span() {
    let mut span = valid_span(1);
    span.links[0].span_id = vec![1; 3];
    let decoded = spans_from_otlp(request(vec![span]));
    let span = &decoded.batch.resources[0].scopes[0].spans[0];
    assert!(span.links.is_empty());
    assert_eq!(span.dropped_links_count, 6);
}

#[test]
fn missing_resource_scope_and_status_decode_as_defaults() {
    let mut span = valid_span(1);
    span.status = None;
    let mut input = request(vec![span]);
    input.resource_spans[0].resource = None;
    input.resource_spans[0].scope_spans[0].scope = None;
    let decoded = spans_from_otlp(input);
    let resource_spans = &decoded.batch.resources[0];
    assert_eq!(resource_spans.resource.attributes, Vec::new());
    assert_eq!(resource_spans.scopes[0].scope.name, "");
    assert_eq!(
        resource_spans.scopes[0].spans[0].status_code,
        StatusCode::Unset
    );
}

fn value_strategy() -> impl Strategy<Value = proto_common::AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        "[a-z]{0,4}".prop_map(|text| Some(ProtoValue::StringValue(text))),
        any::<bool>().prop_map(|flag| Some(ProtoValue::BoolValue(flag))),
        any::<i64>().prop_map(|number| Some(ProtoValue::IntValue(number))),
        (-1e9f64..1e9).prop_map(|number| Some(ProtoValue::DoubleValue(number))),
        proptest::collection::vec(any::<u8>(), 0..4)
            .prop_map(|bytes| Some(ProtoValue::BytesValue(bytes))),
    ]
    .prop_map(|value| proto_common::AnyValue { value });
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(|values| {
                proto_common::AnyValue {
                    value: Some(ProtoValue::ArrayValue(proto_common::ArrayValue { values })),
                }
            }),
            proptest::collection::vec(("[a-z]{1,3}", inner), 0..3).prop_map(|pairs| {
                let values = pairs
                    .into_iter()
                    .map(|(key, value)| proto_common::KeyValue {
                        key,
                        value: Some(value),
                        key_strindex: 0,
                    })
                    .collect();
                proto_common::AnyValue {
                    value: Some(ProtoValue::KvlistValue(proto_common::KeyValueList {
                        values,
                    })),
                }
            }),
        ]
    })
}

fn attributes_strategy() -> impl Strategy<Value = Vec<proto_common::KeyValue>> {
    proptest::collection::vec(("[a-z.]{1,5}", value_strategy()), 0..3).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| proto_common::KeyValue {
                key,
                value: Some(value),
                key_strindex: 0,
            })
            .collect()
    })
}

fn nonzero_id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len)
        .prop_filter("not all zero", |id| id.iter().any(|byte| *byte != 0))
}

fn span_strategy() -> impl Strategy<Value = proto_trace::Span> {
    let ids = (
        nonzero_id(16),
        nonzero_id(8),
        prop_oneof![Just(Vec::new()), nonzero_id(8)],
    );
    let scalars = (
        any::<u32>(),
        0..6i32,
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        0..3i32,
    );
    let link = (
        nonzero_id(16),
        nonzero_id(8),
        attributes_strategy(),
        any::<u32>(),
    )
        .prop_map(
            |(trace_id, span_id, attributes, flags)| proto_trace::span::Link {
                trace_id,
                span_id,
                trace_state: "k=v".into(),
                attributes,
                dropped_attributes_count: flags % 3,
                flags,
            },
        );
    let event = (any::<u64>(), "[a-z]{0,3}", attributes_strategy()).prop_map(
        |(time_unix_nano, name, attributes)| proto_trace::span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count: 1,
        },
    );
    (
        ids,
        scalars,
        attributes_strategy(),
        proptest::collection::vec(event, 0..2),
        proptest::collection::vec(link, 0..2),
        "[a-z ]{0,4}",
    )
        .prop_map(
            |(
                (trace_id, span_id, parent),
                (flags, kind, start, end, dropped, code),
                attributes,
                events,
                links,
                text,
            )| {
                proto_trace::Span {
                    trace_id,
                    span_id,
                    trace_state: text.clone(),
                    parent_span_id: parent,
                    flags,
                    name: text.clone(),
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    dropped_attributes_count: dropped,
                    events,
                    dropped_events_count: dropped / 2,
                    links,
                    dropped_links_count: dropped / 3,
                    status: Some(proto_trace::Status {
                        message: text,
                        code,
                    }),
                }
            },
        )
}

fn request_strategy() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let scope_spans = (
        "[a-z]{0,3}",
        attributes_strategy(),
        proptest::collection::vec(span_strategy(), 1..3),
    )
        .prop_map(|(name, attributes, spans)| proto_trace::ScopeSpans {
            scope: Some(proto_common::InstrumentationScope {
                name: name.clone(),
                version: name.clone(),
                attributes,
                dropped_attributes_count: 2,
            }),
            spans,
            schema_url: name,
        });
    let resource_spans = (
        attributes_strategy(),
        proptest::collection::vec(scope_spans, 1..3),
    )
        .prop_map(|(attributes, scope_spans)| proto_trace::ResourceSpans {
            resource: Some(proto_resource::Resource {
                attributes,
                dropped_attributes_count: 3,
                entity_refs: Vec::new(),
            }),
            scope_spans,
            schema_url: "s".into(),
        });
    proptest::collection::vec(resource_spans, 0..3)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn otlp_model_otlp_round_trip(input in request_strategy()) {
        // Through the wire format too, so prost's view of the message is what is compared.
        let wire = input.encode_to_vec();
        let decoded_request = ExportTraceServiceRequest::decode(wire.as_slice())
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let (decoded, encoded) = round_trip(decoded_request);
        prop_assert_eq!(decoded.rejected_spans, 0);
        prop_assert_eq!(encoded.resource_spans, input.resource_spans);
    }
}
