//! Durability: what the server acknowledged survives `kill -9`, many times over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fixtures::{now_nanos, single_span, trace_id_hex};
use crate::server::TestServer;

#[test]
fn acknowledged_exports_survive_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let seed = Arc::new(AtomicU64::new(1));
    for round in 0..3 {
        // A small flush threshold makes the crash land around flushes too.
        let mut server = TestServer::start_in(temp.path(), &["--flush-max-spans", "40"]);
        let url = server.otlp_url("/v1/traces");
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let (client, url, stop, acknowledged, seed) = (
                    client.clone(),
                    url.clone(),
                    stop.clone(),
                    acknowledged.clone(),
                    seed.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let trace_id = trace_id_hex(seed.fetch_add(1, Ordering::Relaxed));
                        let body = single_span(
                            &trace_id,
                            "0102030405060708",
                            "crash-test",
                            "write",
                            now_nanos(),
                        );
                        match client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()
                        {
                            Ok(response) if response.status() == 200 => {
                                acknowledged.lock().unwrap().push(trace_id)
                            }
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 300 * round));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }

        let server = TestServer::start_in(temp.path(), &["--flush-max-spans", "40"]);
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(
            acknowledged.len() > 10,
            "round {round}: only {} exports acknowledged",
            acknowledged.len()
        );
        for trace_id in &acknowledged {
            let url = server.url(&format!("/api/v1/traces/{trace_id}?format=otlp"));
            let response = client.get(&url).send().unwrap();
            assert_eq!(
                response.status(),
                200,
                "round {round}: acknowledged trace {trace_id} lost after kill -9"
            );
        }
        let listed = client
            .get(server.url("/jaeger/api/services"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(listed.contains("crash-test"), "{listed}");
        drop(server);
    }
}

/// Writes logs and metric points from 4 writers, each export unique, until told to stop;
/// returns the acknowledged sequence numbers of each kind.
fn write_logs_and_metrics(
    server: &TestServer,
    seed: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(Vec<u64>, Vec<u64>)>> {
    (0..4)
        .map(|_| {
            let (logs_url, metrics_url) = (server.otlp_url("/v1/logs"), server.otlp_url("/v1/metrics"));
            let (seed, stop) = (seed.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let resource = serde_json::json!({"attributes": [
                    {"key": "service.name", "value": {"stringValue": "crash-signals"}}]});
                let (mut logs, mut points) = (Vec::new(), Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let seq = seed.fetch_add(1, Ordering::Relaxed);
                    let now = now_nanos().to_string();
                    let (url, body) = if seq % 2 == 0 {
                        (&logs_url, serde_json::json!({"resourceLogs": [{"resource": resource,
                            "scopeLogs": [{"logRecords": [{"timeUnixNano": now,
                                "body": {"stringValue": format!("crashlog-{seq}")}}]}]}]}))
                    } else {
                        (&metrics_url, serde_json::json!({"resourceMetrics": [{"resource": resource,
                            "scopeMetrics": [{"metrics": [{"name": "crash_points",
                                "gauge": {"dataPoints": [{"asDouble": 1.0, "timeUnixNano": now,
                                    "attributes": [{"key": "seq", "value": {"stringValue": seq.to_string()}}]}]}}]}]}]}))
                    };
                    let acknowledged = client
                        .post(url)
                        .json(&body)
                        .send()
                        .is_ok_and(|response| response.status() == 200);
                    if acknowledged {
                        if seq % 2 == 0 {
                            logs.push(seq);
                        } else {
                            points.push(seq);
                        }
                    }
                    // Paced, so that all rounds' records fit one Loki answer (limit 5000).
                    std::thread::sleep(Duration::from_millis(10));
                }
                (logs, points)
            })
        })
        .collect()
}

/// Says which acknowledged items (by sequence number, looked up as `key`) are not in `found`.
pub(crate) fn all_found(
    acknowledged: &[u64],
    found: &std::collections::HashSet<String>,
    key: impl Fn(u64) -> String,
    what: &str,
) -> Result<(), String> {
    let lost: Vec<u64> = acknowledged
        .iter()
        .copied()
        .filter(|seq| !found.contains(&key(*seq)))
        .collect();
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} acknowledged {what} lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        ))
    }
}

/// GETs `url` and reads its JSON answer.
pub(crate) fn get_json(
    client: &reqwest::blocking::Client,
    url: reqwest::Url,
) -> Result<serde_json::Value, String> {
    client
        .get(url)
        .send()
        .map_err(|error| error.to_string())?
        .json()
        .map_err(|error| error.to_string())
}

/// The lines of every log record of `service` from the last hour (at most 5000), through the
/// Loki API.
pub(crate) fn log_lines(
    client: &reqwest::blocking::Client,
    server: &TestServer,
    service: &str,
) -> Result<std::collections::HashSet<String>, String> {
    let now = now_nanos();
    let url = reqwest::Url::parse_with_params(
        &server.url("/loki/api/v1/query_range"),
        [
            ("query", format!("{{service_name=\"{service}\"}}")),
            ("limit", "5000".to_string()),
            ("start", (now - 3_600_000_000_000).to_string()),
            ("end", (now + 60_000_000_000).to_string()),
        ],
    )
    .map_err(|error| error.to_string())?;
    let body = get_json(client, url)?;
    Ok(body["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|stream| stream["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|value| value[1].as_str().map(str::to_string))
        .collect())
}

/// The values of `label` across the series of `metric` now, through the Prometheus API.
pub(crate) fn label_values(
    client: &reqwest::blocking::Client,
    server: &TestServer,
    metric: &str,
    label: &str,
) -> Result<std::collections::HashSet<String>, String> {
    let query = format!("group by ({label}) ({metric})");
    let url = reqwest::Url::parse_with_params(
        &server.url("/prometheus/api/v1/query"),
        [("query", query.as_str())],
    )
    .map_err(|error| error.to_string())?;
    let body = get_json(client, url)?;
    Ok(body["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|series| series["metric"][label].as_str().map(str::to_string))
        .collect())
}

/// Polls `check` for up to 30 s; returns its last answer.
pub(crate) fn settle(mut check: impl FnMut() -> Result<(), String>) -> Result<(), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let result = check();
        if result.is_ok() || std::time::Instant::now() > deadline {
            return result;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn acknowledged_logs_and_metrics_survive_kill_9_at_random_moments() {
    let temp = tempfile::tempdir().unwrap();
    let client = reqwest::blocking::Client::new();
    // A printed seed makes a failing round reproducible.
    let mut random = now_nanos() | 1;
    eprintln!("crash rounds seeded with {random}");
    let seed = Arc::new(AtomicU64::new(1));
    let (mut logs, mut points): (Vec<u64>, Vec<u64>) = (Vec::new(), Vec::new());
    for round in 0..6 {
        let mut server = TestServer::start_in(temp.path(), &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let writers = write_logs_and_metrics(&server, &seed, &stop);
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        std::thread::sleep(Duration::from_millis(150 + random % 1200));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            let (more_logs, more_points) = writer.join().unwrap();
            logs.extend(more_logs);
            points.extend(more_points);
        }
        let server = TestServer::start_in(temp.path(), &[]);
        assert!(
            !logs.is_empty() && !points.is_empty(),
            "round {round}: nothing acknowledged"
        );
        let result = settle(|| {
            let found = log_lines(&client, &server, "crash-signals")?;
            all_found(
                &logs,
                &found,
                |seq| format!("crashlog-{seq}"),
                "log records",
            )
        });
        assert_eq!(result, Ok(()), "round {round}: logs after kill -9");
        let result = settle(|| {
            let found = label_values(&client, &server, "crash_points", "seq")?;
            all_found(&points, &found, |seq| seq.to_string(), "metric points")
        });
        assert_eq!(result, Ok(()), "round {round}: metrics after kill -9");
        drop(server);
    }
}
