//! The three servers under test: how each is started on loopback with a temporary data
//! directory, where it takes remote write and PromQL, how its data is flushed and measured.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sightline,
    Prometheus,
    VictoriaMetrics,
}

impl Kind {
    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sightline => "sightline",
            Kind::Prometheus => "prometheus",
            Kind::VictoriaMetrics => "victoriametrics",
        }
    }

    /// Parses a `--targets` entry.
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "sightline" => Some(Kind::Sightline),
            "prometheus" => Some(Kind::Prometheus),
            "victoriametrics" | "victoria-metrics" | "vm" => Some(Kind::VictoriaMetrics),
            _ => None,
        }
    }
}

/// A running server.
pub struct Target {
    pub kind: Kind,
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Sightline's OTLP/gRPC address (`127.0.0.1:PORT`); empty for the others.
    pub otlp_grpc: String,
    pub data_dir: tempfile::TempDir,
    /// The server's stderr/stdout, kept for failures.
    pub log_path: PathBuf,
    pub version: String,
}

impl Target {
    /// The remote write URL.
    pub fn write_url(&self) -> String {
        match self.kind {
            Kind::Sightline => format!("{}/prometheus/api/v1/write", self.base),
            Kind::Prometheus | Kind::VictoriaMetrics => format!("{}/api/v1/write", self.base),
        }
    }

    /// The Prometheus-compatible API prefix (`…/api/v1`).
    pub fn api_url(&self) -> String {
        match self.kind {
            Kind::Sightline => format!("{}/prometheus/api/v1", self.base),
            Kind::Prometheus | Kind::VictoriaMetrics => format!("{}/api/v1", self.base),
        }
    }

    /// The data directory whose size is reported.
    pub fn storage_dir(&self) -> PathBuf {
        match self.kind {
            Kind::Sightline | Kind::VictoriaMetrics => self.data_dir.path().join("data"),
            Kind::Prometheus => self.data_dir.path().join("tsdb"),
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sends SIGTERM and waits up to `deadline` for a clean exit (then kills).
    pub fn stop(&mut self, deadline: Duration) -> Duration {
        let started = Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        while started.elapsed() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "{} did not stop within {deadline:?}; killing it",
            self.kind.name()
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        started.elapsed()
    }
}

fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// "package version" of a Debian package (VictoriaMetrics' `-version` prints nothing in
/// Debian's build).
fn package_version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .map(|output| {
            format!(
                "{package} {}",
                String::from_utf8_lossy(&output.stdout).trim()
            )
        })
        .unwrap_or_else(|_| package.to_string())
}

/// Starts a server of `kind` on loopback with a fresh temporary data directory
/// (`sightline_binary` is the Sightline executable).
pub fn start(kind: Kind, sightline_binary: &Path) -> Target {
    match kind {
        Kind::Sightline => start_sightline(sightline_binary),
        Kind::Prometheus => start_prometheus(),
        Kind::VictoriaMetrics => start_victoria_metrics(),
    }
}

/// The release binary of this checkout.
pub fn default_sightline_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/sightline")
}

fn start_sightline(binary: &Path) -> Target {
    assert!(
        binary.is_file(),
        "build the server first: cargo build --release ({} missing)",
        binary.display()
    );
    let data_dir = tempfile::tempdir().expect("temp dir");
    // Frequent maintenance, so the queries after ingest run over compacted parts; more
    // `[store]` keys from SIGHTLINE_BENCH_STORE_CONFIG (TOML lines), for trying settings; the
    // sample limit raised as Prometheus' is (the count check holds 57.6 M samples at once).
    let config = data_dir.path().join("metricsgen.toml");
    let extra = std::env::var("SIGHTLINE_BENCH_STORE_CONFIG").unwrap_or_default();
    std::fs::write(
        &config,
        format!(
            "[store]\nmaintenance_interval_seconds = 3\n{extra}\n\
             [query]\nmax_samples_per_query = 1000000000\n"
        ),
    )
    .expect("write config");
    let log_path = data_dir.path().join("server.log");
    let mut child = Command::new(binary)
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
        .arg(data_dir.path().join("data"))
        .env("SIGHTLINE_LOG", "warn,sightline::server=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sightline");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut log = std::fs::File::create(&log_path).expect("create server log");
    // Copies the log to a file and reports the "listening" line (as tests/e2e/server.rs does).
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = writeln!(log, "{line}");
            if line.contains(" listening ") && line.contains(" http=") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("sightline printed its listening line within 60 s");
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|token| token.strip_prefix(name))
            .unwrap_or_else(|| panic!("a {name} field in the listening line"))
            .to_string()
    };
    let version = format!("sightline {}", git_head());
    Target {
        kind: Kind::Sightline,
        child,
        base: format!("http://{}", field("http=")),
        otlp_grpc: field("otlp_grpc="),
        data_dir,
        log_path,
        version,
    }
}

fn git_head() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default()
}

fn spawn_logged(mut command: Command, log_path: &Path) -> Child {
    let log = std::fs::File::create(log_path).expect("create server log");
    let log_err = log.try_clone().expect("clone log handle");
    command
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .unwrap_or_else(|error| panic!("start {command:?}: {error} (apt-get install it)"))
}

fn wait_ready(url: &str, child: &mut Child, log_path: &Path) {
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "server exited with {status} before becoming ready; log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
        }
        if let Ok(response) = client.get(url).send() {
            if response.status().is_success() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} not ready within 60 s");
}

fn start_prometheus() -> Target {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = data_dir.path().join("prometheus.yml");
    // No scrape jobs: only remote-written samples land in the TSDB.
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("write config");
    let port = free_loopback_port();
    let log_path = data_dir.path().join("server.log");
    let mut command = Command::new("prometheus");
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data_dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        // The admin API's snapshot writes the head as a block, for the size on disk.
        .arg("--web.enable-admin-api")
        .arg("--storage.tsdb.retention.time=30d")
        // The completeness check counts every sample of a family in one query.
        .arg("--query.max-samples=1000000000");
    let mut child = spawn_logged(command, &log_path);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/-/ready"), &mut child, &log_path);
    Target {
        kind: Kind::Prometheus,
        child,
        base,
        otlp_grpc: String::new(),
        data_dir,
        log_path,
        version: package_version("prometheus"),
    }
}

fn start_victoria_metrics() -> Target {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let port = free_loopback_port();
    let log_path = data_dir.path().join("server.log");
    let mut command = Command::new("victoria-metrics");
    command
        .arg(format!(
            "-storageDataPath={}",
            data_dir.path().join("data").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-retentionPeriod=1")
        // Repeated query_range runs must do the work each time, as the others do.
        .arg("-search.disableCache")
        // Data ends at the start of the run; without this the newest 30 s stay invisible.
        .arg("-search.latencyOffset=0s");
    let mut child = spawn_logged(command, &log_path);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/health"), &mut child, &log_path);
    Target {
        kind: Kind::VictoriaMetrics,
        child,
        base,
        otlp_grpc: String::new(),
        data_dir,
        log_path,
        version: package_version("victoria-metrics"),
    }
}

/// Reads (peak RSS in MiB, CPU seconds) of a process from /proc.
pub fn process_usage(pid: u32) -> (f64, f64) {
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
    (peak_kib / 1024.0, (ticks(11) + ticks(12)) / 100.0)
}

/// CPU seconds the whole machine has spent busy (all cores, from `/proc/stat`).
pub fn machine_busy_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: f64 = fields
        .iter()
        .enumerate()
        .filter(|(index, _)| *index < 8 && *index != 3 && *index != 4)
        .map(|(_, ticks)| ticks)
        .sum();
    busy / 100.0
}

/// CPU seconds of processes other than the server and this bench: (server, others).
pub struct CpuMeter {
    server_pid: u32,
    server: f64,
    own: f64,
    machine: f64,
}

impl CpuMeter {
    /// Starts measuring.
    pub fn start(server_pid: u32) -> Self {
        Self {
            server_pid,
            server: process_usage(server_pid).1,
            own: process_usage(std::process::id()).1,
            machine: machine_busy_cpu_seconds(),
        }
    }

    /// (server, this bench, everything else) CPU seconds since [`CpuMeter::start`].
    pub fn read(&self) -> (f64, f64, f64) {
        let server = process_usage(self.server_pid).1 - self.server;
        let own = process_usage(std::process::id()).1 - self.own;
        let machine = machine_busy_cpu_seconds() - self.machine;
        (server, own, (machine - server - own).max(0.0))
    }
}

/// Bytes of the regular files under `path`.
pub fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
                    Ok(kind) if kind.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
                    _ => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes under each entry of `path` (one level), for the report's breakdown.
pub fn dir_breakdown(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| {
                    let name = entry.file_name().to_string_lossy().to_string();
                    let bytes = match entry.file_type() {
                        Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
                        _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
                    };
                    (name, bytes)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a counter or gauge (summed over its labels) from a `/metrics` text page.
pub async fn metric_value(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = match client.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until the server has used less than 5% of a core for three 2-second windows in a
/// row (its own flushes, merges and compactions done), at most 10 minutes.
pub async fn wait_until_idle(client: &reqwest::Client, target: &Target) {
    let pid = target.child.id();
    let started = Instant::now();
    let mut quiet = 0;
    let mut last_parts = -1.0;
    while quiet < 3 && started.elapsed() < Duration::from_secs(600) {
        let (_, before) = process_usage(pid);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, after) = process_usage(pid);
        let parts = if target.kind == Kind::Sightline {
            metric_value(client, &target.base, "sightline_metric_parts").await
        } else {
            0.0
        };
        quiet = if (after - before) / 2.0 < 0.05 && parts == last_parts {
            quiet + 1
        } else {
            0
        };
        last_parts = parts;
    }
}
