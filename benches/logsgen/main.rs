//! Logs benchmark (issue 4): the real `sightline` release binary takes OTLP/gRPC log exports
//! from many concurrent connections (WAL fsync before every acknowledgement), then answers
//! searches for a rare token and a common word through the native and the Loki API.
//!
//! Run: `cargo bench --bench logsgen -- [--records N] [--connections N] [--batch N]
//! [--max-group N] [--queries N] [--hold-seconds N] [--sightline-binary PATH]` (build the server first with
//! `cargo build --release`). `--hold-seconds N` keeps the server up N seconds after the
//! queries, for poking at it (its URL is printed). Prints one report; figures and the machine go in
//! `benches/README.md`.
//!
//! Phases: build and encode the traffic (before the timed phase, on every core, so that the
//! load generator only sends bytes while it is timed: [`raw_grpc`]); start the server on
//! loopback with a fresh temp dir; send `--records` records
//! (`records.rs`: 24 services, ~250-byte lines, requests of 1 to `--max-group` records
//! sharing a request id and, for 70%, a trace context; `--batch` records per export from one
//! service instance), retrying throttled exports; count every record back
//! (`/api/v1/logs/histogram` over the run: nothing acknowledged may be missing); wait until
//! the server is idle (index commits and merges done); time searches — a rare token (a
//! `request_id` found in exactly one record: each export's first record is a request of its
//! own) and a common word (in a fifth of the records), 100
//! newest matches each, over the whole run — natively (`/api/v1/logs?q=`) and through Loki
//! (`{service_name="…"} |= "…"`); stop the server (SIGTERM) and measure its data directory
//! against the raw OTLP protobuf bytes sent.

#[path = "../metricsgen/targets.rs"]
#[allow(dead_code)]
mod targets;

#[path = "../shared/attributes.rs"]
mod attributes;
#[path = "../shared/prebuilt.rs"]
mod prebuilt;
#[path = "../shared/raw_grpc.rs"]
mod raw_grpc;
mod records;
#[path = "../shared/rng.rs"]
mod rng;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use prost::Message;
use serde_json::Value;

struct Options {
    records: u64,
    connections: usize,
    batch: usize,
    max_group: usize,
    queries: usize,
    hold_seconds: u64,
    sightline_binary: PathBuf,
}

fn parse_options() -> Options {
    let mut options = Options {
        records: 2_000_000,
        connections: 16,
        batch: 500,
        max_group: 8,
        queries: 100,
        hold_seconds: 0,
        sightline_binary: targets::default_sightline_binary(),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < args.len() {
        let value = args.get(index + 1).cloned().unwrap_or_default();
        let number = value.parse::<u64>().ok();
        match (args[index].as_str(), number) {
            ("--records", Some(n)) => options.records = n,
            ("--connections", Some(n)) => options.connections = n.max(1) as usize,
            ("--batch", Some(n)) => options.batch = n.max(1) as usize,
            ("--max-group", Some(n)) => options.max_group = n.max(1) as usize,
            ("--queries", Some(n)) => options.queries = n.max(1) as usize,
            ("--hold-seconds", Some(n)) => options.hold_seconds = n,
            ("--sightline-binary", _) => options.sightline_binary = PathBuf::from(value),
            _ => {
                // cargo bench passes `--bench`; anything unknown is skipped.
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|now| now.as_nanos() as u64)
        .unwrap_or(0)
}

/// What ingest sent.
struct Sent {
    records: u64,
    raw_bytes: u64,
    throttled: u64,
    elapsed: Duration,
    /// (request id, service) of one record per export.
    samples: Vec<(String, String)>,
}

/// One connection's traffic, encoded: its export requests with their record counts, and one
/// (request id, service) sample per export.
struct Traffic {
    requests: Vec<(Bytes, u64)>,
    samples: Vec<(String, String)>,
}

/// Builds and encodes every connection's traffic before the timed phase (see [`prebuilt`]).
fn generate(options: &Options) -> Vec<Traffic> {
    let per_connection = options.records / options.connections as u64;
    let (first, span) = prebuilt::planned_times(options.records);
    prebuilt::per_connection(options.connections, |connection| {
        let mut generator = records::Generator::new(
            connection as u64 + 1,
            connection,
            options.connections,
            options.max_group,
        );
        let mut traffic = Traffic {
            requests: Vec::new(),
            samples: Vec::new(),
        };
        let mut records = 0u64;
        while records < per_connection {
            let size = options.batch.min((per_connection - records) as usize);
            let at = first + span * records / per_connection.max(1);
            let request = generator.request(size, at);
            traffic.requests.push((
                Bytes::from(request.request.encode_to_vec()),
                request.records,
            ));
            traffic.samples.push(request.sample);
            records += request.records;
        }
        traffic
    })
}

/// Sends every connection's traffic over its own gRPC connection, all at once.
async fn ingest(grpc: &str, traffic: Vec<Traffic>) -> Sent {
    let started = Instant::now();
    let raw_bytes = traffic
        .iter()
        .flat_map(|connection| &connection.requests)
        .map(|(body, _)| body.len() as u64)
        .sum();
    let mut tasks = Vec::new();
    for connection in traffic {
        let endpoint = format!("http://{grpc}");
        tasks.push(tokio::spawn(async move {
            let mut client = raw_grpc::RawClient::connect(endpoint, raw_grpc::LOGS_EXPORT).await;
            let (mut sent, mut throttled) = (0u64, 0u64);
            for (body, records) in &connection.requests {
                throttled += client.export(body).await;
                sent += records;
            }
            (sent, throttled, connection.samples)
        }));
    }
    let mut records = 0;
    let mut throttled = 0;
    let mut samples = Vec::new();
    for task in tasks {
        let (sent, retried, mut some) = task.await.expect("ingest task");
        records += sent;
        throttled += retried;
        samples.append(&mut some);
    }
    Sent {
        records,
        raw_bytes,
        throttled,
        elapsed: started.elapsed(),
        samples,
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.expect("query");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{url}: {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{url}: {error}: {text}"))
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

/// A Loki `query_range` URL for `query` over `range` (`start=…&end=…`), newest 100 lines.
fn loki_url(base: &str, query: &str, range: &str) -> String {
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/loki/api/v1/query_range?{range}&limit=100"),
        &[("query", query)],
    )
    .expect("a valid URL");
    url.to_string()
}

/// Times `urls` one after another; `check` sees each answer. (p50, p99, max) in ms.
async fn time_queries(
    client: &reqwest::Client,
    urls: &[String],
    check: impl Fn(&str, &Value),
) -> (f64, f64, f64) {
    let mut millis = Vec::new();
    for url in urls {
        let started = Instant::now();
        let answer = get_json(client, url).await;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
        check(url, &answer);
    }
    millis.sort_by(f64::total_cmp);
    (
        percentile(&millis, 0.5),
        percentile(&millis, 0.99),
        percentile(&millis, 1.0),
    )
}

fn native_records(answer: &Value) -> &[Value] {
    answer["records"].as_array().map_or(&[], Vec::as_slice)
}

fn loki_lines(answer: &Value) -> usize {
    answer["data"]["result"].as_array().map_or(0, |streams| {
        streams
            .iter()
            .map(|stream| stream["values"].as_array().map_or(0, Vec::len))
            .sum()
    })
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    println!(
        "sightline logsgen: {} records over {} gRPC connections, {} records per export",
        options.records, options.connections, options.batch
    );
    // Records carry times up to now, planned back from it (see `prebuilt::planned_times`).
    let start_ns = now_unix_nano() - options.records * 10_000 - 60_000_000_000;
    let generating = Instant::now();
    let traffic = generate(&options);
    println!(
        "traffic: {} export requests built and encoded in {:.1} s before the timed phase",
        traffic
            .iter()
            .map(|connection| connection.requests.len())
            .sum::<usize>(),
        generating.elapsed().as_secs_f64()
    );
    let mut server = targets::start(targets::Kind::Sightline, &options.sightline_binary);
    let pid = server.child.id();
    let meter = targets::CpuMeter::start(pid);
    let sent = ingest(&server.otlp_grpc, traffic).await;
    let (server_cpu, own_cpu, other_cpu) = meter.read();
    let (rss, _) = targets::process_usage(pid);
    let seconds = sent.elapsed.as_secs_f64();
    println!(
        "ingest: {} records ({:.1} MB of OTLP protobuf, {:.0} B/record) in {seconds:.1} s = {:.0} records/s, {:.1} MB/s (WAL fsync on); {} throttled exports retried",
        sent.records,
        sent.raw_bytes as f64 / 1e6,
        sent.raw_bytes as f64 / sent.records as f64,
        sent.records as f64 / seconds,
        sent.raw_bytes as f64 / 1e6 / seconds,
        sent.throttled
    );
    println!(
        "cpu during ingest: server {server_cpu:.1} s ({:.2} cores, {:.2} µs/record), load generator {own_cpu:.1} s, others {other_cpu:.1} s; peak RSS {rss:.0} MiB",
        server_cpu / seconds,
        server_cpu / sent.records as f64 * 1e6
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("http client");
    let base = server.base.clone();
    let end_ns = now_unix_nano() + 60_000_000_000;
    let range = format!("start={start_ns}&end={end_ns}");

    // Every acknowledged record is there (head and index together).
    let counted = Instant::now();
    let histogram = get_json(
        &client,
        &format!("{base}/api/v1/logs/histogram?{range}&buckets=60"),
    )
    .await;
    let total = histogram["total"].as_u64().unwrap_or(0);
    assert_eq!(total, sent.records, "records counted back");
    println!(
        "counted back: {total} records in {:.0} ms (histogram of everything, right after ingest)",
        counted.elapsed().as_secs_f64() * 1000.0
    );

    let settled = Instant::now();
    targets::wait_until_idle(&client, &server).await;
    println!(
        "idle after {:.0} s (index commits and merges)",
        settled.elapsed().as_secs_f64()
    );

    let samples: Vec<&(String, String)> = sent
        .samples
        .iter()
        .step_by((sent.samples.len() / options.queries).max(1))
        .take(options.queries)
        .collect();
    let native_rare: Vec<String> = samples
        .iter()
        .map(|(id, _)| format!("{base}/api/v1/logs?q={id}&{range}&limit=100"))
        .collect();
    let (p50, p99, max) = time_queries(&client, &native_rare, |url, answer| {
        assert_eq!(native_records(answer).len(), 1, "{url}: one record");
    })
    .await;
    println!("rare token, native (/api/v1/logs?q=ID): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} queries, 1 hit each)", samples.len());
    // A Loki line filter is a substring match, which no token index answers: the store reads
    // every record of the selected stream (as Loki does), so fewer runs.
    let loki_rare: Vec<String> = samples
        .iter()
        .take(options.queries.min(10))
        .map(|(id, service)| {
            loki_url(
                &base,
                &format!("{{service_name=\"{service}\"}} |= \"{id}\""),
                &range,
            )
        })
        .collect();
    let (p50, p99, max) = time_queries(&client, &loki_rare, |url, answer| {
        assert_eq!(loki_lines(answer), 1, "{url}: one line");
    })
    .await;
    println!("rare token, Loki ({{service_name=\"…\"}} |= \"ID\"): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} queries)", loki_rare.len());

    let runs = options.queries.min(20);
    let common = records::COMMON_WORD;
    let native_common: Vec<String> = (0..runs)
        .map(|_| format!("{base}/api/v1/logs?q={common}&{range}&limit=100"))
        .collect();
    let (p50, p99, max) = time_queries(&client, &native_common, |url, answer| {
        assert_eq!(native_records(answer).len(), 100, "{url}: a full page");
    })
    .await;
    println!("common word, native (q={common}, newest 100): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({runs} runs)");
    let loki_common: Vec<String> = (0..runs)
        .map(|run| {
            let service = records::service_name(run % records::SERVICES);
            loki_url(
                &base,
                &format!("{{service_name=\"{service}\"}} |= \"{common}\""),
                &range,
            )
        })
        .collect();
    let (p50, p99, max) = time_queries(&client, &loki_common, |url, answer| {
        assert_eq!(loki_lines(answer), 100, "{url}: a full page");
    })
    .await;
    println!("common word, Loki ({{service_name=\"…\"}} |= \"{common}\", newest 100): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
    let count_common: Vec<String> = (0..runs.min(5))
        .map(|_| format!("{base}/api/v1/logs/histogram?q={common}&{range}&buckets=60"))
        .collect();
    let (p50, _, max) = time_queries(&client, &count_common, |_, _| {}).await;
    println!("common word, every match counted (histogram): p50 {p50:.0} ms, max {max:.0} ms");

    if options.hold_seconds > 0 {
        println!(
            "holding the server at {base} (OTLP/gRPC {}) for {} s",
            server.otlp_grpc, options.hold_seconds
        );
        tokio::time::sleep(Duration::from_secs(options.hold_seconds)).await;
    }
    let (peak_rss, _) = targets::process_usage(pid);
    server.stop(Duration::from_secs(300));
    let data = server.storage_dir();
    let by_kind = bytes_by_extension(&data.join("logs"));
    let breakdown = targets::dir_breakdown(&data);
    let logs = breakdown.get("logs").copied().unwrap_or(0);
    let everything: u64 = breakdown.values().sum();
    println!(
        "peak RSS {peak_rss:.0} MiB; on disk after shutdown: logs {logs} bytes = {:.1} B/record = {:.3}× the raw OTLP bytes; whole data dir {everything} bytes ({breakdown:?})",
        logs as f64 / sent.records as f64,
        logs as f64 / sent.raw_bytes as f64
    );
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(kind, bytes)| format!("{kind} {:.1} B/record", *bytes as f64 / sent.records as f64))
        .collect();
    println!("logs by tantivy file kind: {}", kinds.join(", "));
}

/// Bytes of the files under `path` by extension (tantivy: `idx` postings, `pos` positions,
/// `term` dictionaries, `store` stored records, `fast` fast fields, `fieldnorm`, …).
fn bytes_by_extension(path: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    let mut totals = std::collections::BTreeMap::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let kind = path.extension().map_or("(none)".to_string(), |ext| {
                    ext.to_string_lossy().to_string()
                });
                *totals.entry(kind).or_insert(0) += entry.metadata().map_or(0, |meta| meta.len());
            }
        }
    }
    totals
}
