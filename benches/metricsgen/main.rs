//! Metrics benchmark (issue 3): the same remote write 1.0 samples into Sightline, Prometheus
//! and VictoriaMetrics, one server at a time on this machine's cores, then the same
//! `query_range` queries through each one's Prometheus-compatible API.
//!
//! Run: `cargo bench --bench metricsgen -- [--instances N] [--hours H] [--connections N]
//! [--instances-per-request N] [--steps-per-request N] [--query-runs N]
//! [--query-step-seconds S] [--targets prometheus,victoriametrics,sightline] [--json PATH]
//! [--perf DIR] [--hold-seconds N]
//! [--dump-results DIR] [--sightline-binary PATH]` (build the server first with `cargo build --release`; Prometheus and
//! VictoriaMetrics come from Debian's `prometheus` and `victoria-metrics` packages).
//!
//! Phases per target: start on loopback with a fresh temp dir; send every pre-encoded
//! request (ingest rate = acknowledged samples / (send time + the flush VictoriaMetrics needs
//! to make them searchable)); wait until the server is idle (its own compactions done); count
//! the samples each family returns (`count_over_time`), to catch lost samples; time each
//! range query (one warm-up, then `--query-runs` runs); flush everything to disk and measure
//! it; stop. Then the answers are compared with Prometheus' point by point.
//!
//! `--hold-seconds N` keeps each server running N seconds after its queries, for poking at
//! it by hand (the URL is printed). `--dump-results DIR` writes each answer's `data.result`
//! to `DIR/<target>-<query>.json`. `--perf DIR` records `perf record -e cpu-clock -g` of Sightline during ingest and during
//! the queries, into `DIR/ingest.perf.data` and `DIR/query.perf.data`.

mod data;
mod ingest;
mod prompb;
mod queries;
mod report;
mod targets;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use data::{Shape, STEP_MILLIS};
use report::{DiskReport, FamilyCount, TargetReport};
use targets::{Kind, Target};

/// Command-line options.
pub struct Options {
    instances: usize,
    hours: u64,
    connections: usize,
    instances_per_request: usize,
    steps_per_request: usize,
    query_runs: usize,
    query_step_seconds: i64,
    targets: Vec<Kind>,
    json: Option<PathBuf>,
    perf: Option<PathBuf>,
    hold_seconds: u64,
    dump_results: Option<PathBuf>,
    sightline_binary: PathBuf,
}

fn parse_options() -> Options {
    let mut options = Options {
        instances: 1000,
        hours: 24,
        connections: 8,
        instances_per_request: 20,
        steps_per_request: 10,
        query_runs: 20,
        query_step_seconds: 60,
        targets: vec![Kind::Prometheus, Kind::VictoriaMetrics, Kind::Sightline],
        json: None,
        perf: None,
        hold_seconds: 0,
        dump_results: None,
        sightline_binary: targets::default_sightline_binary(),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < args.len() {
        let Some(value) = args.get(index + 1) else {
            break;
        };
        let number = value.parse::<u64>().ok();
        match (args[index].as_str(), number) {
            ("--instances", Some(n)) => options.instances = n as usize,
            ("--hours", Some(n)) => options.hours = n,
            ("--connections", Some(n)) => options.connections = n as usize,
            ("--instances-per-request", Some(n)) => options.instances_per_request = n as usize,
            ("--steps-per-request", Some(n)) => options.steps_per_request = n as usize,
            ("--query-runs", Some(n)) => options.query_runs = n as usize,
            ("--query-step-seconds", Some(n)) => options.query_step_seconds = n as i64,
            ("--hold-seconds", Some(n)) => options.hold_seconds = n,
            ("--json", _) => options.json = Some(PathBuf::from(value)),
            ("--perf", _) => options.perf = Some(PathBuf::from(value)),
            ("--sightline-binary", _) => options.sightline_binary = PathBuf::from(value),
            ("--dump-results", _) => options.dump_results = Some(PathBuf::from(value)),
            ("--targets", _) => {
                options.targets = value
                    .split(',')
                    .map(|name| {
                        Kind::parse(name.trim())
                            .unwrap_or_else(|| panic!("unknown target {name:?} in --targets"))
                    })
                    .collect();
            }
            // `cargo bench` passes `--bench`; skip anything unknown.
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .expect("the clock is after 1970")
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    let end_millis = now_millis() / STEP_MILLIS * STEP_MILLIS;
    let shape = Shape {
        instances: options.instances,
        steps: (options.hours as i64 * 3_600_000 / STEP_MILLIS) as usize,
        end_millis,
        instances_per_request: options.instances_per_request,
        steps_per_request: options.steps_per_request,
    };
    let started = Instant::now();
    let encode_shape = shape.clone();
    let requests = tokio::task::spawn_blocking(move || data::encode_all(&encode_shape, 2))
        .await
        .expect("encoding finished");
    let wire_bytes: u64 = requests.iter().flatten().map(|r| r.body.len() as u64).sum();
    let request_count: usize = requests.iter().map(Vec::len).sum();
    let encode_seconds = started.elapsed().as_secs_f64();
    println!(
        "metricsgen: {} series × {} steps of 15 s = {} samples, {request_count} requests \
         ({} series × {} steps each), {:.1} MB snappy ({:.2} B/sample on the wire), \
         encoded in {encode_seconds:.1}s",
        shape.series(),
        shape.steps,
        shape.samples(),
        shape.instances_per_request * data::SERIES_PER_INSTANCE,
        shape.steps_per_request,
        wire_bytes as f64 / 1e6,
        wire_bytes as f64 / shape.samples() as f64,
    );
    let requests = Arc::new(requests);
    let mut reports = Vec::new();
    for kind in options.targets.clone() {
        if kind == Kind::Sightline && !options.sightline_binary.is_file() {
            println!(
                "sightline: skipped, {} missing (run `cargo build --release`)",
                options.sightline_binary.display()
            );
            continue;
        }
        println!("== {} ==", kind.name());
        reports.push(run_target(kind, &shape, &requests, &options).await);
    }
    report::print_table(&shape, &reports);
    let json = report::to_json(&shape, &options_summary(&options), encode_seconds, &reports);
    let text = serde_json::to_string_pretty(&json).expect("JSON of plain values");
    println!("{text}");
    if let Some(path) = &options.json {
        std::fs::write(path, &text)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }
}

fn options_summary(options: &Options) -> serde_json::Value {
    serde_json::json!({
        "connections": options.connections,
        "instances_per_request": options.instances_per_request,
        "steps_per_request": options.steps_per_request,
        "query_runs": options.query_runs,
        "query_step_seconds": options.query_step_seconds,
    })
}

/// The `query_range` window: the 24 h (or `--hours`) of data, evaluated at instants
/// [`QUERY_OFFSET_SECONDS`] before multiples of the step, so no sample sits on a `[5m]`
/// window's edge (Prometheus 2 takes windows closed on the left, Prometheus 3 open; with
/// 15 s samples on 15 s multiples and an edge 7 s off, both select the same samples).
pub fn query_range(shape: &Shape, step_seconds: i64) -> (i64, i64, i64) {
    let end = shape.end_millis / 1000 / step_seconds * step_seconds - QUERY_OFFSET_SECONDS;
    let start = end - (shape.steps as i64 * STEP_MILLIS / 1000);
    (start, end, step_seconds)
}

/// See [`query_range`].
const QUERY_OFFSET_SECONDS: i64 = 7;

async fn run_target(
    kind: Kind,
    shape: &Shape,
    requests: &Arc<Vec<Vec<ingest::EncodedRequest>>>,
    options: &Options,
) -> TargetReport {
    let binary = options.sightline_binary.clone();
    let mut target = tokio::task::spawn_blocking(move || targets::start(kind, &binary))
        .await
        .expect("server start");
    println!(
        "started {} (pid {}) at {}",
        target.version,
        target.child.id(),
        target.base
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .timeout(Duration::from_secs(600))
        .build()
        .expect("HTTP client");
    let mut report = TargetReport::new(kind, target.version.clone());
    ingest_phase(&client, &target, requests, options, &mut report).await;
    let started = Instant::now();
    targets::wait_until_idle(&client, &target).await;
    report.settle_seconds = started.elapsed().as_secs_f64();
    println!("idle after {:.0}s", report.settle_seconds);
    report.families = count_families(&client, &target, shape).await;
    query_phase(&client, &target, shape, options, &mut report).await;
    if options.hold_seconds > 0 {
        let otlp = if target.otlp_grpc.is_empty() {
            String::new()
        } else {
            format!(" (OTLP/gRPC {})", target.otlp_grpc)
        };
        println!(
            "holding {} at {}{otlp} for {} s (--hold-seconds)",
            kind.name(),
            target.base,
            options.hold_seconds
        );
        tokio::time::sleep(Duration::from_secs(options.hold_seconds)).await;
    }
    report.disk = measure_disk(&client, &mut target).await;
    report.disk.samples =
        (report.disk.samples_on_disk).unwrap_or(report.ingest.samples_acknowledged);
    println!(
        "disk: {} bytes for {} samples = {:.3} B/sample ({})",
        report.disk.bytes,
        report.disk.samples,
        report.disk.bytes_per_sample(),
        report.disk.note
    );
    if report.has_failures() {
        println!("server log tail:\n{}", target.log_tail(30));
    }
    if std::env::var_os("SIGHTLINE_METRICSGEN_KEEP_DATA").is_some() {
        println!("data kept in {}", target.data_dir.keep().display());
    }
    report
}

/// Sends everything and records the rate, CPU and memory of the ingest.
async fn ingest_phase(
    client: &reqwest::Client,
    target: &Target,
    requests: &Arc<Vec<Vec<ingest::EncodedRequest>>>,
    options: &Options,
    report: &mut TargetReport,
) {
    let pid = target.child.id();
    let perf = start_perf(options, target.kind, pid, "ingest");
    let meter = targets::CpuMeter::start(pid);
    report.ingest =
        ingest::send_all(client, &target.write_url(), requests, options.connections).await;
    if target.kind == Kind::VictoriaMetrics {
        // VictoriaMetrics answers before samples are searchable; this makes them so.
        let started = Instant::now();
        let _ = client
            .get(format!("{}/internal/force_flush", target.base))
            .send()
            .await;
        report.flush_seconds = started.elapsed().as_secs_f64();
    }
    let (server_cpu, bench_cpu, other_cpu) = meter.read();
    report.rss_after_ingest_mib = targets::process_usage(pid).0;
    stop_perf(perf);
    report.ingest_cpu_seconds = server_cpu;
    report.ingest_bench_cpu_seconds = bench_cpu;
    report.ingest_other_cpu_seconds = other_cpu;
    println!("{}", report.ingest_line());
    if let Some(error) = &report.ingest.first_error {
        println!("  first refused request: {error}");
    }
}

/// Times every range query and keeps (and optionally dumps) the answers.
async fn query_phase(
    client: &reqwest::Client,
    target: &Target,
    shape: &Shape,
    options: &Options,
    report: &mut TargetReport,
) {
    let pid = target.child.id();
    let range = query_range(shape, options.query_step_seconds);
    let perf = start_perf(options, target.kind, pid, "query");
    let meter = targets::CpuMeter::start(pid);
    for query in queries::RANGE_QUERIES {
        let outcome = queries::time_range_query(
            client,
            &target.api_url(),
            query.promql,
            range,
            options.query_runs,
        )
        .await;
        println!("{}", report::query_line(query.name, &outcome));
        if let (Some(dir), Some(result)) = (&options.dump_results, &outcome.result) {
            let path = dir.join(format!("{}-{}.json", target.kind.name(), query.name));
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, result.to_string()));
            if let Err(error) = written {
                eprintln!("write {}: {error}", path.display());
            }
        }
        report.queries.push((query.name, outcome));
    }
    let (server_cpu, _, other_cpu) = meter.read();
    stop_perf(perf);
    report.query_cpu_seconds = server_cpu;
    report.query_other_cpu_seconds = other_cpu;
    report.peak_rss_mib = targets::process_usage(pid).0;
}

/// Counts, per metric family, the samples the target returns over the whole window.
async fn count_families(
    client: &reqwest::Client,
    target: &Target,
    shape: &Shape,
) -> Vec<FamilyCount> {
    let (counters, buckets, sums_and_counts, gauges) = shape.series_by_kind();
    let families = [
        ("bench_requests_total", counters),
        ("bench_latency_seconds_bucket", buckets),
        ("bench_latency_seconds_sum", sums_and_counts / 2),
        ("bench_latency_seconds_count", sums_and_counts / 2),
        ("bench_memory_bytes", gauges / 2),
        ("bench_temperature_celsius", gauges / 2),
    ];
    let time = (shape.end_millis / 1000).to_string();
    let window = format!("{}s", shape.steps as i64 * STEP_MILLIS / 1000);
    let mut out = Vec::new();
    for (family, series) in families {
        let started = Instant::now();
        let params = [
            ("query", format!("sum(count_over_time({family}[{window}]))")),
            ("time", time.clone()),
        ];
        let answer = queries::get_api(client, &format!("{}/query", target.api_url()), &params)
            .await
            .and_then(|data| {
                let value = &data["result"][0]["value"][1];
                match value.as_str() {
                    Some(text) => text
                        .parse::<f64>()
                        .map(|n| n as u64)
                        .map_err(|e| e.to_string()),
                    None if data["result"].as_array().is_some_and(Vec::is_empty) => Ok(0),
                    None => Err(format!("unexpected answer {data}")),
                }
            });
        let count = FamilyCount {
            family,
            expected: series as u64 * shape.steps as u64,
            returned: answer,
            seconds: started.elapsed().as_secs_f64(),
        };
        println!("{}", count.line());
        out.push(count);
    }
    out
}

fn start_perf(options: &Options, kind: Kind, pid: u32, phase: &str) -> Option<Child> {
    let dir = options.perf.as_ref().filter(|_| kind == Kind::Sightline)?;
    std::fs::create_dir_all(dir).ok()?;
    let output = dir.join(format!("{phase}.perf.data"));
    Command::new("perf")
        .args([
            "record",
            "-e",
            "cpu-clock",
            "-g",
            "-p",
            &pid.to_string(),
            "-o",
        ])
        .arg(&output)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| eprintln!("perf not started: {error}"))
        .ok()
}

fn stop_perf(perf: Option<Child>) {
    if let Some(mut child) = perf {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }
}

/// Flushes and compacts what each server can, then measures its data on disk.
async fn measure_disk(client: &reqwest::Client, target: &mut Target) -> DiskReport {
    let kind = target.kind;
    let storage = target.storage_dir();
    let mut disk = DiskReport::default();
    match kind {
        Kind::Sightline => {
            // The shutdown flushes the head into parts.
            let stop = stop_blocking(target).await;
            let objects = storage.join("objects").join("metrics");
            disk.bytes = targets::dir_bytes(&objects);
            disk.wal_bytes = targets::dir_bytes(&storage.join("wal-metrics"));
            disk.note = format!(
                "objects/metrics Parquet parts after the shutdown flush ({:.0}s); \
                 wal-metrics {} bytes",
                stop.as_secs_f64(),
                disk.wal_bytes
            );
        }
        Kind::Prometheus => {
            // A snapshot writes the head as a block next to (hard links of) the others.
            let answer = client
                .post(format!("{}/api/v1/admin/tsdb/snapshot", target.base))
                .send()
                .await;
            let name = match answer {
                Ok(response) => response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|body| body["data"]["name"].as_str().map(str::to_string)),
                Err(_) => None,
            };
            disk.wal_bytes = targets::dir_bytes(&storage.join("wal"))
                + targets::dir_bytes(&storage.join("chunks_head"));
            if let Some(name) = name {
                let snapshot = storage.join("snapshots").join(name);
                disk.bytes = targets::dir_bytes(&snapshot);
                let (samples, blocks) = prometheus_block_samples(&snapshot);
                disk.samples_on_disk = Some(samples);
                disk.note = format!(
                    "TSDB snapshot incl. head: {blocks} blocks; live wal + chunks_head {} bytes",
                    disk.wal_bytes
                );
            } else {
                disk.note = "snapshot failed".to_string();
            }
            stop_blocking(target).await;
        }
        Kind::VictoriaMetrics => {
            let _ = client
                .get(format!("{}/internal/force_flush", target.base))
                .send()
                .await;
            let _ = client
                .get(format!("{}/internal/force_merge", target.base))
                .send()
                .await;
            // The merge runs in the background.
            tokio::time::sleep(Duration::from_secs(2)).await;
            targets::wait_until_idle(client, target).await;
            let data = targets::dir_bytes(&storage.join("data"));
            let index = targets::dir_bytes(&storage.join("indexdb"));
            disk.bytes = data + index;
            disk.note = format!("data {data} + indexdb {index} bytes after force_merge");
            stop_blocking(target).await;
        }
    }
    disk.breakdown = targets::dir_breakdown(&storage);
    disk
}

async fn stop_blocking(target: &mut Target) -> Duration {
    let started = Instant::now();
    tokio::task::block_in_place(|| target.stop(Duration::from_secs(300)));
    started.elapsed()
}

/// (samples, blocks) from the `meta.json` of every block under `dir`.
fn prometheus_block_samples(dir: &Path) -> (u64, usize) {
    let mut samples = 0;
    let mut blocks = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = std::fs::read(entry.path().join("meta.json")).unwrap_or_default();
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&meta) {
            samples += value["stats"]["numSamples"].as_u64().unwrap_or(0);
            blocks += 1;
        }
    }
    (samples, blocks)
}
