//! A full disk: the server's data directory is a small tmpfs that a ballast file fills while
//! traces, logs and metrics keep arriving over OTLP/HTTP. Checked:
//!
//! - while the disk is full, every export is either acknowledged or answered retryably (503 or
//!   429 with `Retry-After`), never with a 500, and the server keeps serving queries;
//! - once the ballast is deleted, ingest recovers by itself (no restart);
//! - after a `kill -9` and a restart, every acknowledged span, log record and metric point is
//!   there: nothing acknowledged was lost or corrupted by the failed writes.
//!
//! Mounting a tmpfs needs root (CAP_SYS_ADMIN), which the test machines and CI have; where
//! `mount` is refused the test fails and says so rather than passing without checking.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::json;

use crate::crash::{all_found, label_values, log_lines, settle};
use crate::fixtures::{now_nanos, single_span, trace_id_hex};
use crate::server::TestServer;

/// The data directory's size: room for the server's files, small enough to fill in a moment.
const TMPFS_SIZE: &str = "48m";
/// Exports of each kind sent while the disk is full.
const EXPORTS_WHILE_FULL: u64 = 60;
/// How long ingest may take to come back once space returns.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);
/// Tiny flush thresholds, so the heads are written to parts (and the log index committed)
/// while the disk is full too, not only the WALs.
const CONFIG: &str = "[store]\nflush_max_spans = 5\nmetric_flush_max_samples = 5\nlog_commit_interval_millis = 200\n";
/// What the server logs when each background writer meets the full disk.
const BACKGROUND_FAILURES: [&str; 3] = [
    "head flush failed",
    "metric head flush failed",
    "log index commit failed",
];
/// What it logs once each has written again.
const BACKGROUND_SUCCESSES: [&str; 2] = ["flushed head to parts", "flushed metric head to parts"];

/// A tmpfs mounted over a directory for as long as this lives.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Self {
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "this test mounts a {size} tmpfs to fill it and needs root (CAP_SYS_ADMIN): mount said {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Self {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system holding `path` with one file, to the last block.
fn fill(path: &Path) -> u64 {
    let mut file = File::create(path).expect("create ballast");
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 512] {
        let bytes = vec![0x5a; chunk];
        while file.write_all(&bytes).is_ok() {
            written += chunk as u64;
        }
    }
    let _ = file.sync_all();
    written
}

/// Waits until the server has logged a line containing `needle` after its first `skip` lines.
fn wait_for_log(server: &TestServer, needle: &str, skip: usize) {
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    while !server
        .logs()
        .iter()
        .skip(skip)
        .any(|line| line.contains(needle))
    {
        assert!(
            Instant::now() < deadline,
            "the server never logged {needle:?} within {RECOVERY_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What was acknowledged, by kind.
#[derive(Default)]
struct Acknowledged {
    traces: Vec<String>,
    logs: Vec<u64>,
    points: Vec<u64>,
}

/// How the server answered the exports of one phase.
#[derive(Debug, Default)]
struct Answers {
    acknowledged: usize,
    retryable: usize,
}

/// Sends OTLP/HTTP JSON exports, one item each, numbered by `seq`.
struct Sender {
    client: Client,
    traces_url: String,
    logs_url: String,
    metrics_url: String,
    seq: u64,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Trace,
    Log,
    Point,
}

impl Sender {
    fn new(server: &TestServer) -> Self {
        Self {
            client: Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            traces_url: server.otlp_url("/v1/traces"),
            logs_url: server.otlp_url("/v1/logs"),
            metrics_url: server.otlp_url("/v1/metrics"),
            seq: 1,
        }
    }

    /// Sends one item of `kind`; records it in `acknowledged` when answered 200. Panics on
    /// any answer that is neither an acknowledgement nor a retryable refusal.
    fn send(&mut self, kind: Kind, acknowledged: &mut Acknowledged, answers: &mut Answers) -> bool {
        let seq = self.seq;
        self.seq += 1;
        let resource = json!({"attributes": [
            {"key": "service.name", "value": {"stringValue": "disk-full"}}]});
        let now = now_nanos();
        // Random-looking (it mixes in the clock), so made once.
        let trace_id = trace_id_hex(seq);
        let (url, body) = match kind {
            Kind::Trace => (
                &self.traces_url,
                single_span(&trace_id, "0102030405060708", "disk-full", "write", now),
            ),
            Kind::Log => (
                &self.logs_url,
                json!({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [{
                    "timeUnixNano": now.to_string(),
                    "body": {"stringValue": format!("fulldisk-{seq}")}}]}]}]}),
            ),
            Kind::Point => (
                &self.metrics_url,
                json!({"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [{
                    "name": "disk_full_points",
                    "gauge": {"dataPoints": [{"asDouble": 1.0, "timeUnixNano": now.to_string(),
                        "attributes": [{"key": "seq", "value": {"stringValue": seq.to_string()}}]}]}}]}]}]}),
            ),
        };
        let response = self
            .client
            .post(url)
            .json(&body)
            .send()
            .unwrap_or_else(|error| panic!("{kind:?} export {seq}: no answer: {error}"));
        let status = response.status().as_u16();
        if status == 200 {
            answers.acknowledged += 1;
            match kind {
                Kind::Trace => acknowledged.traces.push(trace_id),
                Kind::Log => acknowledged.logs.push(seq),
                Kind::Point => acknowledged.points.push(seq),
            }
            return true;
        }
        let retry_after = response.headers().get("retry-after").is_some();
        let text = response.text().unwrap_or_default();
        assert!(
            matches!(status, 429 | 503) && retry_after,
            "{kind:?} export {seq}: answered {status} (Retry-After: {retry_after}) {text}: a full \
             disk must be answered retryably"
        );
        answers.retryable += 1;
        false
    }
}

const KINDS: [Kind; 3] = [Kind::Trace, Kind::Log, Kind::Point];

/// Checks that every acknowledged item is served by `server` (polling while the log index and
/// metric heads catch up).
fn check_all_served(server: &TestServer, acknowledged: &Acknowledged, when: &str) {
    let client = Client::new();
    for trace_id in &acknowledged.traces {
        let url = server.url(&format!("/api/v1/traces/{trace_id}?format=otlp"));
        let status = client.get(&url).send().unwrap().status();
        assert_eq!(
            status, 200,
            "{when}: acknowledged trace {trace_id} is missing"
        );
    }
    let result = settle(|| {
        let found = log_lines(&client, server, "disk-full")?;
        all_found(
            &acknowledged.logs,
            &found,
            |seq| format!("fulldisk-{seq}"),
            "log records",
        )
    });
    assert_eq!(result, Ok(()), "{when}: logs");
    let result = settle(|| {
        let found = label_values(&client, server, "disk_full_points", "seq")?;
        all_found(
            &acknowledged.points,
            &found,
            |seq| seq.to_string(),
            "metric points",
        )
    });
    assert_eq!(result, Ok(()), "{when}: metrics");
}

#[test]
fn a_full_disk_is_answered_retryably_and_ingest_recovers_when_space_returns() {
    let temp = tempfile::tempdir().unwrap();
    let _tmpfs = Tmpfs::mount(temp.path(), TMPFS_SIZE);
    let data_dir = temp.path().join("data");
    let ballast = temp.path().join("ballast");
    let config = temp.path().join("sightline.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config_arg = config.display().to_string();
    let args = ["--config", config_arg.as_str()];
    let mut server = TestServer::start_in(&data_dir, &args);
    let mut sender = Sender::new(&server);
    let mut acknowledged = Acknowledged::default();

    let mut before = Answers::default();
    for _ in 0..10 {
        for kind in KINDS {
            assert!(
                sender.send(kind, &mut acknowledged, &mut before),
                "{kind:?} refused before the disk filled"
            );
        }
    }

    let ballast_bytes = fill(&ballast);
    eprintln!("disk full: {ballast_bytes} bytes of ballast");
    let mut full = [(); 3].map(|()| Answers::default());
    for _ in 0..EXPORTS_WHILE_FULL {
        for (index, kind) in KINDS.into_iter().enumerate() {
            sender.send(kind, &mut acknowledged, &mut full[index]);
        }
    }
    eprintln!("while full: {full:?}");
    for failure in BACKGROUND_FAILURES {
        wait_for_log(&server, failure, 0);
    }
    for (kind, answers) in KINDS.iter().zip(&full) {
        assert!(
            answers.retryable > 0,
            "{kind:?}: nothing was refused while the disk was full: {answers:?}"
        );
    }
    let healthz = Client::new().get(server.url("/healthz")).send().unwrap();
    assert_eq!(healthz.status(), 200, "the server stays up on a full disk");
    check_all_served(&server, &acknowledged, "while the disk is full");

    let lines_before_space_returns = server.logs().len();
    std::fs::remove_file(&ballast).expect("remove ballast");
    let started = Instant::now();
    for kind in KINDS {
        let mut answers = Answers::default();
        while !sender.send(kind, &mut acknowledged, &mut answers) {
            assert!(
                started.elapsed() < RECOVERY_DEADLINE,
                "{kind:?}: ingest did not recover within {RECOVERY_DEADLINE:?} of space returning"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    eprintln!("recovered in {:?}", started.elapsed());
    let mut after = Answers::default();
    for _ in 0..10 {
        for kind in KINDS {
            assert!(
                sender.send(kind, &mut acknowledged, &mut after),
                "{kind:?} refused after recovery"
            );
        }
    }
    for success in BACKGROUND_SUCCESSES {
        wait_for_log(&server, success, lines_before_space_returns);
    }
    check_all_served(&server, &acknowledged, "after recovery");
    let panics: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|line| line.contains("panicked"))
        .collect();
    assert!(panics.is_empty(), "the server panicked: {panics:?}");

    server.kill9();
    let server = TestServer::start_in(&data_dir, &args);
    check_all_served(&server, &acknowledged, "after kill -9 and restart");
}
