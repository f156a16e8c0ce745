//! Health checks (the health-check pattern): probes the targets of a
//! [`HealthCheckRegistry`] on their schedules and writes what it saw into the
//! [`MetricStore`] as ordinary series.
//!
//! - [`http`]: GET a URL; success is the expected status (any 2xx by default). Redirects are
//!   never followed (a 3xx is just a status), proxies from the environment are ignored, and
//!   every probe opens a fresh connection, so probe traffic goes only to the configured
//!   host and the duration includes connecting.
//! - [`tcp`]: connect to `host:port`.
//! - [`grpc`]: `grpc.health.v1.Health/Check` over plaintext HTTP/2; success is `SERVING`.
//!
//! Series, per target, in the target's tenant, one sample per probe stamped when it ended:
//! `probe_success` (gauge, 1 or 0) and `probe_duration_seconds` (gauge), with exactly the
//! labels `job="health_check"`, `check`, `service`, `probe` (`http`|`tcp`|`grpc`) and
//! `instance` (the URL or `host:port`); see
//! [`HealthCheckSpec::series_labels`](sightline_model::HealthCheckSpec::series_labels).
//!
//! Scheduling: [`run_health_checks`] keeps one task per enabled target, and when the registry
//! signals a change, stops the tasks of removed, disabled or changed targets and starts the
//! new ones. A stopped target whose labels are not carried on by its replacement gets
//! Prometheus' staleness marker on both series, so queries stop showing it at once. At
//! shutdown the tasks just stop (as a Prometheus scrape loop does).
//!
//! Self-metrics: `sightline_health_checks` (targets being probed),
//! `sightline_health_check_probes_total{probe,outcome}` (`outcome` is `success` or
//! `failure`), and `sightline_dropped_total{signal="health_checks",reason="append_failed"}`
//! for probe samples the metric store refused.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod tcp;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge};
use sightline_model::health_check::{PROBE_DURATION_METRIC, PROBE_SUCCESS_METRIC};
use sightline_model::{
    HealthCheckSpec, Labels, MetricBatch, MetricMetadata, MetricSample, MetricType, ProbeTarget,
    SeriesSamples, TenantId, METRIC_NAME_LABEL,
};
use sightline_store::health_checks::ProbeResult;
use sightline_store::otlp::metrics::STALE_NAN_BITS;
use sightline_store::{HealthCheckRegistry, MetricStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::limits::LogThrottle;

/// Append failures are logged at most this often.
static APPEND_FAILURE_LOG: LogThrottle = LogThrottle::new(10_000);

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProbeOutcome {
    /// How long the probe took (until success, failure or its timeout).
    pub(crate) duration: Duration,
    /// Why it failed; `None` on success.
    pub(crate) error: Option<String>,
}

/// Runs probes; one per server, shared by every target's task.
#[derive(Clone)]
pub(crate) struct Prober {
    http: reqwest::Client,
}

impl Prober {
    /// Builds the prober and its HTTP client.
    ///
    /// # Errors
    /// The HTTP client cannot be built (its TLS setup failed).
    pub(crate) fn new() -> Result<Self, String> {
        Ok(Self {
            http: http::client()?,
        })
    }

    /// Probes `target` once, within `timeout`.
    pub(crate) async fn probe(&self, target: &ProbeTarget, timeout: Duration) -> ProbeOutcome {
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, async {
            match target {
                ProbeTarget::Http {
                    url,
                    expected_status,
                } => http::probe(&self.http, url, *expected_status, timeout).await,
                ProbeTarget::Tcp { address } => tcp::probe(address).await,
                ProbeTarget::Grpc { address, service } => {
                    grpc::probe(address, service, timeout).await
                }
            }
        })
        .await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => Some(format!("timed out after {}", format_timeout(timeout))),
        };
        ProbeOutcome {
            duration: started.elapsed(),
            error,
        }
    }
}

fn format_timeout(timeout: Duration) -> String {
    sightline_model::health_check::format_duration(timeout)
}

/// Probes every enabled target of `registry` until `shutdown`, following its changes.
pub async fn run_health_checks(
    registry: HealthCheckRegistry,
    store: MetricStore,
    shutdown: CancellationToken,
) {
    let prober = match Prober::new() {
        Ok(prober) => prober,
        Err(error) => {
            tracing::error!(%error, "health checks disabled: cannot build the HTTP client");
            return;
        }
    };
    let mut changes = registry.subscribe();
    let mut running: HashMap<(TenantId, String), Running> = HashMap::new();
    loop {
        changes.mark_unchanged();
        let desired: HashMap<(TenantId, String), HealthCheckSpec> = registry
            .snapshot()
            .into_iter()
            .filter(|(_, spec)| spec.enabled)
            .map(|(tenant, spec)| ((tenant, spec.name.clone()), spec))
            .collect();
        let stopping: Vec<(TenantId, String)> = running
            .iter()
            .filter(|(key, task)| desired.get(*key) != Some(&task.spec))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stopping {
            if let Some(task) = running.remove(&key) {
                let carried_on = desired
                    .get(&key)
                    .is_some_and(|spec| spec.series_labels() == task.spec.series_labels());
                stop_target(task, &key.0, &store, !carried_on).await;
            }
        }
        for (key, spec) in desired {
            if running.contains_key(&key) {
                continue;
            }
            let cancel = shutdown.child_token();
            let handle = tokio::spawn(run_target(
                Target {
                    tenant: key.0.clone(),
                    spec: spec.clone(),
                    prober: prober.clone(),
                    store: store.clone(),
                    registry: registry.clone(),
                },
                cancel.clone(),
            ));
            running.insert(
                key,
                Running {
                    spec,
                    cancel,
                    handle,
                },
            );
        }
        gauge!("sightline_health_checks").set(running.len() as f64);
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = shutdown.cancelled() => break,
        }
    }
    for (_, task) in running {
        task.cancel.cancel();
        let _ = task.handle.await;
    }
    gauge!("sightline_health_checks").set(0.0);
}

/// A target's running task.
struct Running {
    spec: HealthCheckSpec,
    cancel: CancellationToken,
    /// Resolves to the timestamp of the last sample written.
    handle: JoinHandle<Option<i64>>,
}

/// Stops a task and, when `mark_stale`, ends its series with staleness markers after its last
/// sample.
async fn stop_target(task: Running, tenant: &TenantId, store: &MetricStore, mark_stale: bool) {
    task.cancel.cancel();
    let last_ms = task.handle.await.ok().flatten();
    if !mark_stale {
        return;
    }
    if let Some(last_ms) = last_ms {
        let at_ms = unix_millis_now().max(last_ms + 1);
        let stale = f64::from_bits(STALE_NAN_BITS);
        let batch = probe_batch(&task.spec, at_ms, stale, stale);
        append(store, tenant, &task.spec, batch).await;
        tracing::info!(%tenant, check = task.spec.name, "health check stopped; its series are marked stale");
    }
}

/// What one target's task needs.
struct Target {
    tenant: TenantId,
    spec: HealthCheckSpec,
    prober: Prober,
    store: MetricStore,
    registry: HealthCheckRegistry,
}

/// Probes one target every interval (the first at once) until cancelled; returns the
/// timestamp of the last sample it wrote.
async fn run_target(target: Target, cancel: CancellationToken) -> Option<i64> {
    let spec = &target.spec;
    let mut ticker = tokio::time::interval(spec.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ms: Option<i64> = None;
    let probe = spec.target.kind().as_str();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = cancel.cancelled() => break,
        }
        let outcome = tokio::select! {
            outcome = target.prober.probe(&spec.target, spec.timeout) => outcome,
            () = cancel.cancelled() => break,
        };
        let now_ms = unix_millis_now();
        let at_ms = last_ms.map_or(now_ms, |last| now_ms.max(last + 1));
        let success = outcome.error.is_none();
        counter!(
            "sightline_health_check_probes_total",
            "probe" => probe,
            "outcome" => if success { "success" } else { "failure" }
        )
        .increment(1);
        if let Some(error) = &outcome.error {
            tracing::debug!(tenant = %target.tenant, check = spec.name, %error, "probe failed");
        }
        let batch = probe_batch(
            spec,
            at_ms,
            if success { 1.0 } else { 0.0 },
            outcome.duration.as_secs_f64(),
        );
        if append(&target.store, &target.tenant, spec, batch).await {
            last_ms = Some(at_ms);
        }
        target.registry.record_result(
            &target.tenant,
            spec,
            ProbeResult {
                success,
                duration: outcome.duration,
                error: outcome.error,
                finished_unix_ms: at_ms,
            },
        );
    }
    last_ms
}

/// Builds the two samples of a probe (or their staleness markers).
fn probe_batch(spec: &HealthCheckSpec, at_ms: i64, success: f64, seconds: f64) -> MetricBatch {
    let series = |name: &str, value: f64| {
        let mut labels = Labels::new(spec.series_labels());
        labels.set(METRIC_NAME_LABEL, name.to_string());
        SeriesSamples {
            labels,
            samples: vec![MetricSample {
                timestamp_ms: at_ms,
                value,
            }],
            exemplars: Vec::new(),
        }
    };
    MetricBatch {
        series: vec![
            series(PROBE_SUCCESS_METRIC, success),
            series(PROBE_DURATION_METRIC, seconds),
        ],
        metadata: probe_metadata(),
    }
}

fn probe_metadata() -> Vec<MetricMetadata> {
    vec![
        MetricMetadata {
            metric_family: PROBE_SUCCESS_METRIC.to_string(),
            metric_type: MetricType::Gauge,
            help: "Whether the health check's latest probe succeeded (1) or failed (0)."
                .to_string(),
            unit: String::new(),
        },
        MetricMetadata {
            metric_family: PROBE_DURATION_METRIC.to_string(),
            metric_type: MetricType::Gauge,
            help: "How long the health check's latest probe took, in seconds.".to_string(),
            unit: "seconds".to_string(),
        },
    ]
}

/// Appends a probe's samples; says whether they were stored.
async fn append(
    store: &MetricStore,
    tenant: &TenantId,
    spec: &HealthCheckSpec,
    batch: MetricBatch,
) -> bool {
    let samples = batch.sample_count();
    let error = match store.append(tenant, batch).await {
        Ok(outcome) if outcome.rejected_samples == 0 => return true,
        Ok(outcome) => format!("{} samples refused", outcome.rejected_samples),
        Err(error) => error.to_string(),
    };
    counter!("sightline_dropped_total", "signal" => "health_checks", "reason" => "append_failed")
        .increment(samples as u64);
    if APPEND_FAILURE_LOG.allow() {
        tracing::warn!(%tenant, check = spec.name, %error, "probe samples not stored");
    }
    false
}

fn unix_millis_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
