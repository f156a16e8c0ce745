//! Health API benchmark (issue 5): a day of span-metric and service-graph series for 50
//! services, written into the real server by remote write (as the processors would have
//! written them over the day), then `/api/v1/services` and `/api/v1/dependencies` timed over
//! the whole day and over its last hour, their answers checked against the known truth.
//!
//! Run: `cargo bench --bench healthgen -- [--services N] [--hours H] [--runs N]
//! [--connections N] [--hold-seconds N] [--sightline-binary PATH]` (build the server first
//! with `cargo build --release`). Prints one report; figures go in `benches/README.md`.
//! `--hold-seconds N` keeps the server up N seconds after the timings, for poking at it.

#[allow(dead_code)] // shared with the metrics benchmark, which uses all of it
#[path = "../metricsgen/ingest.rs"]
mod ingest;
#[allow(dead_code)]
#[path = "../metricsgen/prompb.rs"]
mod prompb;
#[allow(dead_code)]
#[path = "../metricsgen/targets.rs"]
mod targets;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use workload::{service_name, Workload, STEP_MILLIS};

struct Options {
    services: usize,
    hours: i64,
    runs: usize,
    connections: usize,
    hold_seconds: u64,
    sightline_binary: PathBuf,
}

fn parse_options() -> Options {
    let mut options = Options {
        services: 50,
        hours: 24,
        runs: 10,
        connections: 4,
        hold_seconds: 0,
        sightline_binary: targets::default_sightline_binary(),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < args.len() {
        let value = args.get(index + 1).cloned();
        match (args[index].as_str(), value) {
            ("--services", Some(value)) => options.services = value.parse().expect("--services N"),
            ("--hours", Some(value)) => options.hours = value.parse().expect("--hours H"),
            ("--runs", Some(value)) => options.runs = value.parse().expect("--runs N"),
            ("--connections", Some(value)) => {
                options.connections = value.parse().expect("--connections N");
            }
            ("--hold-seconds", Some(value)) => {
                options.hold_seconds = value.parse().expect("--hold-seconds N");
            }
            ("--sightline-binary", Some(value)) => options.sightline_binary = value.into(),
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options
}

/// Times `runs` calls of `path` after one warm-up; returns the answer and the sorted
/// latencies in ms.
async fn time_endpoint(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    runs: usize,
) -> (Json, Vec<f64>) {
    let url = format!("{base}{path}");
    let mut answer = Json::Null;
    let mut latencies = Vec::with_capacity(runs);
    for run in 0..=runs {
        let started = Instant::now();
        let response = client.get(&url).send().await.expect("request sent");
        let status = response.status();
        let body: Json = response.json().await.expect("JSON answer");
        assert!(status.is_success(), "{path}: {status} {body}");
        if run > 0 {
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        answer = body;
    }
    latencies.sort_by(f64::total_cmp);
    (answer, latencies)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(rank).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let end_ms = now_ms / STEP_MILLIS * STEP_MILLIS;
    let generated = Instant::now();
    let workload = Workload::new(options.services, options.hours, end_ms);
    let requests = Arc::new(workload.encode());
    let samples: u64 = requests.iter().flatten().map(|r| r.samples).sum();
    println!(
        "healthgen: {} services, {} series ({} edges), {} h at {} s = {samples} samples in {} requests, generated in {:.1} s",
        options.services,
        workload.series(),
        workload.edges(),
        options.hours,
        STEP_MILLIS / 1000,
        requests.iter().map(Vec::len).sum::<usize>(),
        generated.elapsed().as_secs_f64()
    );

    let mut server = targets::start(targets::Kind::Sightline, &options.sightline_binary);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("http client");
    let outcome =
        ingest::send_all(&client, &server.write_url(), &requests, options.connections).await;
    assert_eq!(outcome.samples_refused, 0, "{:?}", outcome.first_error);
    println!(
        "ingest: {} samples in {:.1} s = {:.0} samples/s",
        outcome.samples_acknowledged,
        outcome.elapsed.as_secs_f64(),
        outcome.samples_acknowledged as f64 / outcome.elapsed.as_secs_f64()
    );

    let settled = Instant::now();
    targets::wait_until_idle(&client, &server).await;
    println!(
        "idle after {:.0} s, {} parts",
        settled.elapsed().as_secs_f64(),
        targets::metric_value(&client, &server.base, "sightline_metric_parts").await
    );

    let end_ns = u128::try_from(workload.end_ms()).unwrap_or(0) * 1_000_000;
    let day_ns = u128::try_from(options.hours).unwrap_or(0) * 3_600_000_000_000;
    let hour_ns = 3_600_000_000_000u128;
    let base = server.base.clone();
    for (label, window_ns) in [("whole range", day_ns), ("last hour", hour_ns)] {
        let range = format!("start={}&end={end_ns}", end_ns - window_ns);
        let (services, latencies) = time_endpoint(
            &client,
            &base,
            &format!("/api/v1/services?{range}"),
            options.runs,
        )
        .await;
        let listed = services["services"].as_array().map_or(0, Vec::len);
        assert_eq!(listed, options.services, "every service listed");
        if window_ns == day_ns {
            // Exact counts over the whole range: what the counters counted.
            let first = &services["services"][0];
            let expected = workload.calls(&service_name(0));
            let got = first["requests"].as_f64().unwrap_or(f64::NAN);
            assert!(
                (got - expected).abs() < 1e-6 * expected.max(1.0),
                "svc-00 requests {got}, expected {expected}"
            );
        }
        println!(
            "/api/v1/services, {label}: p50 {:.0} ms, max {:.0} ms ({} runs)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 1.0),
            latencies.len()
        );
        let (graph, latencies) = time_endpoint(
            &client,
            &base,
            &format!("/api/v1/dependencies?{range}"),
            options.runs,
        )
        .await;
        let edges = graph["edges"].as_array().map_or(0, Vec::len);
        assert_eq!(edges, workload.edges(), "every edge drawn");
        println!(
            "/api/v1/dependencies, {label}: p50 {:.0} ms, max {:.0} ms ({} runs)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 1.0),
            latencies.len()
        );
    }
    if options.hold_seconds > 0 {
        println!(
            "holding the server at {base} for {} s (--hold-seconds)",
            options.hold_seconds
        );
        tokio::time::sleep(Duration::from_secs(options.hold_seconds)).await;
    }
    server.stop(Duration::from_secs(120));
}
