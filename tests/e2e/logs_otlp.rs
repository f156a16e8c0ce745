//! Real OpenTelemetry SDK log exporters (gRPC and HTTP/protobuf) against the real server,
//! searched through the native log API (words, phrases, boolean operators, attributes,
//! service and severity, paging, histogram, a trace's logs) and the Loki API, before and after
//! `kill -9`; plus unicode, a 1 MiB line, and bad input.

use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_otlp::{LogExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::Resource;
use serde_json::{json, Value as Json};

use crate::fixtures::now_nanos;
use crate::server::TestServer;

/// Records each exporter sends.
const RECORDS: usize = 30;
/// The trace the gRPC exporter's first records belong to.
const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

enum Transport {
    Grpc,
    HttpProtobuf,
}

/// Emits `RECORDS` records for `service` through a real SDK exporter and waits for the export.
fn send_logs(server: &TestServer, transport: Transport, service: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let exporter = match transport {
        Transport::Grpc => LogExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", server.grpc))
            .with_timeout(Duration::from_secs(10))
            .build(),
        Transport::HttpProtobuf => LogExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(server.otlp_url("/v1/logs"))
            .with_timeout(Duration::from_secs(10))
            .build(),
    }
    .expect("build exporter");
    let provider = SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .with_attribute(opentelemetry::KeyValue::new(
                    "deployment.environment",
                    "test",
                ))
                .build(),
        )
        .build();
    let logger = provider.logger("e2e-logger");
    let trace_id = TraceId::from_hex(TRACE_HEX).unwrap();
    for index in 0..RECORDS {
        let mut record = logger.create_log_record();
        record.set_timestamp(SystemTime::now());
        if index % 10 == 9 {
            record.set_severity_number(Severity::Error);
            record.set_severity_text("ERROR");
            record.set_body(AnyValue::from(format!(
                "payment {index} declined: connection refused by gateway"
            )));
        } else {
            record.set_severity_number(Severity::Info);
            record.set_severity_text("INFO");
            record.set_body(AnyValue::from(format!("order {index} paid by customer")));
        }
        record.add_attribute("order.id", index as i64);
        record.add_attribute("http.method", if index % 2 == 0 { "GET" } else { "POST" });
        if index < 3 {
            record.set_trace_context(trace_id, SpanId::from(index as u64 + 1), None);
        }
        logger.emit(record);
    }
    provider.force_flush().expect("export logs");
    provider.shutdown().expect("exporter shutdown");
}

fn get(server: &TestServer, path: &str, query: &[(&str, &str)]) -> (u16, Json) {
    let response = reqwest::blocking::Client::new()
        .get(server.url(path))
        .query(query)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text }));
    (status, body)
}

/// Searches and returns the records' bodies, asserting success.
fn search(server: &TestServer, query: &[(&str, &str)]) -> Vec<Json> {
    let (status, body) = get(server, "/api/v1/logs", query);
    assert_eq!(status, 200, "{query:?}: {body}");
    body["records"].as_array().cloned().unwrap()
}

fn count(server: &TestServer, query: &[(&str, &str)]) -> usize {
    let mut with_limit = query.to_vec();
    with_limit.push(("limit", "1000"));
    search(server, &with_limit).len()
}

fn check(server: &TestServer) {
    let total = 2 * RECORDS;
    assert_eq!(count(server, &[]), total);
    assert_eq!(count(server, &[("service", "checkout-grpc")]), RECORDS);
    assert_eq!(count(server, &[("q", "service:checkout-http")]), RECORDS);
    assert_eq!(count(server, &[("severity", "error")]), 6);
    assert_eq!(count(server, &[("q", "\"connection refused\"")]), 6);
    assert_eq!(count(server, &[("q", "declined OR \"order 4 paid\"")]), 8);
    assert_eq!(
        count(server, &[("q", "paid AND NOT http.method:get")]),
        2 * 12
    );
    assert_eq!(count(server, &[("q", "order.id:7")]), 2);
    assert_eq!(
        count(server, &[("q", "resource.deployment.environment:test")]),
        total
    );
    assert_eq!(count(server, &[("q", "nothing-matches-this")]), 0);

    // Newest first, each record once, pages joined by the cursor.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = get(
            server,
            "/api/v1/logs",
            &[("limit", "7"), ("cursor", cursor.as_str())],
        );
        assert_eq!(status, 200, "{body}");
        for record in body["records"].as_array().unwrap() {
            seen.push((
                record["time_unix_nano"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
                record["cursor"].as_str().unwrap().to_string(),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|pair| pair[0].0 >= pair[1].0));
    let unique: std::collections::HashSet<_> = seen.iter().map(|(_, cursor)| cursor).collect();
    assert_eq!(unique.len(), total);

    // A trace's logs, oldest first, with their ids in hex.
    let (status, body) = get(server, &format!("/api/v1/traces/{TRACE_HEX}/logs"), &[]);
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 6, "{body}");
    assert!(records.iter().all(|record| record["trace_id"] == TRACE_HEX));
    assert_eq!(records[0]["span_id"], "0000000000000001");

    // The histogram counts every match once.
    let (status, body) = get(
        server,
        "/api/v1/logs/histogram",
        &[("q", "paid"), ("buckets", "30")],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 2 * 27, "{body}");
    assert_eq!(body["buckets"].as_array().unwrap().len(), 30);

    // The same records through Loki's API.
    let now = now_nanos();
    let (status, body) = get(
        server,
        "/loki/api/v1/query_range",
        &[
            ("query", "{service_name=\"checkout-grpc\"} |= \"declined\""),
            ("start", &(now - 3_600_000_000_000).to_string()),
            ("end", &(now + 60_000_000_000).to_string()),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let lines: usize = body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| stream["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(lines, 3, "{body}");
}

fn post_logs(server: &TestServer, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let response = reqwest::blocking::Client::new()
        .post(server.otlp_url("/v1/logs"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

fn json_record(body: &str, trace_id: &str) -> Json {
    json!({
        "timeUnixNano": now_nanos().to_string(),
        "severityNumber": 9,
        "severityText": "INFO",
        "body": { "stringValue": body },
        "traceId": trace_id,
    })
}

fn json_request(service: &str, records: Vec<Json>) -> Vec<u8> {
    json!({ "resourceLogs": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": service } }] },
        "scopeLogs": [{ "scope": { "name": "raw" }, "logRecords": records }]
    }]})
    .to_string()
    .into_bytes()
}

#[test]
fn sdk_log_exporters_are_searchable_and_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(data.path(), &[]);
    send_logs(&server, Transport::Grpc, "checkout-grpc");
    send_logs(&server, Transport::HttpProtobuf, "checkout-http");
    check(&server);
    // Acknowledged records survive a crash, whether committed to the index or only in the WAL.
    server.kill9();
    let server = TestServer::start_in(data.path(), &[]);
    check(&server);
}

#[test]
fn unicode_long_lines_and_bad_input() {
    let server = TestServer::start();
    let long = "lorem ipsum ".repeat(90_000) + "needle-at-the-end";
    assert!(long.len() > 1 << 20);
    let (status, text) = post_logs(
        &server,
        "application/json",
        json_request(
            "unicode",
            vec![
                json_record("Ошибка: соединение разорвано 🚨 数据库超时", ""),
                json_record(&long, ""),
                // A trace id of the wrong length: this record is rejected, the others kept.
                json_record("bad trace id", "abcd"),
            ],
        ),
    );
    assert_eq!(status, 200, "{text}");
    let answer: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"]
            .to_string()
            .trim_matches('"'),
        "1",
        "{answer}"
    );
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("invalid trace id"));
    assert_eq!(count(&server, &[("q", "ошибка")]), 1);
    assert_eq!(count(&server, &[("q", "\"соединение разорвано\"")]), 1);
    let found = search(&server, &[("q", "\"needle at the end\"")]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["body"].as_str().unwrap().len(), long.len());
    assert_eq!(found[0]["body_type"], "string");
    assert_eq!(count(&server, &[("q", "bad")]), 0);

    // Bad input is answered, never stored.
    let (status, _) = post_logs(&server, "text/plain", b"hello".to_vec());
    assert_eq!(status, 415);
    let (status, _) = post_logs(&server, "application/json", b"{not json".to_vec());
    assert_eq!(status, 400);
    let (status, _) = post_logs(&server, "application/x-protobuf", vec![0xff, 0xff, 0xff]);
    assert_eq!(status, 400);
    for (name, value) in [
        ("q", "(unbalanced"),
        ("cursor", "not-a-cursor"),
        ("severity", "loud"),
        ("limit", "0"),
    ] {
        let (status, body) = get(&server, "/api/v1/logs", &[(name, value)]);
        assert_eq!(status, 400, "{name}={value}: {body}");
        assert!(body["error"].as_str().unwrap().contains(name), "{body}");
    }
    let (status, _) = get(&server, "/api/v1/traces/xyz/logs", &[]);
    assert_eq!(status, 400);
}
