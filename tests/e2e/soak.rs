//! Soak: many concurrent clients send above their tenants' ingest rate limits for a while
//! (`SIGHTLINE_SOAK_SECONDS`, 20 by default; loopback only). Checked: the server throttles with
//! retryable answers (429 + `Retry-After`) and never fails a request otherwise (no 5xx), the
//! clients that honour `Retry-After` get everything in, its memory stays bounded, and every
//! acknowledged span is queryable afterwards.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fixtures::{now_nanos, trace_id_hex};
use crate::server::TestServer;

/// Resident memory of a process, in bytes (Linux `/proc`).
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// An export of `spans` spans of one trace for `service`.
fn export(trace_id: &str, service: &str, spans: usize) -> serde_json::Value {
    let start = now_nanos() - 1_000_000_000;
    let spans: Vec<serde_json::Value> = (0..spans)
        .map(|index| {
            serde_json::json!({
                "traceId": trace_id,
                "spanId": format!("{:016x}", index + 1),
                "name": format!("op-{}", index % 7),
                "kind": 2,
                "startTimeUnixNano": (start + index as u64 * 1000).to_string(),
                "endTimeUnixNano": (start + index as u64 * 1000 + 500_000).to_string(),
                "attributes": [{"key": "payload", "value": {"stringValue": "x".repeat(200)}}]
            })
        })
        .collect();
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "soak"}, "spans": spans}]
    }]})
}

#[test]
fn clients_above_the_limits_are_throttled_not_failed_and_nothing_acknowledged_is_lost() {
    let seconds: u64 = std::env::var("SIGHTLINE_SOAK_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sightline.toml");
    // Two tenants, each limited to 2000 spans/s; 16 clients send as fast as they are let.
    std::fs::write(
        &config,
        "[collector]\nmulti_tenancy = true\ntenant_ingest_items_per_second = 2000\n\
         tenant_ingest_burst_seconds = 1\nmax_in_flight_bytes = 33554432\n\
         [query]\nmulti_tenancy = true\n",
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let server = TestServer::start_in(&dir.path().join("data"), &["--config", config_arg.as_str()]);
    let url = server.otlp_url("/v1/traces");
    let stop = Arc::new(AtomicBool::new(false));
    let seed = Arc::new(AtomicU64::new(1));
    let throttled = Arc::new(AtomicU64::new(0));
    let failures: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..16)
        .map(|client_index| {
            let tenant = if client_index % 2 == 0 {
                "team-a"
            } else {
                "team-b"
            };
            let (url, stop, seed, throttled, failures, acknowledged) = (
                url.clone(),
                stop.clone(),
                seed.clone(),
                throttled.clone(),
                failures.clone(),
                acknowledged.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let trace_id = trace_id_hex(seed.fetch_add(1, Ordering::Relaxed));
                    let body = export(&trace_id, "soak", 50).to_string();
                    // Retry this export until it is accepted, honouring Retry-After.
                    loop {
                        let response = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .header("x-scope-orgid", tenant)
                            .body(body.clone())
                            .send();
                        match response {
                            Ok(response) if response.status() == 200 => {
                                acknowledged
                                    .lock()
                                    .unwrap()
                                    .push((tenant.to_string(), trace_id));
                                break;
                            }
                            Ok(response)
                                if response.status() == 429 || response.status() == 503 =>
                            {
                                throttled.fetch_add(1, Ordering::Relaxed);
                                let wait: u64 = response
                                    .headers()
                                    .get("retry-after")
                                    .and_then(|value| value.to_str().ok()?.parse().ok())
                                    .unwrap_or(1);
                                std::thread::sleep(Duration::from_millis(wait * 1000 / 4 + 10));
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                            }
                            Ok(response) => {
                                failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("status {}", response.status()));
                                break;
                            }
                            Err(error) => {
                                failures.lock().unwrap().push(error.to_string());
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut peak_rss = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        peak_rss = peak_rss.max(rss_bytes(server.pid()));
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "requests failed instead of being throttled: {failures:?}"
    );
    assert!(
        throttled.load(Ordering::Relaxed) > 0,
        "the clients were never throttled"
    );
    // Bounded: the in-flight budget is 32 MiB; the head holds what was accepted.
    assert!(peak_rss < 1024 * 1024 * 1024, "peak RSS {peak_rss} bytes");
    let acknowledged = acknowledged.lock().unwrap().clone();
    let elapsed = started.elapsed().as_secs_f64();
    let rate = acknowledged.len() as f64 * 50.0 / elapsed;
    // Two tenants at 2000 spans/s each (plus the first bursts): never much above the limits.
    assert!(rate < 2.0 * 2000.0 * 1.5, "{rate:.0} spans/s accepted");
    eprintln!(
        "soak: {} exports ({rate:.0} spans/s) acknowledged, {} throttled answers, peak RSS {} MiB",
        acknowledged.len(),
        throttled.load(Ordering::Relaxed),
        peak_rss / (1024 * 1024)
    );
    let client = reqwest::blocking::Client::new();
    let mut missing = HashSet::new();
    for (tenant, trace_id) in &acknowledged {
        let response = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .header("x-scope-orgid", tenant)
            .send()
            .unwrap();
        if response.status() != 200 {
            missing.insert(trace_id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged traces not found",
        missing.len()
    );
}
