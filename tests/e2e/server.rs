//! [`TestServer`]: the real `sightline` binary on ephemeral ports with a temporary data
//! directory. On a failing test it prints the command, ports, data directory and log tail.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `sightline` process.
pub struct TestServer {
    child: Option<Child>,
    command: String,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    logs: Arc<Mutex<Vec<String>>>,
    /// Query API address.
    pub http: SocketAddr,
    /// OTLP/gRPC address.
    pub grpc: SocketAddr,
    /// OTLP/HTTP address.
    pub otlp_http: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    /// The client readiness is checked with (trusting the test CA under TLS).
    client: reqwest::blocking::Client,
}

impl TestServer {
    /// Starts a server on a new temporary data directory.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("create temp dir");
        let mut server = Self::start_in(temp.path(), &[]);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on `data_dir` with extra flags, and waits until it is ready.
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> Self {
        Self::start_with(data_dir, extra_args, None)
    }

    /// Starts a server whose config turns TLS on; `client` trusts its certificate.
    pub fn start_tls_in(
        data_dir: &Path,
        extra_args: &[&str],
        client: reqwest::blocking::Client,
    ) -> Self {
        Self::start_with(data_dir, extra_args, Some(client))
    }

    fn start_with(
        data_dir: &Path,
        extra_args: &[&str],
        tls_client: Option<reqwest::blocking::Client>,
    ) -> Self {
        let binary = env!("CARGO_BIN_EXE_sightline");
        let mut args: Vec<String> = [
            "--http-listen",
            "127.0.0.1:0",
            "--otlp-grpc-listen",
            "127.0.0.1:0",
            "--otlp-http-listen",
            "127.0.0.1:0",
            "--data-dir",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        args.push(data_dir.display().to_string());
        args.extend(extra_args.iter().map(|arg| arg.to_string()));
        let command = format!("{binary} {}", args.join(" "));
        let mut child = Command::new(binary)
            .args(&args)
            .env("SIGHTLINE_LOG", "info,sightline_store=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command}: {error}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addresses_tx, addresses_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" listening ") && line.contains(" http=") {
                    let _ = addresses_tx.send(line.clone());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Self {
            child: Some(child),
            command,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            logs,
            http: "0.0.0.0:0".parse().unwrap(),
            grpc: "0.0.0.0:0".parse().unwrap(),
            otlp_http: "0.0.0.0:0".parse().unwrap(),
            scheme: if tls_client.is_some() {
                "https"
            } else {
                "http"
            },
            client: tls_client.unwrap_or_default(),
        };
        let line = match addresses_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => panic!("server did not start listening within 60s"),
        };
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|token| token.strip_prefix(&format!("{name}=")))
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        };
        server.http = field("http");
        server.grpc = field("otlp_grpc");
        server.otlp_http = field("otlp_http");
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = self.url("/readyz");
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.client.get(&url).send() {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => last = format!("status {}", response.status()),
                Err(error) => last = format!("{error:?}"),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{url} did not turn ready within 30s; last: {last}");
    }

    /// Returns a URL on the query port.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.http, path)
    }

    /// Returns a URL on the OTLP/HTTP port.
    pub fn otlp_url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.otlp_http, path)
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reap");
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within 30s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Returns the server's log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- sightline test server ---\ncommand: {}", self.command);
            eprintln!(
                "ports: http={} otlp_grpc={} otlp_http={}",
                self.http, self.grpc, self.otlp_http
            );
            eprintln!("data dir {}:", self.data_dir.display());
            for entry in walk(&self.data_dir) {
                eprintln!("  {entry}");
            }
            let logs = self.logs();
            eprintln!("last log lines:");
            for line in logs.iter().skip(logs.len().saturating_sub(60)) {
                eprintln!("  {line}");
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                let size = entry.metadata().map(|meta| meta.len()).unwrap_or(0);
                found.push(format!("{} ({size} bytes)", path.display()));
            }
        }
    }
    found
}
