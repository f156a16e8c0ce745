//! [`ExternalProcess`]: a real third-party server (Prometheus, Alertmanager) the tests start on
//! a free loopback port with a temporary directory; dropping it kills it, and on a failing test
//! it prints its command and log tail.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running third-party process.
pub struct ExternalProcess {
    child: Child,
    command: String,
    logs: Arc<Mutex<Vec<String>>>,
    /// `127.0.0.1:port` it listens on.
    pub address: String,
    /// Its scratch directory (config, storage), removed on drop.
    _dir: tempfile::TempDir,
}

impl ExternalProcess {
    /// Checks that `binary` is installed, or fails the test saying how to install `package`.
    pub fn require(binary: &str, package: &str) {
        assert!(
            Path::new(binary).is_file(),
            "{binary} is missing: this test needs it; install it with `apt-get install -y \
             --no-install-recommends {package}` (as .ci/run does)"
        );
    }

    /// Starts `binary` with `args` (built from the address it will listen on and its
    /// directory), keeping its stderr, and waits until `ready_path` answers 2xx.
    pub fn start(
        binary: &str,
        args: impl FnOnce(&str, &Path) -> Vec<String>,
        ready_path: &str,
        wait: Duration,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let args = args(&address, dir.path());
        let command = format!("{binary} {}", args.join(" "));
        let mut child = Command::new(binary)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {command}: {error}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let process = Self {
            child,
            command,
            logs,
            address,
            _dir: dir,
        };
        let url = process.url(ready_path);
        let deadline = Instant::now() + wait;
        loop {
            if reqwest::blocking::get(&url).is_ok_and(|response| response.status().is_success()) {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not turn ready within {wait:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A URL on the process's port.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Its log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for ExternalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} on {} ---", self.command, self.address);
            let logs = self.logs.lock().unwrap();
            for line in logs.iter().skip(logs.len().saturating_sub(40)) {
                eprintln!("  {line}");
            }
        }
    }
}

/// A loopback port that was free a moment ago (for programs that must know their own port).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
