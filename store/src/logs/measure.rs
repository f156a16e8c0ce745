//! A measurement, not a test: `cargo test --release -p sightline-store --lib
//! logs::measure -- --ignored --nocapture` appends realistic records through the whole write
//! path (WAL fsync, head, tantivy commits) and prints ingest rate, bytes on disk against the
//! raw OTLP protobuf bytes, and search latencies. `SIGHTLINE_MEASURE_RECORDS` sets the count.

use std::time::Instant;

use prost::Message;
use sightline_model::{
    AnyValue, KeyValue, LogRecord, Resource, ResourceLogs, Scope, ScopeLogs, SpanId,
};

use super::*;
use crate::otlp::logs::logs_to_otlp;

const BATCH: usize = 1_000;
const APPENDERS: usize = 8;

fn batch(batch_index: usize, start_unix_nano: u64) -> LogBatch {
    let service = format!("service-{}", batch_index % 10);
    let logs = (0..BATCH)
        .map(|index| {
            let n = batch_index * BATCH + index;
            let status = [200, 200, 200, 404, 500][n % 5];
            LogRecord {
                time_unix_nano: start_unix_nano + n as u64 * 10_000,
                observed_time_unix_nano: start_unix_nano + n as u64 * 10_000 + 1_000,
                severity_number: if status == 500 { 17 } else { 9 },
                severity_text: if status == 500 { "ERROR" } else { "INFO" }.to_string(),
                body: Some(AnyValue::String(format!(
                    "GET /api/v1/orders/{} returned {status} in {}ms for user u{} request_id=req{n:012x}",
                    n % 5_000,
                    n % 97,
                    n % 1_000
                ))),
                attributes: vec![
                    KeyValue::new("http.request.method", AnyValue::String("GET".into())),
                    KeyValue::new("http.response.status_code", AnyValue::Int(status)),
                    KeyValue::new("user.id", AnyValue::String(format!("u{}", n % 1_000))),
                ],
                trace_id: n.is_multiple_of(2).then(|| TraceId((n as u128 + 1).to_be_bytes())),
                span_id: n.is_multiple_of(2).then(|| SpanId((n as u64 + 1).to_be_bytes())),
                ..LogRecord::default()
            }
        })
        .collect();
    LogBatch {
        resources: vec![ResourceLogs {
            resource: Resource {
                attributes: vec![
                    KeyValue::new("service.name", AnyValue::String(service)),
                    KeyValue::new("host.name", AnyValue::String("node-7".into())),
                    KeyValue::new("deployment.environment", AnyValue::String("prod".into())),
                ],
                ..Resource::default()
            },
            scopes: vec![ScopeLogs {
                scope: Scope {
                    name: "app".into(),
                    ..Scope::default()
                },
                logs,
            }],
        }],
    }
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
                    _ => entry.metadata().map_or(0, |meta| meta.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(mut samples: Vec<f64>, fraction: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * fraction) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn measure_ingest_disk_and_search() {
    let records: usize = std::env::var("SIGHTLINE_MEASURE_RECORDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let batches = records / BATCH;
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    store.spawn_background(&tracker, shutdown.clone());
    let start_unix_nano = now_unix_nano() - 3_600_000_000_000;
    let otlp_bytes: usize = (0..batches)
        .map(|index| {
            opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
                resource_logs: logs_to_otlp(&batch(index, start_unix_nano)).resource_logs,
            }
            .encoded_len()
        })
        .sum();
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..APPENDERS {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut index = worker;
            while index < batches {
                let batch = batch(index, start_unix_nano);
                loop {
                    match store
                        .append(&TenantId::default_tenant(), batch.clone())
                        .await
                    {
                        Ok(()) => break,
                        Err(Error::Overloaded { .. }) => {
                            tokio::time::sleep(Duration::from_millis(20)).await
                        }
                        Err(error) => panic!("{error}"),
                    }
                }
                index += APPENDERS;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = started.elapsed();
    store.flush().await.unwrap();
    let committed = started.elapsed();
    let rate = (batches * BATCH) as f64 / acknowledged.as_secs_f64();
    println!(
        "ingest: {} records acknowledged in {:.1}s = {rate:.0} records/s ({:.1} MB/s of OTLP protobuf); all committed after {:.1}s",
        batches * BATCH,
        acknowledged.as_secs_f64(),
        otlp_bytes as f64 / acknowledged.as_secs_f64() / 1e6,
        committed.as_secs_f64()
    );
    let timed = |query: LogQuery| {
        let store = store.clone();
        async move {
            let mut samples = Vec::new();
            let mut hits = 0;
            for _ in 0..30 {
                let started = Instant::now();
                hits = store
                    .search(&TenantId::default_tenant(), query.clone())
                    .await
                    .unwrap()
                    .hits
                    .len();
                samples.push(started.elapsed().as_secs_f64() * 1e3);
            }
            (
                percentile(samples.clone(), 0.5),
                percentile(samples, 0.99),
                hits,
            )
        }
    };
    let rare = LogQuery {
        filter: LogFilter::parse(&format!("req{:012x}", records / 3)).unwrap(),
        ..LogQuery::default()
    };
    let common = LogQuery {
        filter: LogFilter::parse("orders").unwrap(),
        ..LogQuery::default()
    };
    let phrase = LogQuery {
        filter: LogFilter::parse("\"returned 500\" service:service-3").unwrap(),
        ..LogQuery::default()
    };
    for (name, query) in [
        ("rare token", rare),
        ("common word", common),
        ("phrase + service", phrase),
    ] {
        let (p50, p99, hits) = timed(query).await;
        println!("search {name}: p50 {p50:.1} ms, p99 {p99:.1} ms ({hits} hits, limit 100)");
    }
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    store.close().await.unwrap();
    let index_bytes = dir_bytes(&dir.path().join("logs"));
    let wal_bytes = dir_bytes(&dir.path().join("wal-logs"));
    println!(
        "disk: index {index_bytes} bytes + wal {wal_bytes} bytes for {otlp_bytes} OTLP protobuf bytes = {:.3}x ({:.1} bytes/record)",
        (index_bytes + wal_bytes) as f64 / otlp_bytes as f64,
        (index_bytes + wal_bytes) as f64 / (batches * BATCH) as f64
    );
}
