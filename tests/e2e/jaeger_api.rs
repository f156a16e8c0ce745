//! The Jaeger query API, as the Jaeger UI and Grafana's Jaeger data source call it.

use serde_json::Value;

use crate::fixtures::{now_nanos, post_json, rich_trace, trace_id_hex};
use crate::server::TestServer;

fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::blocking::get(server.url(path)).unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}")),
    )
}

#[test]
fn services_operations_search_and_errors_have_jaeger_shapes() {
    let server = TestServer::start();
    let client = reqwest::blocking::Client::new();
    let trace_id = trace_id_hex(20);
    // A minute ago: a span that starts after the query's default end (now) is not found.
    let start = now_nanos() - 60_000_000_000;
    assert_eq!(
        post_json(
            &client,
            &server.otlp_url("/v1/traces"),
            &rich_trace(&trace_id, start)
        )
        .status(),
        200
    );

    let (status, services) = get(&server, "/jaeger/api/services");
    assert_eq!(status, 200);
    assert_eq!(
        services["data"],
        serde_json::json!(["checkout", "frontend"]),
        "{services}"
    );
    assert!(
        services.get("total").is_some() && services.get("errors").is_some(),
        "{services}"
    );

    let (_, operations) = get(&server, "/jaeger/api/services/frontend/operations");
    assert_eq!(operations["data"], serde_json::json!(["GET /cart"]));
    let (_, operations) = get(
        &server,
        "/jaeger/api/operations?service=checkout&spanKind=client",
    );
    assert_eq!(
        operations["data"],
        serde_json::json!([{"name": "POST /checkout", "spanKind": "client"}])
    );
    let (_, operations) = get(
        &server,
        "/jaeger/api/operations?service=checkout&spanKind=server",
    );
    assert_eq!(operations["data"], serde_json::json!([]));

    let start_micros = start / 1000 - 1_000_000;
    let end_micros = start / 1000 + 120_000_000;
    let search = |query: &str| -> Value {
        let (status, body) = get(
            &server,
            &format!("/jaeger/api/traces?{query}&start={start_micros}&end={end_micros}&limit=20"),
        );
        assert_eq!(status, 200, "{query}: {body}");
        body
    };
    let found = search("service=frontend");
    assert_eq!(found["data"][0]["traceID"], trace_id.as_str(), "{found}");
    assert_eq!(
        found["data"][0]["spans"].as_array().unwrap().len(),
        2,
        "search returns whole traces"
    );
    let tags = urlencode(r#"{"http.request.method":"GET"}"#);
    assert_eq!(
        search(&format!("service=frontend&tags={tags}"))["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let tags = urlencode(r#"{"http.request.method":"PUT"}"#);
    assert_eq!(
        search(&format!("service=frontend&tags={tags}"))["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        search("service=frontend&operation=GET%20%2Fcart&minDuration=10ms")["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        search("service=frontend&maxDuration=1ms")["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let (status, lookback) = get(&server, "/jaeger/api/traces?service=checkout&lookback=1h");
    assert_eq!(status, 200);
    assert_eq!(lookback["data"].as_array().unwrap().len(), 1, "{lookback}");

    let (status, missing) = get(&server, &format!("/jaeger/api/traces/{}", trace_id_hex(21)));
    assert_eq!(status, 404);
    assert_eq!(missing["errors"][0]["code"], 404, "{missing}");
    let (status, bad) = get(
        &server,
        "/jaeger/api/traces?service=frontend&minDuration=soon",
    );
    assert_eq!(status, 400, "{bad}");
    assert!(bad["errors"][0]["msg"].as_str().is_some(), "{bad}");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
