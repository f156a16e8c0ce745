//! Metrics derived from spans at ingest, as Tempo's metrics-generator and Jaeger's SPM derive
//! them: [`span_metrics`] (calls and durations per service and operation) and
//! [`service_graph`] (requests between services, and to databases, queues and callers that are
//! not instrumented).
//!
//! Data path: `handoff` calls [`Processors::prepare`] on an export's accepted spans before
//! [`SpanStore::append`](sightline_store::SpanStore::append) (which consumes them), and
//! [`Processors::commit`] once the append is durable; a failed append commits nothing. Per
//! span, `prepare` hashes borrowed label values once and probes a table local to the export,
//! so a series' labels are copied once per export, not per span; `commit` takes the tenant's
//! lock once and merges. The flush task ([`run_flush_loop`]) writes every series of every
//! tenant into the [`MetricStore`] every `flush_interval_seconds`, with the flush time as the
//! sample time, and once more at shutdown.
//!
//! Counting, restarts and retries:
//! - Series are cumulative in memory. A restart starts them from zero, which `rate` and
//!   `increase` read as a counter reset; the WAL is not replayed into them. What was counted
//!   since the last flush is lost on `kill -9` (a graceful stop flushes it).
//! - A span counts when, and only when, its export was made durable: an export the store
//!   refused is not counted, and an export the client retries after a lost answer is counted
//!   again, exactly as the WAL stores it again. So the span metrics count what the WAL holds.
//!   The service graph counts a retried pair once while its halves wait (the second copy of
//!   a half replaces the first); a copy that arrives after its pair was made waits alone and
//!   expires uncounted, unless it is a client half naming its peer (`peer.service`, …),
//!   which then counts once more, as a request to a virtual node. Database edges and edges
//!   from `user` need no pairing and count every copy, as the span metrics do.
//! - A new series gets a zero sample at the previous flush time (or when the tenant first
//!   sent spans) before its first value, so that `increase` sees its first spans; a series
//!   without spans for
//!   [`SERIES_IDLE`] gets Prometheus' staleness marker and is forgotten.
//! - Each tenant keeps at most `max_series_per_tenant` Prometheus series (every `_bucket` of a
//!   histogram counts); spans that would start a series beyond it are left out of the derived
//!   metrics and counted in `sightline_processors_series_refused_total{processor}`.
//!
//! Self-metrics: `sightline_processors_series{processor}`,
//! `sightline_processors_series_refused_total{processor}`,
//! `sightline_service_graph_unpaired_spans`, `sightline_service_graph_expired_total`,
//! `sightline_service_graph_dropped_total`, `sightline_processors_flushes_total{outcome}`,
//! `sightline_processors_flushed_samples_total`, and
//! `sightline_dropped_total{signal="derived_metrics",reason}` for derived data lost.

mod series;
pub(crate) mod service_graph;
pub(crate) mod span_metrics;

#[cfg(test)]
mod receiver_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hashbrown::DefaultHashBuilder;
use metrics::{counter, gauge};
use sightline_model::{MetricBatch, SpanBatch, TenantId};
use sightline_store::otlp::metrics::naming::sanitize_label_name;
use sightline_store::MetricStore;
use tokio_util::sync::CancellationToken;

use crate::config::CollectorConfig;
use crate::limits::LogThrottle;
use series::{BatchTable, Histogram, HistogramDelta, SampleWriter, SeriesBudget, SeriesTable};
use service_graph::{GraphCounts, GraphState, PreparedEdges, ServiceGraph};
use span_metrics::SpanMetrics;

/// A series without spans for this long is marked stale and forgotten (Tempo's default
/// `stale_duration`).
pub(crate) const SERIES_IDLE: Duration = Duration::from_secs(15 * 60);
/// Exports with more spans than this are prepared on the blocking pool, off the reactor.
pub(crate) const PREPARE_INLINE_MAX_SPANS: usize = 1024;
/// The labels a dimension may not take: the intrinsic ones and histograms' `le`.
const RESERVED_LABELS: [&str; 7] = [
    "service",
    "span_name",
    "span_kind",
    "status_code",
    "job",
    "instance",
    "le",
];

/// Series-limit warnings are logged at most this often.
static SERIES_LIMIT_LOG: LogThrottle = LogThrottle::new(10_000);
/// Flush failures are logged at most this often.
static FLUSH_FAILURE_LOG: LogThrottle = LogThrottle::new(10_000);

/// Checks histogram bucket bounds: at least one, finite, strictly ascending.
///
/// # Errors
/// What is wrong with them, in words.
pub(crate) fn check_histogram_buckets(bounds: &[f64]) -> Result<(), String> {
    if bounds.is_empty() {
        return Err("at least one bound is needed".to_string());
    }
    if let Some(bound) = bounds.iter().find(|bound| !bound.is_finite()) {
        return Err(format!("bound {bound} is not finite (+Inf is implied)"));
    }
    if bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(format!("bounds {bounds:?} must be strictly ascending"));
    }
    Ok(())
}

/// Checks span-metrics dimensions: each must sanitise into a label name of its own.
pub(crate) fn check_dimensions(dimensions: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut taken: Vec<String> = RESERVED_LABELS
        .iter()
        .map(|name| name.to_string())
        .collect();
    for key in dimensions {
        match sanitize_label_name(key) {
            None => problems.push(format!(
                "{key:?} has no letter or digit to make a label name of"
            )),
            Some(name) if taken.contains(&name) => problems.push(format!(
                "{key:?} would be label {name:?}, which is already taken"
            )),
            Some(name) => taken.push(name),
        }
    }
    problems
}

/// The processors' settings, valid by construction.
#[derive(Debug, Clone)]
pub(crate) struct ProcessorSettings {
    pub(crate) span_metrics: bool,
    pub(crate) service_graph: bool,
    pub(crate) dimensions: Vec<String>,
    pub(crate) bounds: Arc<[f64]>,
    pub(crate) flush_interval: Duration,
    pub(crate) wait: Duration,
    pub(crate) max_items: usize,
    pub(crate) max_series_per_tenant: usize,
    pub(crate) series_idle: Duration,
}

impl ProcessorSettings {
    /// Takes the collector's settings; a value [`CollectorConfig::validate`] finds wrong is
    /// replaced by its default (and a dimension left out), with a warning saying so.
    pub(crate) fn from_config(config: &CollectorConfig) -> Self {
        let defaults = CollectorConfig::default();
        if let Err(problems) = config.validate() {
            for problem in problems {
                tracing::warn!(%problem, "collector setting ignored: its default applies instead");
            }
        }
        let positive = |value: u64, default: u64| if value == 0 { default } else { value };
        let bounds = if check_histogram_buckets(&config.histogram_buckets).is_ok() {
            config.histogram_buckets.clone()
        } else {
            defaults.histogram_buckets.clone()
        };
        let mut dimensions = Vec::new();
        for key in &config.span_metrics_dimensions {
            let mut candidate = dimensions.clone();
            candidate.push(key.clone());
            if check_dimensions(&candidate).is_empty() {
                dimensions = candidate;
            }
        }
        Self {
            span_metrics: config.span_metrics_enabled,
            service_graph: config.service_graph_enabled,
            dimensions,
            bounds: bounds.into(),
            flush_interval: Duration::from_secs(positive(
                config.flush_interval_seconds,
                defaults.flush_interval_seconds,
            )),
            wait: Duration::from_secs(positive(
                config.service_graph_wait_seconds,
                defaults.service_graph_wait_seconds,
            )),
            max_items: match config.service_graph_max_items {
                0 => defaults.service_graph_max_items,
                items => items,
            },
            max_series_per_tenant: match config.max_series_per_tenant {
                0 => defaults.max_series_per_tenant,
                series => series,
            },
            series_idle: SERIES_IDLE.max(2 * Duration::from_secs(config.flush_interval_seconds)),
        }
    }
}

/// What one export brings to the processors, computed before it is appended.
pub(crate) struct PreparedSpans {
    span_metrics: Option<BatchTable<HistogramDelta>>,
    edges: Option<PreparedEdges>,
}

/// One tenant's series and unpaired spans.
struct TenantState {
    span_metrics: SeriesTable<Histogram>,
    graph: GraphState,
    /// When the previous flush was stamped (or, before the first, when the tenant sent its
    /// first spans): where new series put their zero sample.
    last_flush_ms: i64,
}

/// The span-metrics and service-graph processors of every tenant.
pub(crate) struct Processors {
    settings: ProcessorSettings,
    hasher: DefaultHashBuilder,
    span_metrics: Option<SpanMetrics>,
    service_graph: Option<ServiceGraph>,
    tenants: RwLock<HashMap<TenantId, Arc<Mutex<TenantState>>>>,
}

impl Processors {
    /// Builds the enabled processors; `None` when both are off.
    pub(crate) fn new(settings: ProcessorSettings) -> Option<Self> {
        if !settings.span_metrics && !settings.service_graph {
            return None;
        }
        let span_metrics = settings
            .span_metrics
            .then(|| SpanMetrics::new(&settings.dimensions, settings.bounds.clone()));
        let service_graph = settings
            .service_graph
            .then(|| ServiceGraph::new(settings.bounds.clone(), settings.wait, settings.max_items));
        Some(Self {
            settings,
            hasher: DefaultHashBuilder::default(),
            span_metrics,
            service_graph,
            tenants: RwLock::new(HashMap::new()),
        })
    }

    /// Returns how often the series are flushed.
    pub(crate) fn flush_interval(&self) -> Duration {
        self.settings.flush_interval
    }

    /// Aggregates an export's spans by series and finds its edge halves. Nothing is counted
    /// until [`Processors::commit`].
    pub(crate) fn prepare(&self, batch: &SpanBatch) -> PreparedSpans {
        PreparedSpans {
            span_metrics: self
                .span_metrics
                .as_ref()
                .map(|processor| processor.prepare(&self.hasher, batch)),
            edges: self
                .service_graph
                .as_ref()
                .map(|processor| processor.prepare(&self.hasher, batch)),
        }
    }

    /// Counts a prepared export in `tenant`'s series, once its spans are durable.
    pub(crate) fn commit(&self, tenant: &TenantId, prepared: PreparedSpans, now: Instant) {
        let state = self.tenant_state(tenant);
        let mut state = state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut budget = self.budget(&state);
        let mut span_metrics_refused = 0;
        if let (Some(processor), Some(table)) = (&self.span_metrics, prepared.span_metrics) {
            let cost = processor.series_per_entry();
            for (key, delta) in table.into_entries() {
                match state.span_metrics.upsert(
                    series::AnyKey::Owned(key),
                    now,
                    &mut budget,
                    cost,
                    || processor.new_histogram(),
                ) {
                    Some(histogram) => histogram.merge_delta(&delta),
                    None => span_metrics_refused += delta.count,
                }
            }
        }
        let mut graph_counts = GraphCounts::default();
        if let (Some(processor), Some(edges)) = (&self.service_graph, prepared.edges) {
            graph_counts =
                processor.commit(&self.hasher, &mut state.graph, &mut budget, edges, now);
        }
        drop(state);
        record_counts(tenant, span_metrics_refused, graph_counts);
    }

    fn budget(&self, state: &TenantState) -> SeriesBudget {
        let span_metrics = self.span_metrics.as_ref().map_or(0, |processor| {
            processor.series_per_entry() * state.span_metrics.len()
        });
        let edges = self.service_graph.as_ref().map_or(0, |processor| {
            processor.series_per_entry() * state.graph.edges.len()
        });
        SeriesBudget {
            used: span_metrics + edges,
            limit: self.settings.max_series_per_tenant,
        }
    }

    fn tenant_state(&self, tenant: &TenantId) -> Arc<Mutex<TenantState>> {
        {
            let tenants = self
                .tenants
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(state) = tenants.get(tenant) {
                return state.clone();
            }
        }
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants
            .entry(tenant.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(TenantState {
                    span_metrics: SeriesTable::default(),
                    graph: GraphState::default(),
                    last_flush_ms: unix_millis(SystemTime::now()),
                }))
            })
            .clone()
    }

    /// Expires unpaired spans and snapshots every tenant's series into the batch a flush at
    /// `now_ms` writes (one per tenant with anything to write).
    pub(crate) fn collect(&self, now: Instant, now_ms: i64) -> Vec<(TenantId, MetricBatch)> {
        let tenants: Vec<(TenantId, Arc<Mutex<TenantState>>)> = self
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(tenant, state)| (tenant.clone(), state.clone()))
            .collect();
        let mut batches = Vec::with_capacity(tenants.len());
        let (mut span_metric_series, mut edge_series, mut unpaired) = (0, 0, 0);
        for (tenant, state) in tenants {
            let mut state = state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut graph_counts = GraphCounts::default();
            if let Some(processor) = &self.service_graph {
                let mut budget = self.budget(&state);
                graph_counts = processor.expire(&self.hasher, &mut state.graph, &mut budget, now);
            }
            let idle = self.settings.series_idle;
            let span_metrics = state.span_metrics.flush(now, idle, SpanMetrics::snapshot);
            let edges = state.graph.edges.flush(now, idle, ServiceGraph::snapshot);
            let zero_ms = state.last_flush_ms;
            state.last_flush_ms = now_ms;
            span_metric_series += state.span_metrics.len();
            edge_series += state.graph.edges.len();
            unpaired += state.graph.unpaired();
            drop(state);
            record_counts(&tenant, 0, graph_counts);
            let mut writer = SampleWriter::new(now_ms, zero_ms);
            if let Some(processor) = &self.span_metrics {
                processor.write(&span_metrics, &mut writer);
            }
            if let Some(processor) = &self.service_graph {
                processor.write(&edges, &mut writer);
            }
            let batch = writer.finish();
            if !batch.is_empty() {
                batches.push((tenant, batch));
            }
        }
        gauge!("sightline_processors_series", "processor" => "span_metrics")
            .set(span_metric_series as f64);
        gauge!("sightline_processors_series", "processor" => "service_graph")
            .set(edge_series as f64);
        gauge!("sightline_service_graph_unpaired_spans").set(unpaired as f64);
        batches
    }
}

fn record_counts(tenant: &TenantId, span_metrics_refused: u64, graph: GraphCounts) {
    if span_metrics_refused > 0 || graph.refused > 0 {
        counter!("sightline_processors_series_refused_total", "processor" => "span_metrics")
            .increment(span_metrics_refused);
        counter!("sightline_processors_series_refused_total", "processor" => "service_graph")
            .increment(graph.refused);
        counter!("sightline_dropped_total", "signal" => "derived_metrics", "reason" => "series_limit")
            .increment(span_metrics_refused + graph.refused);
        if SERIES_LIMIT_LOG.allow() {
            tracing::warn!(
                %tenant,
                span_metrics_refused,
                service_graph_refused = graph.refused,
                "derived series over collector.max_series_per_tenant: spans left out of span metrics or the service graph"
            );
        }
    }
    if graph.expired > 0 {
        counter!("sightline_service_graph_expired_total").increment(graph.expired);
    }
    if graph.dropped > 0 {
        counter!("sightline_service_graph_dropped_total").increment(graph.dropped);
        counter!("sightline_dropped_total", "signal" => "derived_metrics", "reason" => "service_graph_full")
            .increment(graph.dropped);
    }
}

/// Writes every tenant's derived series into `store`, stamped now. A failed append is logged
/// and counted; the totals stay in memory, so the next flush writes them.
pub(crate) async fn flush_once(processors: &Arc<Processors>, store: &MetricStore) {
    let now = Instant::now();
    let now_ms = unix_millis(SystemTime::now());
    let collecting = processors.clone();
    // Labels are built for every series: proportional to the series count, so off the reactor.
    let batches = match tokio::task::spawn_blocking(move || collecting.collect(now, now_ms)).await {
        Ok(batches) => batches,
        Err(error) => {
            tracing::error!(%error, "derived metrics flush task failed");
            counter!("sightline_processors_flushes_total", "outcome" => "error").increment(1);
            return;
        }
    };
    for (tenant, batch) in batches {
        let samples = batch.sample_count();
        match store.append(&tenant, batch).await {
            Ok(outcome) => {
                counter!("sightline_processors_flushes_total", "outcome" => "success").increment(1);
                counter!("sightline_processors_flushed_samples_total")
                    .increment(outcome.accepted_samples as u64);
                if outcome.rejected_samples > 0 {
                    counter!("sightline_dropped_total", "signal" => "derived_metrics", "reason" => "metric_series_limit")
                        .increment(outcome.rejected_samples as u64);
                }
            }
            Err(error) => {
                counter!("sightline_processors_flushes_total", "outcome" => "error").increment(1);
                counter!("sightline_dropped_total", "signal" => "derived_metrics", "reason" => "flush_failed")
                    .increment(samples as u64);
                if FLUSH_FAILURE_LOG.allow() {
                    tracing::warn!(%tenant, %error, samples, "derived metrics flush failed; the next flush writes the totals again");
                }
            }
        }
    }
}

/// Flushes every `flush_interval` until `shutdown`, then once more, so that what was counted
/// before a graceful stop is written.
pub(crate) async fn run_flush_loop(
    processors: Arc<Processors>,
    store: MetricStore,
    shutdown: CancellationToken,
) {
    let interval = processors.flush_interval();
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => flush_once(&processors, &store).await,
            () = shutdown.cancelled() => break,
        }
    }
    flush_once(&processors, &store).await;
    tracing::info!("derived metrics flushed at shutdown");
}

fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}
