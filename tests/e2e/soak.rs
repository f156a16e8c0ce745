//! Soak: 14 real OpenTelemetry SDK clients (traces, logs and metrics; OTLP/gRPC and
//! OTLP/HTTP protobuf) of two tenants offer about twice their tenants' ingest rate limits to
//! the server for minutes (loopback only), and then this checks:
//!
//! - the clients are throttled, not failed: no export fails with anything but a throttling
//!   answer (429/503, RESOURCE_EXHAUSTED/UNAVAILABLE), which the real OTLP exporters retry
//!   after the server's `Retry-After`/`RetryInfo` (giving a batch up after 30 s of that is
//!   allowed for at most 1% of the batches); the server answered a noticeable share of requests
//!   that way, over both limits (one tenant is limited on items, the other on bytes), and no
//!   request otherwise (no 5xx, no partial success). What the applications emit beyond that,
//!   their SDKs' queues drop, as they would in production;
//! - the limits hold: the items-limited tenant got no more than its rate (plus its burst);
//! - memory stays bounded: the server's peak RSS (`VmHWM`) stays under a bound derived from the
//!   configured budgets (see [`memory_bound_bytes`]);
//! - nothing acknowledged is lost: every span, log record and metric point whose export the
//!   SDK saw succeed is queryable afterwards, looked up one by one, and the traces hold no span
//!   that no client sent.
//!
//! Each client wraps its OTLP exporter in a recording exporter (`soak/ledger.rs`) that notes
//! the ids of every batch it exported and the outcome, so the bookkeeping is exact.
//!
//! It runs 120 s of load by default; `SIGHTLINE_SOAK_SECONDS` sets another duration, e.g. ten
//! minutes: `SIGHTLINE_SOAK_SECONDS=600 cargo test --test e2e soak -- --nocapture`. With
//! `--nocapture` it prints a summary line (rates accepted, server answers, failures, the
//! server's RSS per stretch of the run) and how long the lookups took.

mod clients;
mod ledger;
mod verify;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clients::{ClientLedger, ClientSpec, Endpoints, Finished, Signal, Transport};
use ledger::SpanKey;
use verify::{proc_status_bytes, ServerMetrics};

use crate::fixtures::now_nanos;
use crate::server::TestServer;

const DEFAULT_SECONDS: u64 = 120;
const MIB: u64 = 1024 * 1024;

/// The tenant limited on items (spans, records and points together) per second.
const ITEMS_TENANT: &str = "soak-items";
const ITEMS_PER_SECOND: u64 = 1_500;
/// The tenant limited on request bytes per second.
const BYTES_TENANT: &str = "soak-bytes";
const BYTES_PER_SECOND: u64 = 384 * 1024;
const BURST_SECONDS: u64 = 1;
// The budgets memory is bounded by (see `memory_bound_bytes`).
const MAX_IN_FLIGHT_BYTES: u64 = 16 * MIB;
const HEAD_MAX_BYTES: u64 = 64 * MIB;
const LOG_HEAD_MAX_BYTES: u64 = 32 * MIB;
const LOG_INDEX_WRITER_HEAP_BYTES: u64 = 16 * MIB;
/// The SDK batch processors' batch size (their default), for the burst bound.
const SDK_BATCH: u64 = 512;
/// How long the clients' final exports may take after they stop emitting.
const DRAIN_DEADLINE: Duration = Duration::from_secs(90);
/// How often the server's RSS is sampled.
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(250);
/// The least share of the server's answers that must be throttling.
const MIN_THROTTLED_SHARE: f64 = 0.2;
/// The largest share of batches (to acknowledged ones) the exporters may give up on while
/// throttled.
const MAX_GIVEN_UP_SHARE: f64 = 0.01;

fn config() -> String {
    format!(
        "[store]\nflush_max_spans = 50000\nhead_max_bytes = {HEAD_MAX_BYTES}\n\
         log_head_max_bytes = {LOG_HEAD_MAX_BYTES}\n\
         log_index_writer_heap_bytes = {LOG_INDEX_WRITER_HEAP_BYTES}\n\
         [collector]\nmulti_tenancy = true\nmax_body_size_bytes = {}\n\
         max_in_flight_bytes = {MAX_IN_FLIGHT_BYTES}\n\
         tenant_ingest_items_per_second = {ITEMS_PER_SECOND}\n\
         tenant_ingest_burst_seconds = {BURST_SECONDS}\n\
         [collector.tenant_limits.{BYTES_TENANT}]\nitems_per_second = 0\n\
         bytes_per_second = {BYTES_PER_SECOND}\n\
         [query]\nmulti_tenancy = true\n",
        4 * MIB
    )
}

/// The most memory the server may hold: its idle footprint plus what the budgets let it hold
/// at once.
///
/// - Request bytes in flight: at most `max_in_flight_bytes`, counted four times, for the
///   decoded messages and model rows alive next to the bodies during decode and hand-off.
/// - The trace head: appends are refused beyond `head_max_bytes`; counted three times, for a
///   head being flushed next to the new one and the Arrow and Parquet encoding of the flush
///   (or of a compaction's output).
/// - The log head: likewise `log_head_max_bytes`, twice while the index commits it.
/// - One tantivy index writer per tenant, `log_index_writer_heap_bytes` each.
/// - 320 MiB for the runtime: mostly freed memory the allocator keeps for a while (mimalloc
///   returns freed pages after a one-second `purge_delay`; with `MIMALLOC_PURGE_DELAY=0` the
///   steady RSS of this soak is about 100 MiB lower), then thread stacks, metric heads and
///   part metadata.
///
/// Measured on a 2-core machine (idle 44 MiB, bound 716 MiB): steady 250-330 MiB, with peaks
/// during head flushes and compactions up to 380 MiB in 2 minutes and 530 MiB in 6 or 10
/// minutes. A server that kept what it accepted (about 1 MB/s of requests) or what it refused
/// in memory would cross the bound within minutes.
fn memory_bound_bytes(idle_rss_bytes: u64) -> u64 {
    idle_rss_bytes
        + 4 * MAX_IN_FLIGHT_BYTES
        + 3 * HEAD_MAX_BYTES
        + 2 * LOG_HEAD_MAX_BYTES
        + 2 * LOG_INDEX_WRITER_HEAP_BYTES
        + 320 * MIB
}

/// Per tenant: two gRPC and two HTTP trace clients, one gRPC and one HTTP log client, and a
/// metrics client.
fn client_specs() -> Vec<ClientSpec> {
    let mut specs = Vec::new();
    for (tenant, metrics_transport) in [
        (ITEMS_TENANT, Transport::Grpc),
        (BYTES_TENANT, Transport::HttpProtobuf),
    ] {
        for (signal, transport, count) in [
            (Signal::Traces, Transport::Grpc, 2),
            (Signal::Traces, Transport::HttpProtobuf, 2),
            (Signal::Logs, Transport::Grpc, 1),
            (Signal::Logs, Transport::HttpProtobuf, 1),
            (Signal::Metrics, metrics_transport, 1),
        ] {
            for index in 0..count {
                let name = format!("{tenant}-{signal:?}-{transport:?}-{index}").to_lowercase();
                specs.push(ClientSpec {
                    name,
                    tenant,
                    signal,
                    transport,
                });
            }
        }
    }
    specs
}

/// What a run of the clients left.
struct Run {
    finished: Vec<Finished>,
    /// The server's largest sampled RSS in each [`Run::window`] of the run, in bytes.
    rss_peaks: Vec<u64>,
    window: Duration,
    /// From the clients' start to their last export's end.
    elapsed: Duration,
}

/// Runs the clients for `seconds` against `server`, sampling its RSS, until they have shut
/// down and their last exports have returned.
fn run_clients(server: &TestServer, seconds: u64) -> Run {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let endpoints = Endpoints::of(server, runtime.handle().clone());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let window = Duration::from_secs((seconds / 8).max(10));
    let mut rss_peaks = Vec::new();
    let mut sample_rss = || {
        let index = (started.elapsed().as_secs_f64() / window.as_secs_f64()) as usize;
        if rss_peaks.len() <= index {
            rss_peaks.resize(index + 1, 0);
        }
        rss_peaks[index] = rss_peaks[index].max(proc_status_bytes(server.pid(), "VmRSS"));
    };
    let clients: Vec<_> = client_specs()
        .into_iter()
        .map(|spec| clients::start(spec, &endpoints, stop.clone()))
        .collect();
    let load_until = started + Duration::from_secs(seconds);
    while Instant::now() < load_until {
        sample_rss();
        std::thread::sleep(RSS_SAMPLE_INTERVAL);
    }
    stop.store(true, Ordering::Relaxed);
    let finished: Vec<Finished> = clients.into_iter().map(clients::Client::join).collect();
    // A shutdown that timed out leaves its exporter thread exporting: wait until the SDK is
    // done with every exporter, so that the ledgers are final.
    let drain_deadline = Instant::now() + DRAIN_DEADLINE;
    while !finished.iter().all(|client| client.ledger.is_final()) {
        assert!(
            Instant::now() < drain_deadline,
            "exporters still busy {DRAIN_DEADLINE:?} after the clients stopped"
        );
        sample_rss();
        std::thread::sleep(RSS_SAMPLE_INTERVAL);
    }
    sample_rss();
    Run {
        finished,
        rss_peaks,
        window,
        elapsed: started.elapsed(),
    }
}

/// The clients' ledgers added up.
#[derive(Default)]
struct Totals {
    spans: usize,
    records: usize,
    points: usize,
    /// Items of every signal acknowledged to [`ITEMS_TENANT`]'s clients.
    items_tenant_items: usize,
    acknowledged_batches: u64,
    failed_items: usize,
    /// Batches whose exporter gave up while still throttled, and by which clients.
    given_up_batches: usize,
    given_up_by: Vec<String>,
    other_failures: Vec<String>,
    /// Spans and records emitted and never exported: the SDK queues were full.
    dropped_by_sdk: u64,
    starved: Vec<String>,
    shutdown_errors: Vec<String>,
}

fn add_up(finished: &[Finished]) -> Totals {
    let mut totals = Totals::default();
    for client in finished {
        let tally = client.ledger.tally();
        let name = &client.spec.name;
        match client.spec.signal {
            Signal::Traces => totals.spans += tally.acknowledged,
            Signal::Logs => totals.records += tally.acknowledged,
            Signal::Metrics => totals.points += tally.acknowledged,
        }
        if client.spec.tenant == ITEMS_TENANT {
            totals.items_tenant_items += tally.acknowledged;
        }
        totals.acknowledged_batches += tally.acknowledged_batches;
        totals.failed_items += tally.failed;
        if client.spec.signal != Signal::Metrics {
            totals.dropped_by_sdk += client.emitted - (tally.acknowledged + tally.failed) as u64;
        }
        if !tally.throttled_failures.is_empty() {
            totals.given_up_batches += tally.throttled_failures.len();
            totals
                .given_up_by
                .push(format!("{name} ×{}", tally.throttled_failures.len()));
        }
        let other = tally.other_failures.iter();
        totals
            .other_failures
            .extend(other.map(|error| format!("{name}: {error}")));
        if tally.acknowledged_batches == 0 {
            totals.starved.push(name.clone());
        }
        if let Err(error) = &client.shutdown {
            totals.shutdown_errors.push(format!("{name}: {error}"));
        }
    }
    totals
}

#[test]
fn sdk_clients_above_the_limits_are_throttled_not_failed_and_nothing_acknowledged_is_lost() {
    let seconds: u64 = std::env::var("SIGHTLINE_SOAK_SECONDS")
        .ok()
        .map(|text| {
            text.parse()
                .unwrap_or_else(|_| panic!("SIGHTLINE_SOAK_SECONDS={text:?} is not seconds"))
        })
        .unwrap_or(DEFAULT_SECONDS);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("sightline.toml");
    std::fs::write(&config_path, config()).unwrap();
    let config_arg = config_path.display().to_string();
    let server = TestServer::start_in(&dir.path().join("data"), &["--config", config_arg.as_str()]);
    let idle_rss = proc_status_bytes(server.pid(), "VmRSS");
    let window_start = now_nanos() - 60_000_000_000;

    let run = run_clients(&server, seconds);
    // The kernel's high-water mark also catches peaks between samples.
    let peak_rss = proc_status_bytes(server.pid(), "VmHWM");
    let metrics = ServerMetrics::scrape(&server);
    let totals = add_up(&run.finished);
    let throttled_answers = metrics.answers("rate_limited") + metrics.answers("unavailable");
    let successful_answers = metrics.answers("success");
    let throttled_share = throttled_answers / (throttled_answers + successful_answers).max(1.0);
    let over_items = metrics.sum("sightline_ingest_rate_limited_total", &[("limit", "items")]);
    let over_bytes = metrics.sum("sightline_ingest_rate_limited_total", &[("limit", "bytes")]);
    let run_seconds = run.elapsed.as_secs_f64();
    let bound = memory_bound_bytes(idle_rss);
    let rss_peaks: Vec<String> = run
        .rss_peaks
        .iter()
        .map(|rss| (rss / MIB).to_string())
        .collect();
    eprintln!(
        "soak: {seconds} s of load by {} SDK clients, {run_seconds:.0} s in all; accepted {:.0} \
         spans/s, {:.0} records/s, {:.1} points/s ({ITEMS_TENANT}: {:.0} items/s, limit \
         {ITEMS_PER_SECOND}); server answers: {successful_answers} ok, {throttled_answers} \
         throttled ({:.0}%; over items {over_items}, over bytes {over_bytes}, in-flight budget or \
         unavailable {}); exports given up while throttled: {} ({} items) {:?}, failed \
         otherwise: {}; dropped by full SDK queues: {}; server RSS idle {} MiB, peak {} MiB, \
         bound {} MiB, peaks per {} s: [{}] MiB",
        run.finished.len(),
        totals.spans as f64 / run_seconds,
        totals.records as f64 / run_seconds,
        totals.points as f64 / run_seconds,
        totals.items_tenant_items as f64 / run_seconds,
        throttled_share * 100.0,
        throttled_answers - over_items - over_bytes,
        totals.given_up_batches,
        totals.failed_items,
        totals.given_up_by,
        totals.other_failures.len(),
        totals.dropped_by_sdk,
        idle_rss / MIB,
        peak_rss / MIB,
        bound / MIB,
        run.window.as_secs(),
        rss_peaks.join(" "),
    );

    assert!(
        totals.other_failures.is_empty(),
        "exports failed with something other than throttling: {:?}",
        totals.other_failures
    );
    assert!(
        totals.starved.is_empty(),
        "clients never acknowledged: {:?}",
        totals.starved
    );
    // An exporter gives up on a batch after EXPORT_TIMEOUT of throttling; a server that shares
    // a tenant's rate fairly among its clients makes that rare.
    assert!(
        totals.given_up_batches as f64 <= MAX_GIVEN_UP_SHARE * totals.acknowledged_batches as f64,
        "{} batches given up while throttled, for {} acknowledged",
        totals.given_up_batches,
        totals.acknowledged_batches
    );
    // A provider's shutdown fails when it cannot hand its last batches over, whatever the
    // exports answer (those are in the ledgers); its timeouts are waited out in `run_clients`.
    assert!(
        totals.shutdown_errors.is_empty(),
        "providers failed to shut down: {:?}",
        totals.shutdown_errors
    );
    assert!(
        throttled_share >= MIN_THROTTLED_SHARE,
        "the server throttled only {:.1}% of the answers",
        throttled_share * 100.0
    );
    assert!(over_items > 0.0, "the items limit never bit");
    assert!(over_bytes > 0.0, "the bytes limit never bit");
    let unexpected = metrics.other_outcomes(&["success", "rate_limited", "unavailable"]);
    assert!(unexpected.is_empty(), "the server answered {unexpected:?}");
    for rejected in [
        "sightline_collector_spans_rejected_total",
        "sightline_collector_records_rejected_total",
        "sightline_collector_points_rejected_total",
    ] {
        assert_eq!(metrics.sum(rejected, &[]), 0.0, "{rejected}");
    }
    assert!(
        metrics.sum("sightline_collector_spans_received_total", &[]) >= totals.spans as f64,
        "the server counted fewer spans than were acknowledged ({})",
        totals.spans
    );
    // Admission needs the items bucket out of debt and charges an export's items after
    // decoding it, so the bucket can end a full bucket in debt, and exports admitted at the
    // same moment are all charged: the rate, the burst, the debt and a batch per client.
    let items_clients = run
        .finished
        .iter()
        .filter(|client| client.spec.tenant == ITEMS_TENANT)
        .count() as u64;
    let items_allowed = ITEMS_PER_SECOND as f64 * (run_seconds + 2.0 * BURST_SECONDS as f64)
        + (items_clients * SDK_BATCH) as f64;
    assert!(
        totals.items_tenant_items as f64 <= items_allowed,
        "{ITEMS_TENANT} got {} items in, more than its limit allows ({items_allowed:.0})",
        totals.items_tenant_items
    );
    assert!(
        peak_rss <= bound,
        "server peak RSS {} MiB over the bound of {} MiB",
        peak_rss / MIB,
        bound / MIB
    );

    check_everything_acknowledged_is_queryable(&server, &run.finished, window_start, run.elapsed);
}

/// Looks every acknowledged span, log record and metric point up.
fn check_everything_acknowledged_is_queryable(
    server: &TestServer,
    finished: &[Finished],
    window_start: u64,
    elapsed: Duration,
) {
    let looked_up = Instant::now();
    let window_end = now_nanos() + 60_000_000_000;
    let (mut traces_read, mut records_read, mut points_read) = (0, 0, 0);
    for tenant in [ITEMS_TENANT, BYTES_TENANT] {
        let (mut acknowledged_spans, mut exported_spans) = (Vec::new(), HashSet::<SpanKey>::new());
        let mut acknowledged_tokens = Vec::new();
        for client in finished
            .iter()
            .filter(|client| client.spec.tenant == tenant)
        {
            match &client.ledger {
                ClientLedger::Spans(ledger) => {
                    let acknowledged = ledger.acknowledged();
                    exported_spans.extend(acknowledged.iter().chain(&ledger.failed()));
                    acknowledged_spans.extend(acknowledged);
                }
                ClientLedger::Logs(ledger) => acknowledged_tokens.extend(ledger.acknowledged()),
                ClientLedger::Ticks(ledger) => {
                    let range_seconds = elapsed.as_secs() + 120;
                    let stored = verify::stored_tick_points(
                        server,
                        tenant,
                        &client.spec.name,
                        range_seconds,
                    );
                    points_read += stored.len();
                    let missing: Vec<_> = ledger
                        .acknowledged()
                        .into_iter()
                        .filter(|point| !stored.contains(point))
                        .collect();
                    assert!(
                        missing.is_empty(),
                        "{}: {} acknowledged points not stored, e.g. {:?}; stored {:?}",
                        client.spec.name,
                        missing.len(),
                        &missing[..missing.len().min(5)],
                        stored.iter().take(5).collect::<Vec<_>>()
                    );
                }
            }
        }
        let findings = verify::check_spans(server, tenant, &acknowledged_spans, &exported_spans);
        traces_read += findings.traces_read;
        assert!(
            findings.missing.is_empty(),
            "{tenant}: {} of {} acknowledged spans not found, e.g. {:?}",
            findings.missing.len(),
            acknowledged_spans.len(),
            &findings.missing[..findings.missing.len().min(5)]
        );
        assert!(
            findings.unknown.is_empty(),
            "{tenant}: spans no client sent: {:?}",
            &findings.unknown[..findings.unknown.len().min(5)]
        );
        let (stored_tokens, records) =
            verify::stored_log_tokens(server, tenant, window_start, window_end);
        records_read += records;
        let missing: Vec<_> = acknowledged_tokens
            .iter()
            .filter(|token| !stored_tokens.contains(*token))
            .collect();
        assert!(
            missing.is_empty(),
            "{tenant}: {} of {} acknowledged log records not found, e.g. {:?}",
            missing.len(),
            acknowledged_tokens.len(),
            &missing[..missing.len().min(5)]
        );
    }
    eprintln!(
        "soak: every acknowledged item found ({traces_read} traces, {records_read} log records, \
         {points_read} metric points read in {:.0} s)",
        looked_up.elapsed().as_secs_f64()
    );
}
