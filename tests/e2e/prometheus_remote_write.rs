//! A real Prometheus (`/usr/bin/prometheus`, Debian package `prometheus`) scrapes itself every
//! second and remote-writes to a real sightline; the series must then be queryable through
//! sightline's Prometheus HTTP API.
//!
//! Prometheus is not skipped when missing: the test fails and says how to install it
//! (`.ci/run` installs it on CI).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::ExternalProcess;
use crate::server::TestServer;

/// Where the Debian package installs Prometheus.
const PROMETHEUS_BINARY: &str = "/usr/bin/prometheus";
/// How long Prometheus may take to become ready, and then its samples to arrive.
const WAIT: Duration = Duration::from_secs(30);

/// Starts Prometheus on a free loopback port with a temporary TSDB, scraping itself every
/// second and remote-writing to `remote_write_url`.
fn start_prometheus(remote_write_url: &str) -> ExternalProcess {
    ExternalProcess::require(PROMETHEUS_BINARY, "prometheus");
    let remote_write_url = remote_write_url.to_string();
    ExternalProcess::start(
        PROMETHEUS_BINARY,
        move |address, dir| {
            let config = format!(
                "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['{address}']
remote_write:
  - url: {remote_write_url}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send_interval: 1s
"
            );
            let config_path = dir.join("prometheus.yml");
            std::fs::write(&config_path, config).unwrap();
            vec![
                format!("--config.file={}", config_path.display()),
                format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                format!("--web.listen-address={address}"),
            ]
        },
        "/-/ready",
        WAIT,
    )
}

/// Returns `version` as `prometheus --version` prints it ("2.42.0+ds").
fn prometheus_version() -> String {
    let output = Command::new(PROMETHEUS_BINARY)
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    text.split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("no version in {text:?}"))
        .to_string()
}

/// Runs an instant query on sightline and returns the result vector, or why not. `query` is
/// put in the URL as it is: keep it to characters that need no escaping.
fn instant_query(
    client: &reqwest::blocking::Client,
    server: &TestServer,
    query: &str,
) -> Result<Vec<Value>, String> {
    let url = server.url(&format!("/prometheus/api/v1/query?query={query}"));
    let response = client
        .get(&url)
        .send()
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status();
    let body = response.text().unwrap_or_default();
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {body}"));
    }
    let json: Value = serde_json::from_str(&body).map_err(|error| format!("{error} in {body}"))?;
    if json["status"] != "success" || json["data"]["resultType"] != "vector" {
        return Err(format!("unexpected answer to {query}: {body}"));
    }
    Ok(json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Polls `query` until `accept` finds what it wants in the result, at most [`WAIT`].
fn wait_for_result(
    client: &reqwest::blocking::Client,
    server: &TestServer,
    query: &str,
    accept: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match instant_query(client, server, query) {
            Ok(result) if accept(&result) => return result,
            Ok(result) => last = format!("{query} returned {result:?}"),
            Err(error) => last = error,
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("sightline did not have the expected {query} within {WAIT:?}; last: {last}");
}

#[test]
fn prometheus_remote_writes_its_own_series_into_sightline() {
    let server = TestServer::start();
    let prometheus = start_prometheus(&server.url("/prometheus/api/v1/write"));
    let client = reqwest::blocking::Client::new();

    let up = wait_for_result(&client, &server, "up", |result| {
        result
            .iter()
            .any(|series| series["metric"]["job"] == "prometheus" && series["value"][1] == "1")
    });
    let series = up
        .iter()
        .find(|series| series["metric"]["job"] == "prometheus")
        .unwrap();
    assert_eq!(
        series["metric"]["instance"],
        prometheus.address.as_str(),
        "{series}"
    );
    assert_eq!(series["metric"]["__name__"], "up", "{series}");
    let timestamp = series["value"][0].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - timestamp).abs() < 300.0, "{series} is not recent");

    let version = prometheus_version();
    let build_info = wait_for_result(&client, &server, "prometheus_build_info", |result| {
        !result.is_empty()
    });
    let metric = &build_info[0]["metric"];
    assert_eq!(metric["job"], "prometheus", "{metric}");
    assert_eq!(metric["version"], version.as_str(), "{metric}");
    for label in ["goversion", "revision", "instance"] {
        assert!(
            metric[label]
                .as_str()
                .is_some_and(|value| !value.is_empty()),
            "{label} missing in {metric}"
        );
    }
    assert_eq!(build_info[0]["value"][1], "1", "{}", build_info[0]);

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("sightline_remote_write_samples_received_total"),
        "/metrics lacks sightline_remote_write_samples_received_total:\n{metrics}"
    );
    // Prometheus logs refused or failed writes; none is expected.
    let logs = prometheus.logs();
    let failures: Vec<&String> = logs
        .iter()
        .filter(|line| line.contains("remote") && line.contains("level=error"))
        .collect();
    assert!(
        failures.is_empty(),
        "Prometheus reported remote write errors: {failures:#?}"
    );
}
