//! Exact acknowledgement bookkeeping: exporters that wrap the real OTLP exporters, delegate
//! every call to them, and record in a [`Ledger`] the ids of each batch whose export returned
//! `Ok` (acknowledged) or an error (failed, with the error). The OTLP exporters retry throttled
//! exports themselves (honouring `Retry-After` and `RetryInfo`), so a batch lands here once, with
//! the outcome the application would see.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// The counter each metrics client increments; `soak_ticks_total` in PromQL.
pub const TICKS_METRIC: &str = "soak.ticks";

/// A span, by its ids.
pub type SpanKey = (TraceId, SpanId);

/// A point of [`TICKS_METRIC`]: its time in unix milliseconds and its cumulative value.
pub type TickPoint = (i64, u64);

/// What one client's exporter was answered, batch by batch.
#[derive(Debug)]
pub struct Ledger<T> {
    entries: Mutex<Entries<T>>,
    in_flight: AtomicUsize,
    /// Set when the SDK shut the exporter down, which it does after its last export.
    closed: AtomicBool,
}

#[derive(Debug)]
struct Entries<T> {
    acknowledged: Vec<T>,
    acknowledged_batches: u64,
    failed: Vec<T>,
    throttled_failures: Vec<String>,
    other_failures: Vec<String>,
}

/// A ledger's counts, and its failures' errors.
#[derive(Debug)]
pub struct Tally {
    pub acknowledged: usize,
    pub acknowledged_batches: u64,
    pub failed: usize,
    /// Errors of failed exports whose last answer was throttling (the exporter's retries ran
    /// out of time): the data is lost, but the server only said "later".
    pub throttled_failures: Vec<String>,
    /// Errors of failed exports for any other reason.
    pub other_failures: Vec<String>,
}

impl<T> Default for Ledger<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(Entries {
                acknowledged: Vec::new(),
                acknowledged_batches: 0,
                failed: Vec::new(),
                throttled_failures: Vec::new(),
                other_failures: Vec::new(),
            }),
            in_flight: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }
}

impl<T: Clone> Ledger<T> {
    /// Runs one export, counted as in flight until it returns, and records the outcome for
    /// its `items`.
    async fn track(
        &self,
        items: Vec<T>,
        export: impl std::future::Future<Output = OTelSdkResult>,
    ) -> OTelSdkResult {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = export.await;
        {
            let mut entries = self.entries.lock().unwrap();
            match &result {
                Ok(()) => {
                    entries.acknowledged.extend(items);
                    entries.acknowledged_batches += 1;
                }
                Err(error) => {
                    entries.failed.extend(items);
                    let error = error.to_string();
                    if is_throttling(&error) {
                        entries.throttled_failures.push(error);
                    } else {
                        entries.other_failures.push(error);
                    }
                }
            }
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Says whether the SDK is done with the exporter: shut down, no export running. Then
    /// the ledger is final.
    pub fn is_final(&self) -> bool {
        self.closed.load(Ordering::SeqCst) && self.in_flight.load(Ordering::SeqCst) == 0
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// The items of every acknowledged batch.
    pub fn acknowledged(&self) -> Vec<T> {
        self.entries.lock().unwrap().acknowledged.clone()
    }

    /// The items of every failed batch.
    pub fn failed(&self) -> Vec<T> {
        self.entries.lock().unwrap().failed.clone()
    }

    pub fn tally(&self) -> Tally {
        let entries = self.entries.lock().unwrap();
        Tally {
            acknowledged: entries.acknowledged.len(),
            acknowledged_batches: entries.acknowledged_batches,
            failed: entries.failed.len(),
            throttled_failures: entries.throttled_failures.clone(),
            other_failures: entries.other_failures.clone(),
        }
    }
}

/// Says whether an OTLP exporter's error is a throttling answer: HTTP 429 or 503
/// ("HTTP export failed with status code: 429"), or a gRPC RESOURCE_EXHAUSTED or UNAVAILABLE
/// status the server sent ("… export failed with gRPC code: ResourceExhausted"). A status tonic
/// made up locally (connection refused, reset, timeout) carries its cause after the code and
/// is not throttling.
pub fn is_throttling(error: &str) -> bool {
    [
        "status code: 429",
        "status code: 503",
        "gRPC code: ResourceExhausted",
        "gRPC code: Unavailable",
    ]
    .iter()
    .any(|answer| error.ends_with(answer))
}

/// A span exporter that records the ids of every batch it exports.
#[derive(Debug)]
pub struct RecordingSpanExporter<E> {
    pub inner: E,
    pub ledger: Arc<Ledger<SpanKey>>,
}

impl<E: SpanExporter> SpanExporter for RecordingSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let ids = batch
            .iter()
            .map(|span| (span.span_context.trace_id(), span.span_context.span_id()))
            .collect();
        self.ledger.track(ids, self.inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.ledger.close();
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log exporter that records the token (the first word of the body) of every record it
/// exports.
#[derive(Debug)]
pub struct RecordingLogExporter<E> {
    pub inner: E,
    pub ledger: Arc<Ledger<String>>,
}

/// The first word of a log body, the record's unique token.
pub fn body_token(body: &str) -> Option<&str> {
    body.split_whitespace().next()
}

impl<E: LogExporter> LogExporter for RecordingLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let tokens = batch
            .iter()
            .map(|(record, _scope)| match record.body() {
                Some(AnyValue::String(body)) => body_token(body.as_str())
                    .expect("soak log bodies start with a token")
                    .to_string(),
                other => panic!("soak log bodies are strings, not {other:?}"),
            })
            .collect();
        self.ledger.track(tokens, self.inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.ledger.close();
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A metric exporter that records the [`TICKS_METRIC`] point of every export.
pub struct RecordingMetricExporter<E> {
    pub inner: E,
    pub ledger: Arc<Ledger<TickPoint>>,
}

impl<E: PushMetricExporter> PushMetricExporter for RecordingMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let points = metrics
            .scope_metrics()
            .flat_map(|scope| scope.metrics())
            .filter(|metric| metric.name() == TICKS_METRIC)
            .flat_map(|metric| match metric.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                    let millis = sum
                        .time()
                        .duration_since(UNIX_EPOCH)
                        .expect("points are after 1970")
                        .as_millis() as i64;
                    sum.data_points()
                        .map(|point| (millis, point.value()))
                        .collect::<Vec<_>>()
                }
                other => panic!("{TICKS_METRIC} is a u64 sum, not {other:?}"),
            })
            .collect();
        self.ledger.track(points, self.inner.export(metrics)).await
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.ledger.close();
        result
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
