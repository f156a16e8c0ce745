//! The server's own surface: /metrics, /healthz, /readyz, --help and configuration errors.

use std::process::Command;

use crate::fixtures::{now_nanos, post_json, single_span, trace_id_hex};
use crate::server::TestServer;

#[test]
fn metrics_count_ingest_wal_and_queries() {
    let server = TestServer::start();
    let client = reqwest::blocking::Client::new();
    assert_eq!(
        client.get(server.url("/healthz")).send().unwrap().status(),
        200
    );
    assert_eq!(
        client.get(server.url("/readyz")).send().unwrap().status(),
        200
    );
    let trace_id = trace_id_hex(30);
    let body = single_span(&trace_id, "0102030405060708", "metered", "op", now_nanos());
    assert_eq!(
        post_json(&client, &server.otlp_url("/v1/traces"), &body).status(),
        200
    );
    assert_eq!(
        client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for name in [
        "sightline_collector_spans_received_total",
        "sightline_wal_fsync_duration_seconds",
        "sightline_wal_bytes_written_total",
        "sightline_query_duration_seconds",
        "sightline_query_requests_total",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
}

#[test]
fn help_documents_flags_and_bad_config_is_one_clear_line() {
    let binary = env!("CARGO_BIN_EXE_sightline");
    let help = Command::new(binary).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--http-listen",
        "--otlp-grpc-listen",
        "--data-dir",
        "--retention-hours",
        "SIGHTLINE_DATA_DIR",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let bad = Command::new(binary)
        .args(["--otlp-grpc-listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("server.otlp_grpc_listen") && stderr.contains("nowhere"),
        "{stderr}"
    );
}
