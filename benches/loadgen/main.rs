//! Load generator: starts the real `sightline` release binary on a temporary data directory,
//! drives it over OTLP/gRPC with many concurrent connections, then measures queries.
//!
//! Run: `cargo bench --bench loadgen -- [--spans N] [--connections N] [--batch-traces N]
//! [--queries N] [--no-processors] [--maintenance-interval SECONDS] [--dump-ndjson PATH]
//! [--sample-ids PATH]` (build the server first with `cargo build --release`).
//! `--no-processors` turns the span-metrics and service-graph processors off, to measure what
//! they cost ingest. `--maintenance-interval` sets the server's
//! `store.maintenance_interval_seconds` (default 3, so the queries after ingest run over
//! compacted parts); a value longer than the run keeps compactions out of the timed ingest
//! altogether, which makes two runs compare their ingest paths rather than where compactions
//! happened to fall. Prints one report; figures and the machine go in `benches/README.md`.
//!
//! `--dump-ndjson PATH` also writes every span sent as one JSON line in the ClickHouse
//! exporter's `otel_traces` column form (see `ndjson.rs`); `--sample-ids PATH` writes the trace
//! ids that "trace by id" looks up, one per line, in the order used. Both feed
//! `benches/compare.sh` (the ClickHouse baseline).
//!
//! The traffic is built and encoded before the timed phase (on every core, ~2.6 s per
//! million spans; ~400 bytes of memory per span), so that during it the load generator only
//! sends bytes ([`raw_grpc`]) and the machine's CPU goes to the server.
//!
//! Traffic: 24 services, traces of 5–60 spans, 10–25 semantic-convention attributes per span,
//! log-normal-ish durations, about 3% error spans.

#[path = "../shared/attributes.rs"]
mod attributes;
mod ndjson;
#[path = "../shared/prebuilt.rs"]
mod prebuilt;
#[path = "../shared/raw_grpc.rs"]
mod raw_grpc;
#[path = "../shared/rng.rs"]
mod rng;
mod traffic;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;

struct Options {
    spans: u64,
    connections: usize,
    batch_traces: usize,
    queries: usize,
    dump_ndjson: Option<PathBuf>,
    sample_ids: Option<PathBuf>,
    processors: bool,
    maintenance_interval_seconds: u64,
}

fn parse_options() -> Options {
    let mut options = Options {
        spans: 2_000_000,
        connections: 16,
        batch_traces: 20,
        queries: 200,
        dump_ndjson: None,
        sample_ids: None,
        processors: true,
        maintenance_interval_seconds: 3,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < args.len() {
        if args[index] == "--no-processors" {
            options.processors = false;
            index += 1;
            continue;
        }
        let path = args.get(index + 1).map(PathBuf::from);
        match (args[index].as_str(), path) {
            ("--dump-ndjson", Some(path)) => {
                options.dump_ndjson = Some(path);
                index += 2;
                continue;
            }
            ("--sample-ids", Some(path)) => {
                options.sample_ids = Some(path);
                index += 2;
                continue;
            }
            _ => {}
        }
        let value = args
            .get(index + 1)
            .and_then(|value| value.parse::<u64>().ok());
        match (args[index].as_str(), value) {
            ("--spans", Some(value)) => options.spans = value,
            ("--connections", Some(value)) => options.connections = value as usize,
            ("--batch-traces", Some(value)) => options.batch_traces = value as usize,
            ("--queries", Some(value)) => options.queries = value as usize,
            ("--maintenance-interval", Some(value)) => options.maintenance_interval_seconds = value,
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options
}

struct Server {
    child: Child,
    http: String,
    grpc: String,
    data_dir: tempfile::TempDir,
}

fn start_server(options: &Options) -> Server {
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/sightline");
    assert!(
        binary.is_file(),
        "build the server first: cargo build --release ({} missing)",
        binary.display()
    );
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = data_dir.path().join("loadgen.toml");
    let mut config_text = format!(
        "[store]\nmaintenance_interval_seconds = {}\ncompaction_min_parts = 3\n",
        options.maintenance_interval_seconds
    );
    if !options.processors {
        config_text
            .push_str("[collector]\nspan_metrics_enabled = false\nservice_graph_enabled = false\n");
    }
    std::fs::write(&config, config_text).expect("write config");
    let mut child = Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .args([
            "--http-listen",
            "127.0.0.1:0",
            "--otlp-grpc-listen",
            "127.0.0.1:0",
            "--otlp-http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("SIGHTLINE_LOG", "warn,sightline::server=info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sightline");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(" listening ") && line.contains(" http=") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server listening line");
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|token| token.strip_prefix(&format!("{name}=")))
            .expect("address field")
            .to_string()
    };
    Server {
        http: field("http"),
        grpc: field("otlp_grpc"),
        child,
        data_dir,
    }
}

/// Reads (peak RSS in MiB, CPU seconds) of a process from /proc.
fn process_usage(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu_seconds = (ticks(11) + ticks(12)) / 100.0;
    (peak_kib / 1024.0, cpu_seconds)
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        dir_bytes(&path)
                    } else {
                        entry.metadata().map(|meta| meta.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

/// One connection's traffic, encoded: its export requests with their span counts, and the
/// trace ids "trace by id" looks up.
struct Traffic {
    requests: Vec<(Bytes, u64)>,
    sample_ids: Vec<String>,
}

/// Builds and encodes every connection's traffic before the timed phase (see [`prebuilt`]).
/// `--dump-ndjson` is written here too.
fn generate(options: &Options) -> Vec<Traffic> {
    let dump: Option<ndjson::Sink> = options.dump_ndjson.as_ref().map(|path| {
        let file = std::fs::File::create(path)
            .unwrap_or_else(|error| panic!("create {}: {error}", path.display()));
        std::sync::Arc::new(std::sync::Mutex::new(file))
    });
    let per_connection = options.spans / options.connections as u64;
    let (first, span) = prebuilt::planned_times(options.spans);
    prebuilt::per_connection(options.connections, |connection| {
        let mut writer = dump.clone().map(ndjson::Writer::new);
        let mut generator = traffic::Generator::new(connection as u64 + 1);
        let mut traffic = Traffic {
            requests: Vec::new(),
            sample_ids: Vec::new(),
        };
        let mut spans = 0u64;
        while spans < per_connection {
            let at = first + span * spans / per_connection.max(1);
            let (request, count, trace_ids) = generator.request(options.batch_traces, at);
            if let Some(writer) = writer.as_mut() {
                writer.append(&request);
            }
            if traffic.sample_ids.len() < 64 {
                traffic.sample_ids.push(trace_ids[0].clone());
            }
            traffic
                .requests
                .push((Bytes::from(request.encode_to_vec()), count));
            spans += count;
        }
        traffic
    })
}

/// Sends every connection's traffic over its own gRPC connection, all at once; returns the
/// spans sent, the time taken and the sample trace ids.
async fn ingest(server: &Server, traffic: Vec<Traffic>) -> (u64, Duration, Vec<String>) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in traffic {
        let endpoint = format!("http://{}", server.grpc);
        tasks.push(tokio::spawn(async move {
            let mut client = raw_grpc::RawClient::connect(endpoint, raw_grpc::TRACE_EXPORT).await;
            let mut sent = 0u64;
            for (body, spans) in &connection.requests {
                client.export(body).await;
                sent += spans;
            }
            (sent, connection.sample_ids)
        }));
    }
    let mut total = 0;
    let mut ids = Vec::new();
    for task in tasks {
        let (sent, sample_ids) = task.await.expect("ingest task");
        total += sent;
        ids.extend(sample_ids);
    }
    (total, started.elapsed(), ids)
}

async fn time_queries(client: &reqwest::Client, urls: &[String]) -> (f64, f64) {
    let mut millis = Vec::new();
    for url in urls {
        let started = Instant::now();
        let response = client.get(url).send().await.expect("query");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let _ = response.bytes().await;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    millis.sort_by(f64::total_cmp);
    (percentile(&millis, 0.5), percentile(&millis, 0.99))
}

/// Reads a gauge or counter value from the server's /metrics.
async fn metric_value(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = match client.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until no compaction runs and the part count has stopped changing for a few
/// maintenance passes.
async fn wait_for_compaction(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    let mut last = -1.0;
    let mut stable = 0;
    while stable < 3 && started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let parts = metric_value(client, base, "sightline_parts").await;
        let running = metric_value(client, base, "sightline_compactions_running").await;
        stable = if parts == last && running == 0.0 {
            stable + 1
        } else {
            0
        };
        last = parts;
    }
    let compactions = metric_value(client, base, "sightline_compactions_total").await;
    println!(
        "maintenance settled after {:.0}s: {last} parts, {compactions} compactions",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    let generating = Instant::now();
    let traffic = generate(&options);
    let (requests, bytes): (usize, usize) = traffic.iter().fold((0, 0), |(n, b), connection| {
        (
            n + connection.requests.len(),
            b + connection
                .requests
                .iter()
                .map(|(body, _)| body.len())
                .sum::<usize>(),
        )
    });
    println!(
        "traffic: {requests} export requests, {:.1} MB of OTLP protobuf, built and encoded in {:.1} s before the timed phase",
        bytes as f64 / 1e6,
        generating.elapsed().as_secs_f64()
    );
    let server = start_server(&options);
    let pid = server.child.id();
    println!(
        "sightline loadgen: {} spans over {} gRPC connections, {} traces per export, span metrics and service graph {}, maintenance every {} s",
        options.spans,
        options.connections,
        options.batch_traces,
        if options.processors { "on" } else { "off" },
        options.maintenance_interval_seconds
    );
    let (_, own_cpu_before) = process_usage(std::process::id());
    let (spans, elapsed, trace_ids) = ingest(&server, traffic).await;
    let (_, own_cpu_after) = process_usage(std::process::id());
    if let Some(path) = &options.dump_ndjson {
        println!(
            "dumped {spans} spans as NDJSON (otel_traces columns) to {}",
            path.display()
        );
    }
    if let Some(path) = &options.sample_ids {
        let lines: String = trace_ids.iter().map(|id| format!("{id}\n")).collect();
        std::fs::write(path, lines)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }
    let (rss_after_ingest, cpu) = process_usage(pid);
    println!("ingest: {spans} spans in {:.1}s = {:.0} spans/s (WAL fsync on); server CPU {:.1}s ({:.2} cores); peak RSS {rss_after_ingest:.0} MiB",
        elapsed.as_secs_f64(), spans as f64 / elapsed.as_secs_f64(), cpu, cpu / elapsed.as_secs_f64());
    println!(
        "load generator CPU during ingest: {:.1}s ({:.2} cores)",
        own_cpu_after - own_cpu_before,
        (own_cpu_after - own_cpu_before) / elapsed.as_secs_f64()
    );

    let client = reqwest::Client::new();
    let base = format!("http://{}", server.http);
    wait_for_compaction(&client, &base).await;
    // Ingest's whole cost includes the compactions it causes, wherever they fall against the
    // end of ingest; comparisons (processors on and off) should use this figure.
    let (_, cpu_settled) = process_usage(pid);
    println!(
        "server CPU through maintenance: {cpu_settled:.1}s = {:.1} µs/span",
        cpu_settled / spans as f64 * 1e6
    );
    let by_id: Vec<String> = trace_ids
        .iter()
        .cycle()
        .take(options.queries)
        .map(|id| format!("{base}/api/v1/traces/{id}"))
        .collect();
    let (p50, p99) = time_queries(&client, &by_id).await;
    println!("trace by id (head + parts, no time range): p50 {p50:.2} ms, p99 {p99:.2} ms");
    for (label, query) in [
        ("search by service", "service=svc-07"),
        (
            "search by operation",
            "service=svc-07&operation=GET%20%2Fapi%2Fv1%2Fitems%2F%7Bid%7D",
        ),
        (
            "search by attribute",
            "attributes=http.response.status_code%3D503",
        ),
        ("search by duration", "minDuration=900ms"),
    ] {
        // Every span was sent within the run: a day back covers them all, well inside the
        // server's `query.max_query_range_hours`.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|now| now.as_nanos() as u64)
            .unwrap_or(0)
            .saturating_sub(86_400_000_000_000);
        let urls: Vec<String> = (0..20)
            .map(|_| format!("{base}/api/v1/traces?{query}&limit=20&start={since}"))
            .collect();
        let (p50, p99) = time_queries(&client, &urls).await;
        println!("{label}: p50 {p50:.1} ms, p99 {p99:.1} ms");
    }
    let (peak_rss, _) = process_usage(pid);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let mut child = server.child;
    let _ = child.wait();
    let objects = dir_bytes(&server.data_dir.path().join("objects"));
    println!("peak RSS {peak_rss:.0} MiB; parts on disk after shutdown flush: {objects} bytes = {:.1} bytes/span", objects as f64 / spans as f64);
    if std::env::var_os("SIGHTLINE_LOADGEN_KEEP_DATA").is_some() {
        println!("data kept in {}", server.data_dir.keep().display());
    }
}
