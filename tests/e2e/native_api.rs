//! The native API: ingest over OTLP/JSON, read back losslessly as OTLP and as the UI's JSON.

use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

use crate::fixtures::{now_nanos, post_json, rich_trace, trace_id_hex};
use crate::server::TestServer;

/// Sorts resource groups and spans so two equal exports compare equal whatever their order.
fn normalized(mut data: TracesData) -> TracesData {
    for resource in &mut data.resource_spans {
        for scope in &mut resource.scope_spans {
            scope.spans.sort_by(|a, b| a.span_id.cmp(&b.span_id));
        }
    }
    data.resource_spans
        .sort_by_key(|resource| format!("{:?}", resource.resource));
    data
}

#[test]
fn otlp_json_export_round_trips_losslessly_and_survives_restart() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(temp.path(), &[]);
    let client = reqwest::blocking::Client::new();
    let trace_id = trace_id_hex(1);
    let sent = rich_trace(&trace_id, now_nanos());
    let response = post_json(&client, &server.otlp_url("/v1/traces"), &sent);
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().unwrap_or_default()
    );
    let expected: TracesData = normalized(serde_json::from_value(sent).unwrap());

    let check = |server: &TestServer| {
        let url = server.url(&format!("/api/v1/traces/{trace_id}?format=otlp"));
        let response = client.get(&url).send().unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let received: TracesData = serde_json::from_str(&response.text().unwrap()).unwrap();
        assert_eq!(
            normalized(received),
            expected,
            "OTLP/JSON export differs from what was sent"
        );

        let url = server.url(&format!("/api/v1/traces/{trace_id}"));
        let response = client
            .get(&url)
            .header("accept", "application/x-protobuf")
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let received = TracesData::decode(response.bytes().unwrap()).unwrap();
        assert_eq!(
            normalized(received),
            expected,
            "OTLP/protobuf export differs from what was sent"
        );
    };
    check(&server);
    // Graceful stop flushes the head to a Parquet part; the trace is then read from the part.
    assert!(server.terminate().success());
    let server = TestServer::start_in(temp.path(), &[]);
    check(&server);
}

#[test]
fn trace_view_has_tree_services_and_critical_path() {
    let server = TestServer::start();
    let client = reqwest::blocking::Client::new();
    let trace_id = trace_id_hex(2);
    let response = post_json(
        &client,
        &server.otlp_url("/v1/traces"),
        &rich_trace(&trace_id, now_nanos()),
    );
    assert_eq!(response.status(), 200);
    let trace: serde_json::Value = client
        .get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let text = trace.to_string();
    assert!(
        text.contains("frontend") && text.contains("checkout"),
        "{text}"
    );
    assert!(
        text.contains("1111111111111111") && text.contains("2222222222222222"),
        "{text}"
    );
    assert!(
        text.contains("critical") || text.contains("Critical"),
        "no critical path in {text}"
    );
}

#[test]
fn search_filters_by_service_attribute_duration_and_status() {
    let server = TestServer::start();
    let client = reqwest::blocking::Client::new();
    let trace_id = trace_id_hex(3);
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
    let search = |query: &str| -> String {
        let url = server.url(&format!("/api/v1/traces?{query}"));
        let response = client.get(&url).send().unwrap();
        assert_eq!(response.status(), 200, "{url}");
        response.text().unwrap()
    };
    assert!(search("service=frontend").contains(&trace_id));
    assert!(search("service=checkout&operation=POST%20%2Fcheckout").contains(&trace_id));
    assert!(search("attributes=http.route%3D%2Fcart%2F%7Bid%7D").contains(&trace_id));
    assert!(search("service=frontend&minDuration=40ms").contains(&trace_id));
    assert!(!search("service=frontend&minDuration=60ms").contains(&trace_id));
    assert!(search("status=error").contains(&trace_id));
    assert!(!search("service=nobody").contains(&trace_id));

    for bad in [
        "limit=abc",
        "minDuration=fast",
        "status=sad",
        "start=yesterday",
    ] {
        let response = client
            .get(server.url(&format!("/api/v1/traces?{bad}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    assert_eq!(
        client
            .get(server.url("/api/v1/traces/nothex"))
            .send()
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        client
            .get(server.url(&format!("/api/v1/traces/{}", trace_id_hex(99))))
            .send()
            .unwrap()
            .status(),
        404
    );
}
