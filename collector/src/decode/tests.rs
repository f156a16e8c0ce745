use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use sightline_model::{AnyValue, SpanKind, StatusCode};

use super::*;

const LIMIT: u64 = 1024 * 1024;

fn decode_export_request(
    body: &[u8],
    format: BodyFormat,
) -> Result<ExportTraceServiceRequest, Error> {
    decode_request(body, format)
}

fn decode_http_body(
    body: &[u8],
    format: BodyFormat,
    encoding: BodyEncoding,
    max_body_size_bytes: u64,
) -> Result<DecodedSpans, Error> {
    decode_http_body_with(body, format, encoding, max_body_size_bytes, spans_from_otlp)
}

/// The spec's example (opentelemetry-proto `examples/trace.json`), extended with every
/// attribute type, an event, a link and a status.
const SPEC_EXAMPLE_JSON: &str = r#"{
  "resourceSpans": [{
    "resource": {
      "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }]
    },
    "scopeSpans": [{
      "scope": {
        "name": "my.library",
        "version": "1.0.0",
        "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }]
      },
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "kind": 2,
        "attributes": [
          { "key": "my.span.attr", "value": { "stringValue": "some value" } },
          { "key": "int", "value": { "intValue": "42" } },
          { "key": "int.number", "value": { "intValue": 7 } },
          { "key": "bool", "value": { "boolValue": true } },
          { "key": "double", "value": { "doubleValue": 1.5 } },
          { "key": "bytes", "value": { "bytesValue": "AQL/" } },
          { "key": "array", "value": { "arrayValue": { "values": [{ "intValue": "1" }, { "stringValue": "x" }] } } },
          { "key": "map", "value": { "kvlistValue": { "values": [{ "key": "k", "value": { "boolValue": false } }] } } }
        ],
        "events": [{ "timeUnixNano": "1544712660500000000", "name": "exception" }],
        "links": [{ "traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175" }],
        "status": { "code": 2, "message": "boom" }
      }]
    }]
  }]
}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn spec_request() -> ExportTraceServiceRequest {
    decode_export_request(SPEC_EXAMPLE_JSON.as_bytes(), BodyFormat::Json).unwrap()
}

#[test]
fn spec_example_json_decodes_with_hex_ids_string_ints_and_int_enums() {
    let decoded = decode_http_body(
        SPEC_EXAMPLE_JSON.as_bytes(),
        BodyFormat::Json,
        BodyEncoding::Identity,
        LIMIT,
    )
    .unwrap();
    assert_eq!(decoded.accepted_spans, 1);
    assert_eq!(decoded.rejected_spans, 0);
    let resource = &decoded.batch.resources[0];
    assert_eq!(resource.resource.service_name(), "my.service");
    assert_eq!(resource.scopes[0].scope.version, "1.0.0");
    let span = &resource.scopes[0].spans[0];
    assert_eq!(span.trace_id.to_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(span.span_id.to_hex(), "eee19b7ec3c1b174");
    assert_eq!(
        span.parent_span_id.map(|id| id.to_hex()).as_deref(),
        Some("eee19b7ec3c1b173")
    );
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.status_code, StatusCode::Error);
    assert_eq!(span.status_message, "boom");
    let values: Vec<&AnyValue> = span.attributes.iter().map(|kv| &kv.value).collect();
    assert_eq!(values[1], &AnyValue::Int(42));
    assert_eq!(values[2], &AnyValue::Int(7));
    assert_eq!(values[3], &AnyValue::Bool(true));
    assert_eq!(values[4], &AnyValue::Double(1.5));
    assert_eq!(values[5], &AnyValue::Bytes(vec![1, 2, 255]));
    assert!(matches!(values[6], AnyValue::Array(items) if items.len() == 2));
    assert!(matches!(values[7], AnyValue::KvList(pairs) if pairs[0].key == "k"));
    assert_eq!(span.events[0].time_unix_nano, 1_544_712_660_500_000_000);
    assert_eq!(span.links[0].span_id.to_hex(), "eee19b7ec3c1b175");
}

#[test]
fn protobuf_body_decodes() {
    let body = spec_request().encode_to_vec();
    let decoded =
        decode_http_body(&body, BodyFormat::Protobuf, BodyEncoding::Identity, LIMIT).unwrap();
    assert_eq!(decoded.accepted_spans, 1);
    let span = &decoded.batch.resources[0].scopes[0].spans[0];
    assert!(matches!(
        &span.attributes[0].value, AnyValue::String(text) if text == "some value"
    ));
}

#[test]
fn gzip_bodies_decode_in_both_formats() {
    let protobuf = gzip(&spec_request().encode_to_vec());
    let decoded =
        decode_http_body(&protobuf, BodyFormat::Protobuf, BodyEncoding::Gzip, LIMIT).unwrap();
    assert_eq!(decoded.accepted_spans, 1);
    let json = gzip(SPEC_EXAMPLE_JSON.as_bytes());
    let decoded = decode_http_body(&json, BodyFormat::Json, BodyEncoding::Gzip, LIMIT).unwrap();
    assert_eq!(decoded.accepted_spans, 1);
}

#[test]
fn gzip_bomb_is_refused_without_inflating_it_all() {
    // 64 MiB of zeros compresses to about 64 KiB; the limit stops inflation at 1 MiB + 1.
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let bomb = gzip(&zeros);
    drop(zeros);
    assert!(bomb.len() < 200 * 1024);
    let error =
        decode_http_body(&bomb, BodyFormat::Protobuf, BodyEncoding::Gzip, LIMIT).unwrap_err();
    assert!(matches!(
        error,
        Error::BodyTooLarge {
            which: "decompressed",
            limit_bytes: LIMIT
        }
    ));
    assert_eq!(error.class(), sightline_model::ErrorClass::TooLarge);
}

#[test]
fn corrupt_gzip_is_invalid_input() {
    let error =
        decode_http_body(b"not gzip", BodyFormat::Json, BodyEncoding::Gzip, LIMIT).unwrap_err();
    assert!(matches!(error, Error::Gzip { .. }), "{error}");
    assert_eq!(error.class(), sightline_model::ErrorClass::InvalidInput);
}

#[test]
fn content_types_and_encodings() {
    assert_eq!(
        BodyFormat::from_content_type(Some("application/json; charset=utf-8")).unwrap(),
        BodyFormat::Json
    );
    assert_eq!(
        BodyFormat::from_content_type(Some("Application/X-Protobuf")).unwrap(),
        BodyFormat::Protobuf
    );
    for bad in [
        None,
        Some("text/plain"),
        Some("application/protobuf"),
        Some(""),
    ] {
        let error = BodyFormat::from_content_type(bad).unwrap_err();
        assert_eq!(
            error.class(),
            sightline_model::ErrorClass::UnsupportedMediaType,
            "{bad:?}"
        );
    }
    assert_eq!(
        BodyEncoding::from_content_encoding(None).unwrap(),
        BodyEncoding::Identity
    );
    assert_eq!(
        BodyEncoding::from_content_encoding(Some("GZIP")).unwrap(),
        BodyEncoding::Gzip
    );
    let error = BodyEncoding::from_content_encoding(Some("br")).unwrap_err();
    assert_eq!(
        error.class(),
        sightline_model::ErrorClass::UnsupportedMediaType
    );
}

#[test]
fn bad_json_says_what_is_wrong() {
    let error = decode_export_request(
        br#"{"resourceSpans": [{"scopeSpans": 5}]}"#,
        BodyFormat::Json,
    )
    .unwrap_err();
    assert_eq!(error.class(), sightline_model::ErrorClass::InvalidInput);
    let message = error.to_string();
    assert!(
        message.starts_with("invalid OTLP/JSON ExportTraceServiceRequest"),
        "{message}"
    );
    assert!(message.contains("line 1"), "{message}");
    let error = decode_export_request(
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}"#,
        BodyFormat::Json,
    )
    .unwrap_err();
    assert!(matches!(error, Error::Json { .. }));
}

#[test]
fn bad_protobuf_is_invalid_input() {
    let error = decode_export_request(&[0xff, 0xff, 0xff], BodyFormat::Protobuf).unwrap_err();
    assert!(matches!(error, Error::Protobuf { .. }));
    assert_eq!(error.class(), sightline_model::ErrorClass::InvalidInput);
}

#[test]
fn invalid_spans_are_counted_not_fatal() {
    let mut request = spec_request();
    let mut bad = request.resource_spans[0].scope_spans[0].spans[0].clone();
    bad.trace_id = vec![0; 16];
    request.resource_spans[0].scope_spans[0].spans.push(bad);
    let decoded = decode_http_body(
        &request.encode_to_vec(),
        BodyFormat::Protobuf,
        BodyEncoding::Identity,
        LIMIT,
    )
    .unwrap();
    assert_eq!((decoded.accepted_spans, decoded.rejected_spans), (1, 1));
    assert_eq!(
        decoded.first_rejection.as_deref(),
        Some("span 1 of scope 'my.library': invalid trace id: id must not be all zeros")
    );
}

#[tokio::test]
async fn large_bodies_decode_on_the_blocking_pool() {
    let mut request = spec_request();
    let span = request.resource_spans[0].scope_spans[0].spans[0].clone();
    request.resource_spans[0].scope_spans[0].spans = (0..2000u32)
        .map(|index| {
            let mut span = span.clone();
            span.span_id = (u64::from(index) + 1).to_be_bytes().to_vec();
            span.attributes
                .push(opentelemetry_proto::tonic::common::v1::KeyValue {
                    key: "index".into(),
                    value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                        value: Some(Value::IntValue(i64::from(index))),
                    }),
                    key_strindex: 0,
                });
            span
        })
        .collect();
    let body = Bytes::from(request.encode_to_vec());
    assert!(body.len() > BLOCKING_DECODE_THRESHOLD_BYTES);
    let decoded = decode_http_body_off_reactor(
        body,
        BodyFormat::Protobuf,
        BodyEncoding::Identity,
        LIMIT * 16,
    )
    .await
    .unwrap();
    assert_eq!(decoded.accepted_spans, 2000);
}
