//! OTLP/JSON payloads with every field set, and helpers to post them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Returns the current time in unix nanoseconds.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Returns a random-looking 32-hex-digit trace id derived from `seed`.
pub fn trace_id_hex(seed: u64) -> String {
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ now_nanos();
    format!("{:016x}{:016x}", mixed | 1, seed.wrapping_add(0xABCD))
}

/// A two-service trace (frontend → checkout) in OTLP/JSON, exercising every field: typed
/// attributes (string, bool, int, double, bytes, array, kvlist), events, links, status,
/// dropped counts, trace state, flags, resource and scope with schema URLs.
pub fn rich_trace(trace_id: &str, start: u64) -> Value {
    let attributes = json!([
        {"key": "http.request.method", "value": {"stringValue": "GET"}},
        {"key": "http.route", "value": {"stringValue": "/cart/{id}"}},
        {"key": "http.response.status_code", "value": {"intValue": "500"}},
        {"key": "cart.ratio", "value": {"doubleValue": 0.5}},
        {"key": "cart.cached", "value": {"boolValue": true}},
        {"key": "cart.token", "value": {"bytesValue": "AQID"}},
        {"key": "cart.items", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}},
        {"key": "cart.owner", "value": {"kvlistValue": {"values": [{"key": "id", "value": {"intValue": "7"}}]}}}
    ]);
    json!({
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "frontend"}},
                        {"key": "host.name", "value": {"stringValue": "web-1"}}
                    ],
                    "droppedAttributesCount": 1
                },
                "scopeSpans": [{
                    "scope": {"name": "frontend-lib", "version": "1.2.3",
                              "attributes": [{"key": "scope.attr", "value": {"stringValue": "x"}}]},
                    "spans": [{
                        "traceId": trace_id,
                        "spanId": "1111111111111111",
                        "traceState": "vendor=1",
                        "flags": 1,
                        "name": "GET /cart",
                        "kind": 2,
                        "startTimeUnixNano": start.to_string(),
                        "endTimeUnixNano": (start + 50_000_000).to_string(),
                        "attributes": attributes,
                        "droppedAttributesCount": 2,
                        "events": [{
                            "timeUnixNano": (start + 1_000_000).to_string(),
                            "name": "exception",
                            "attributes": [{"key": "exception.message", "value": {"stringValue": "boom"}}],
                            "droppedAttributesCount": 1
                        }],
                        "droppedEventsCount": 3,
                        "links": [{
                            "traceId": "0af7651916cd43dd8448eb211c80319c",
                            "spanId": "b7ad6b7169203331",
                            "traceState": "l=1",
                            "attributes": [{"key": "link.kind", "value": {"stringValue": "batch"}}],
                            "flags": 1
                        }],
                        "droppedLinksCount": 4,
                        "status": {"code": 2, "message": "cart service failed"}
                    }],
                    "schemaUrl": "https://opentelemetry.io/schemas/1.26.0"
                }],
                "schemaUrl": "https://opentelemetry.io/schemas/1.26.0"
            },
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                "scopeSpans": [{
                    "scope": {"name": "checkout-lib"},
                    "spans": [{
                        "traceId": trace_id,
                        "spanId": "2222222222222222",
                        "parentSpanId": "1111111111111111",
                        "name": "POST /checkout",
                        "kind": 3,
                        "startTimeUnixNano": (start + 5_000_000).to_string(),
                        "endTimeUnixNano": (start + 45_000_000).to_string(),
                        "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}}],
                        "status": {"code": 1}
                    }]
                }]
            }
        ]
    })
}

/// A one-span OTLP/JSON export for `service`.
pub fn single_span(trace_id: &str, span_id: &str, service: &str, name: &str, start: u64) -> Value {
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{
                "scope": {"name": "test"},
                "spans": [{
                    "traceId": trace_id,
                    "spanId": span_id,
                    "name": name,
                    "kind": 2,
                    "startTimeUnixNano": start.to_string(),
                    "endTimeUnixNano": (start + 1_000_000).to_string()
                }]
            }]
        }]
    })
}

/// Posts an OTLP/JSON export and returns the response.
pub fn post_json(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &Value,
) -> reqwest::blocking::Response {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("post OTLP/JSON")
}
