//! Sends the pre-encoded requests over loopback, concurrently and in time order per series.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How far (in time slices) one connection may run ahead of the slowest one. Prometheus
/// refuses samples more than an hour older than its head's newest ("out of bounds"), so
/// the connections must advance through time together.
const MAX_SKEW_SLICES: usize = 2;
/// Attempts of a request answered 429, 5xx or with a transport error before giving up.
const MAX_ATTEMPTS: u32 = 6_000;
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// One encoded request: snappy-compressed protobuf and the samples it holds.
pub struct EncodedRequest {
    /// The body as sent, leaked so every target's sends share it without a copy (it lives
    /// as long as the bench).
    pub body: &'static [u8],
    /// Samples in it.
    pub samples: u64,
}

/// What an ingest run did.
#[derive(Debug, Default)]
pub struct IngestOutcome {
    pub requests: u64,
    /// Samples in requests answered 2xx.
    pub samples_acknowledged: u64,
    /// Samples in requests refused for good (4xx other than 429, or out of attempts).
    pub samples_refused: u64,
    pub failed_requests: u64,
    /// Retries after 429, 5xx or a transport error.
    pub retries: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    acknowledged: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    fn fail(&self, samples: u64, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.refused.fetch_add(samples, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(error);
        }
    }
}

/// Sends every request to `url` over `connections` concurrent connections. Connection `c`
/// owns the series groups `g` with `g % connections == c` and sends them slice by slice.
pub async fn send_all(
    client: &reqwest::Client,
    url: &str,
    requests: &Arc<Vec<Vec<EncodedRequest>>>,
    connections: usize,
) -> IngestOutcome {
    let groups = requests.len();
    let slices = requests.first().map(Vec::len).unwrap_or(0);
    let connections = connections.clamp(1, groups.max(1));
    let progress: Arc<Vec<AtomicUsize>> =
        Arc::new((0..connections).map(|_| AtomicUsize::new(0)).collect());
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (client, url) = (client.clone(), url.to_string());
        let (requests, progress, counters) = (requests.clone(), progress.clone(), counters.clone());
        tasks.push(tokio::spawn(async move {
            for slice in 0..slices {
                while progress
                    .iter()
                    .map(|done| done.load(Ordering::Acquire))
                    .min()
                    .unwrap_or(slices)
                    + MAX_SKEW_SLICES
                    < slice
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                for group in (connection..groups).step_by(connections) {
                    send_one(&client, &url, &requests[group][slice], &counters).await;
                }
                progress[connection].store(slice + 1, Ordering::Release);
            }
        }));
    }
    for task in tasks {
        task.await.expect("ingest task ran to its end");
    }
    let first_error = counters
        .first_error
        .lock()
        .map(|first| first.clone())
        .unwrap_or_default();
    IngestOutcome {
        requests: counters.requests.load(Ordering::Relaxed),
        samples_acknowledged: counters.acknowledged.load(Ordering::Relaxed),
        samples_refused: counters.refused.load(Ordering::Relaxed),
        failed_requests: counters.failed.load(Ordering::Relaxed),
        retries: counters.retries.load(Ordering::Relaxed),
        first_error,
        elapsed: started.elapsed(),
    }
}

async fn send_one(
    client: &reqwest::Client,
    url: &str,
    request: &EncodedRequest,
    counters: &Counters,
) {
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut last_error = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let answer = client
            .post(url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(request.body)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                counters
                    .acknowledged
                    .fetch_add(request.samples, Ordering::Relaxed);
                return;
            }
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                last_error = format!("{status}: {}", body.chars().take(300).collect::<String>());
                if status.as_u16() != 429 && !status.is_server_error() {
                    counters.fail(request.samples, last_error);
                    return;
                }
            }
            Err(error) => last_error = format!("transport: {error}"),
        }
        counters.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    counters.fail(
        request.samples,
        format!("gave up after {MAX_ATTEMPTS} attempts; last: {last_error}"),
    );
}
