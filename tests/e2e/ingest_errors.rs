//! Bad input gets a clear 4xx (or OTLP partial success) and never harms the server or its data.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;

use crate::fixtures::{now_nanos, post_json, single_span, trace_id_hex};
use crate::server::TestServer;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn bad_requests_get_clear_errors_and_earlier_data_stays() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(temp.path(), &["--max-body-size-bytes", "65536"]);
    let client = reqwest::blocking::Client::new();
    let url = server.otlp_url("/v1/traces");
    let kept = trace_id_hex(10);
    assert_eq!(
        post_json(
            &client,
            &url,
            &single_span(&kept, "0102030405060708", "svc", "op", now_nanos())
        )
        .status(),
        200
    );

    let post = |content_type: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut request = client
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    };
    let (status, text) = post("application/json", None, b"{not json".to_vec());
    assert_eq!(status, 400, "malformed JSON: {text}");
    assert!(!text.is_empty(), "a 400 must say what is wrong");
    assert_eq!(
        post(
            "application/x-protobuf",
            None,
            vec![0xff, 0xff, 0xff, 0xff, 0x0f]
        )
        .0,
        400,
        "malformed protobuf"
    );
    assert_eq!(
        post("text/plain", None, b"hello".to_vec()).0,
        415,
        "wrong content type"
    );
    assert_eq!(
        post("application/json", Some("br"), b"{}".to_vec()).0,
        415,
        "unsupported encoding"
    );
    assert_eq!(
        post("application/json", None, vec![b' '; 70_000]).0,
        413,
        "body over the limit"
    );
    let bomb = gzip(&vec![b' '; 10 * 1024 * 1024]);
    assert!(bomb.len() < 65536);
    assert_eq!(
        post("application/json", Some("gzip"), bomb).0,
        413,
        "gzip bomb"
    );

    // A gzipped valid export is accepted.
    let zipped_trace = trace_id_hex(11);
    let body = single_span(&zipped_trace, "0102030405060708", "svc", "op", now_nanos()).to_string();
    assert_eq!(
        post("application/json", Some("gzip"), gzip(body.as_bytes())).0,
        200
    );

    // Invalid spans are rejected one by one with partial_success; valid ones are kept.
    let mut mixed = single_span(
        &trace_id_hex(12),
        "0102030405060708",
        "svc",
        "op",
        now_nanos(),
    );
    let mut bad_span = mixed["resourceSpans"][0]["scopeSpans"][0]["spans"][0].clone();
    bad_span["traceId"] = Value::String("00000000000000000000000000000000".into());
    mixed["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap()
        .push(bad_span);
    let response = post_json(&client, &url, &mixed);
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedSpans"]
            .to_string()
            .trim_matches('"'),
        "1",
        "{answer}"
    );
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{answer}"
    );

    for trace_id in [&kept, &zipped_trace] {
        let response = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "trace {trace_id} lost after bad requests"
        );
    }
    assert_eq!(
        client.get(server.url("/healthz")).send().unwrap().status(),
        200
    );
}
