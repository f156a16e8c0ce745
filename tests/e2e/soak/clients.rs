//! The soak's clients: each is an application thread using the real OpenTelemetry SDK (a
//! tracer, logger or meter provider with its batch processor or periodic reader, and the real
//! OTLP exporter over gRPC or HTTP/protobuf, wrapped by a recording exporter from
//! [`super::ledger`]), emitting at a steady rate until told to stop, then shutting its provider
//! down as an application would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{
    LogExporter, MetricExporter, Protocol, RetryPolicy, SpanExporter, WithExportConfig,
    WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use super::ledger::{
    Ledger, RecordingLogExporter, RecordingMetricExporter, RecordingSpanExporter, SpanKey, Tally,
    TickPoint, TICKS_METRIC,
};
use crate::server::TestServer;

/// How often a client emits: one trace, one burst of log records or one counter increment.
const TICK: Duration = Duration::from_millis(100);
/// Spans of each trace (a server span and its client spans), one trace per tick: 600 spans/s
/// offered per trace client.
const TRACE_SPANS: usize = 60;
/// Log records per tick: 400 records/s offered per log client.
const LOG_RECORDS_PER_TICK: usize = 40;
/// How often a metrics client's periodic reader exports.
const METRIC_EXPORT_INTERVAL: Duration = Duration::from_millis(500);
/// The exporters' time budget per batch, retries included: long enough that a batch refused
/// by the rate limits is retried (after the server's `Retry-After`/`RetryInfo` delay, with
/// backoff) until the tenant's share frees up, not dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a provider's shutdown may take to export what its queue still holds.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// Text making spans and records a few hundred bytes, so the bytes limit bites too.
const PAYLOAD: &str = "SELECT id, customer_id, total_cents, currency, created_at FROM orders \
                       WHERE customer_id = $1 AND created_at > $2 ORDER BY created_at DESC";

/// The signal a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

/// The OTLP transport a client's exporter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    HttpProtobuf,
}

/// What one client is: its name (also its `service.name`), tenant, signal and transport.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    pub tenant: &'static str,
    pub signal: Signal,
    pub transport: Transport,
}

/// A client's ledger, by signal.
#[derive(Debug, Clone)]
pub enum ClientLedger {
    Spans(Arc<Ledger<SpanKey>>),
    Logs(Arc<Ledger<String>>),
    Ticks(Arc<Ledger<TickPoint>>),
}

impl ClientLedger {
    /// See [`Ledger::is_final`].
    pub fn is_final(&self) -> bool {
        match self {
            ClientLedger::Spans(ledger) => ledger.is_final(),
            ClientLedger::Logs(ledger) => ledger.is_final(),
            ClientLedger::Ticks(ledger) => ledger.is_final(),
        }
    }

    pub fn tally(&self) -> Tally {
        match self {
            ClientLedger::Spans(ledger) => ledger.tally(),
            ClientLedger::Logs(ledger) => ledger.tally(),
            ClientLedger::Ticks(ledger) => ledger.tally(),
        }
    }
}

/// A running client.
pub struct Client {
    spec: ClientSpec,
    ledger: ClientLedger,
    /// Items the application emitted (spans, records, counter increments); of spans and
    /// records, those the SDK's queue could not hold were dropped by the SDK, never exported.
    emitted: Arc<AtomicU64>,
    /// Ends with the provider's shutdown result.
    thread: JoinHandle<Result<(), String>>,
}

/// A client after it stopped and shut its provider down.
pub struct Finished {
    pub spec: ClientSpec,
    pub ledger: ClientLedger,
    /// Items the application emitted (see [`Client`]).
    pub emitted: u64,
    /// The provider's shutdown result.
    pub shutdown: Result<(), String>,
}

impl Client {
    /// Waits for the client to stop and shut its provider down.
    pub fn join(self) -> Finished {
        let shutdown = self.thread.join().expect("client thread panicked");
        Finished {
            spec: self.spec,
            ledger: self.ledger,
            emitted: self.emitted.load(Ordering::Relaxed),
            shutdown,
        }
    }
}

/// Where the clients send, and the runtime the gRPC exporters' channels run on.
#[derive(Clone)]
pub struct Endpoints {
    pub grpc: String,
    pub http: String,
    pub runtime: tokio::runtime::Handle,
}

impl Endpoints {
    pub fn of(server: &TestServer, runtime: tokio::runtime::Handle) -> Self {
        Self {
            grpc: format!("http://{}", server.grpc),
            http: server.otlp_url(""),
            runtime,
        }
    }
}

/// The real OTLP exporters' retry policy: the recommended backoff, with retries bounded by
/// [`EXPORT_TIMEOUT`] rather than by a count.
fn retry_policy() -> RetryPolicy {
    RetryPolicy::default().with_max_retries(1_000)
}

fn tenant_metadata(tenant: &str) -> tonic::metadata::MetadataMap {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("x-scope-orgid", tenant.parse().expect("tenant is ASCII"));
    metadata
}

fn tenant_headers(tenant: &str) -> HashMap<String, String> {
    HashMap::from([("x-scope-orgid".to_string(), tenant.to_string())])
}

/// Builds the real OTLP exporter of type `$exporter` (`SpanExporter`, `LogExporter`,
/// `MetricExporter`: their builders differ in type, not in shape) for a client, with its
/// tenant and the retry policy; gRPC channels are created on the endpoints' runtime.
macro_rules! otlp_exporter {
    ($exporter:ident, $spec:expr, $endpoints:expr, $path:literal) => {{
        let spec: &ClientSpec = $spec;
        let endpoints: &Endpoints = $endpoints;
        match spec.transport {
            Transport::Grpc => {
                let _entered = endpoints.runtime.enter();
                $exporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoints.grpc.clone())
                    .with_metadata(tenant_metadata(spec.tenant))
                    .with_retry_policy(retry_policy())
                    .with_timeout(EXPORT_TIMEOUT)
                    .build()
            }
            Transport::HttpProtobuf => $exporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("{}{}", endpoints.http, $path))
                .with_headers(tenant_headers(spec.tenant))
                .with_retry_policy(retry_policy())
                .with_timeout(EXPORT_TIMEOUT)
                .build(),
        }
        .expect("build OTLP exporter")
    }};
}

fn resource(spec: &ClientSpec) -> Resource {
    Resource::builder()
        .with_service_name(spec.name.clone())
        .with_attribute(KeyValue::new("deployment.environment", "soak"))
        .build()
}

/// Starts a client that emits until `stop` is set.
pub fn start(spec: ClientSpec, endpoints: &Endpoints, stop: Arc<AtomicBool>) -> Client {
    let emitted = Arc::new(AtomicU64::new(0));
    let (ledger, emit_loop): (ClientLedger, Box<dyn FnOnce() -> Result<(), String> + Send>) =
        match spec.signal {
            Signal::Traces => {
                let ledger = Arc::new(Ledger::default());
                let exporter = RecordingSpanExporter {
                    inner: otlp_exporter!(SpanExporter, &spec, endpoints, "/v1/traces"),
                    ledger: ledger.clone(),
                };
                let provider = SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource(&spec))
                    .build();
                let (stop, emitted) = (stop.clone(), emitted.clone());
                let run = move || emit_traces(provider, &stop, &emitted);
                (ClientLedger::Spans(ledger), Box::new(run))
            }
            Signal::Logs => {
                let ledger = Arc::new(Ledger::default());
                let exporter = RecordingLogExporter {
                    inner: otlp_exporter!(LogExporter, &spec, endpoints, "/v1/logs"),
                    ledger: ledger.clone(),
                };
                let provider = SdkLoggerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource(&spec))
                    .build();
                let (stop, emitted, name) = (stop.clone(), emitted.clone(), spec.name.clone());
                let run = move || emit_logs(provider, &name, &stop, &emitted);
                (ClientLedger::Logs(ledger), Box::new(run))
            }
            Signal::Metrics => {
                let ledger = Arc::new(Ledger::default());
                let exporter = RecordingMetricExporter {
                    inner: otlp_exporter!(MetricExporter, &spec, endpoints, "/v1/metrics"),
                    ledger: ledger.clone(),
                };
                let reader = PeriodicReader::builder(exporter)
                    .with_interval(METRIC_EXPORT_INTERVAL)
                    .build();
                let provider = SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource(&spec))
                    .build();
                let (stop, emitted, name) = (stop.clone(), emitted.clone(), spec.name.clone());
                let run = move || emit_ticks(provider, &name, &stop, &emitted);
                (ClientLedger::Ticks(ledger), Box::new(run))
            }
        };
    let thread = std::thread::Builder::new()
        .name(spec.name.clone())
        .spawn(emit_loop)
        .expect("spawn client thread");
    Client {
        spec,
        ledger,
        emitted,
        thread,
    }
}

/// A provider's shutdown result, a timeout aside: the meter provider's periodic reader waits
/// a fixed 5 s for its last export (`opentelemetry_sdk` 0.33 ignores the timeout given, and
/// reports `Operation failed: [Timeout(5s)]`), which a throttled export outlasts. The export
/// goes on, its outcome reaches the ledger, and `run_clients` waits for the ledger to be
/// final.
fn shut_down_result(result: OTelSdkResult) -> Result<(), String> {
    match result {
        Ok(()) | Err(OTelSdkError::Timeout(_)) => Ok(()),
        Err(error) if error.to_string().contains("[Timeout(") => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

/// Calls `tick` every [`TICK`] until `stop` is set (a steady offered load, whatever the
/// exporter's progress: the SDK's queue absorbs or drops the difference).
fn every_tick(stop: &AtomicBool, mut tick: impl FnMut()) {
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        tick();
        next += TICK;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

fn emit_traces(
    provider: SdkTracerProvider,
    stop: &AtomicBool,
    emitted: &AtomicU64,
) -> Result<(), String> {
    let tracer = provider.tracer("soak");
    every_tick(stop, || {
        let root = tracer
            .span_builder("GET /orders/{id}")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("http.route", "/orders/{id}")])
            .start(&tracer);
        let parent = Context::current_with_span(root);
        for index in 1..TRACE_SPANS {
            tracer
                .span_builder(if index % 2 == 0 {
                    "SELECT orders"
                } else {
                    "GET cache"
                })
                .with_kind(SpanKind::Client)
                .with_attributes([
                    KeyValue::new("db.statement", PAYLOAD),
                    KeyValue::new("soak.index", index as i64),
                ])
                .start_with_context(&tracer, &parent)
                .end();
        }
        parent.span().end();
        emitted.fetch_add(TRACE_SPANS as u64, Ordering::Relaxed);
    });
    shut_down_result(provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
}

fn emit_logs(
    provider: SdkLoggerProvider,
    name: &str,
    stop: &AtomicBool,
    emitted: &AtomicU64,
) -> Result<(), String> {
    let logger = provider.logger("soak");
    let mut sequence = 0_u64;
    every_tick(stop, || {
        for _ in 0..LOG_RECORDS_PER_TICK {
            sequence += 1;
            let mut record = logger.create_log_record();
            record.set_timestamp(std::time::SystemTime::now());
            record.set_severity_number(Severity::Info);
            record.set_severity_text("INFO");
            // The first word is the record's unique token (see `ledger::body_token`).
            record.set_body(AnyValue::from(format!(
                "{name}-{sequence:09} order {sequence} paid; query: {PAYLOAD}"
            )));
            record.add_attribute("order.id", sequence as i64);
            logger.emit(record);
        }
        emitted.fetch_add(LOG_RECORDS_PER_TICK as u64, Ordering::Relaxed);
    });
    shut_down_result(provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
}

fn emit_ticks(
    provider: SdkMeterProvider,
    name: &str,
    stop: &AtomicBool,
    emitted: &AtomicU64,
) -> Result<(), String> {
    let ticks = provider.meter("soak").u64_counter(TICKS_METRIC).build();
    let labels = [KeyValue::new("client", name.to_string())];
    every_tick(stop, || {
        ticks.add(1, &labels);
        emitted.fetch_add(1, Ordering::Relaxed);
    });
    shut_down_result(provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
}
