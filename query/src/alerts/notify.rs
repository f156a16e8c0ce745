//! Alert notifications: the rule evaluator decides what to send and hands it to the
//! [`Notifier`], which delivers it to the receivers of the alert's tenant.
//!
//! - `receiver`: receivers as configured ([`ReceiverDefinition`]) and validated
//!   ([`ReceiverSpec`]): a generic webhook, or one or more Alertmanagers.
//! - `payload`: the JSON they are sent: Alertmanager's `POST /api/v2/alerts` body and its
//!   webhook payload (version 4), RFC 3339 times, label fingerprints.
//! - `config`: [`DeliveryConfig`] (`[alerting.delivery]`).
//! - `target`: a delivery target's bounded queue, breaker, counters and self-metrics.
//! - `delivery`: the target's worker: send, retry with backoff and jitter, breaker.
//!
//! Flow: evaluator → [`Notifier::post_alerts`] (Alertmanager receivers, re-sent on every
//! evaluation as Prometheus does, so Alertmanager groups, routes, silences and inhibits) or
//! [`Notifier::post_group`] (webhooks) → encoded once per receiver → pushed to each target's
//! queue without waiting → the target's worker POSTs it. A webhook receiver is one target; an
//! Alertmanager receiver has one per URL, each with its own queue and breaker. A slow or dead
//! receiver fills only its own queue (the oldest notification is dropped) and never stalls
//! the evaluator.
//!
//! Self-metrics, labelled `tenant` and `receiver` (bounded by the configured receivers):
//! - `sightline_alert_notifications_total{outcome}`: `delivered`, `gave_up`, `rejected`,
//!   `dropped_queue_full`, `dropped_stopped` (discarded when the receiver was removed or
//!   changed, or at shutdown);
//! - `sightline_alert_notification_attempts_total{outcome}`: `success`, `failure`;
//! - `sightline_alert_notification_queue_length`: notifications held, summed over the
//!   receiver's targets;
//! - `sightline_alert_receiver_breaker_open`: targets whose breaker is open or half-open (0
//!   or 1 for a webhook);
//! - `sightline_alert_notification_duration_seconds`: the time of each attempt;
//! - and `sightline_dropped_total{signal="alert_notifications",reason}` for every dropped
//!   notification (`queue_full`, `gave_up`, `rejected`, `receiver_removed`, `shutdown`).

mod config;
mod delivery;
mod payload;
mod receiver;
mod target;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use sightline_model::TenantId;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use self::config::DeliveryConfig;
pub use self::payload::{format_rfc3339_millis, label_fingerprint, AlertGroup, OutgoingAlert};
pub use self::receiver::{ReceiverDefinition, ReceiverKind, ReceiverProblem, ReceiverSpec};
pub use self::target::{BreakerState, TargetStatus};

use self::config::DeliverySettings;
use self::target::{DropReason, Target};

/// The `User-Agent` of notifications.
const USER_AGENT: &str = concat!("Sightline/", env!("CARGO_PKG_VERSION"));

/// Why a [`Notifier`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP client could not be built (its TLS setup failed).
    #[error("building the alert notification HTTP client failed: {reason}")]
    Client {
        /// Why it failed.
        reason: String,
    },
    /// The delivery settings are invalid (see [`DeliveryConfig::validate`]).
    #[error("invalid alerting.delivery settings: {}", problems.join("; "))]
    InvalidConfig {
        /// One line per problem, naming the key.
        problems: Vec<String>,
    },
    /// [`Notifier::new`] was called outside a tokio runtime, where it cannot start workers.
    #[error("the alert notifier must be created inside a tokio runtime")]
    NoRuntime,
}

/// Delivers notifications; clones share it.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    settings: DeliverySettings,
    external_url: String,
    runtime: tokio::runtime::Handle,
    tracker: TaskTracker,
    /// Cancelled at shutdown: workers end once their queue is empty.
    drain: CancellationToken,
    /// Parent of every target's token; cancelled when the last clone of the notifier is
    /// dropped, so that workers do not outlive it.
    stop_all: CancellationToken,
    /// A std mutex: held only to look up or swap receivers, never across an `.await`.
    receivers: Mutex<Receivers>,
}

#[derive(Default)]
struct Receivers {
    /// Set by [`Notifier::shutdown`]: nothing more is queued or started.
    closed: bool,
    by_tenant: BTreeMap<TenantId, BTreeMap<String, ActiveReceiver>>,
}

struct ActiveReceiver {
    spec: ReceiverSpec,
    targets: Vec<Arc<Target>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_all.cancel();
    }
}

impl Notifier {
    /// Builds a notifier without receivers; `external_url` is the webhook payload's
    /// `externalURL`. Workers run on the current tokio runtime.
    ///
    /// # Errors
    /// [`NotifyError::InvalidConfig`] for invalid settings, [`NotifyError::Client`] when the
    /// HTTP client cannot be built, [`NotifyError::NoRuntime`] outside a tokio runtime.
    pub fn new(config: DeliveryConfig, external_url: String) -> Result<Self, NotifyError> {
        let settings = config
            .settings()
            .map_err(|problems| NotifyError::InvalidConfig { problems })?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NotifyError::NoRuntime)?;
        // No redirects (a 3xx is a rejection, as in Prometheus' notifier) and no proxy from
        // the environment, as the collector's probes.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            .build()
            .map_err(|error| NotifyError::Client {
                reason: error.to_string(),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                settings,
                external_url,
                runtime,
                tracker: TaskTracker::new(),
                drain: CancellationToken::new(),
                stop_all: CancellationToken::new(),
                receivers: Mutex::new(Receivers::default()),
            }),
        })
    }

    /// Replaces the set of receivers (all tenants): starts workers of new receivers, stops
    /// those removed or changed (a changed receiver gets a fresh worker; stopping discards its
    /// queue), and keeps unchanged ones running with their queues and stats. Of receivers with
    /// the same tenant and name, the first is kept.
    pub fn set_receivers(&self, receivers: Vec<(TenantId, ReceiverSpec)>) {
        let mut to_stop: Vec<Arc<Target>> = Vec::new();
        let mut guard = self.lock_receivers();
        if guard.closed {
            return;
        }
        let mut previous = std::mem::take(&mut guard.by_tenant);
        for (tenant, spec) in receivers {
            let name = spec.name().to_string();
            let active = guard.by_tenant.entry(tenant.clone()).or_default();
            if active.contains_key(&name) {
                tracing::warn!(
                    tenant = %tenant,
                    receiver = name,
                    "alert receiver listed twice: the first is kept"
                );
                continue;
            }
            let kept = previous
                .get_mut(&tenant)
                .and_then(|old| old.remove(&name))
                .and_then(|old| {
                    if old.spec == spec {
                        Some(old)
                    } else {
                        to_stop.extend(old.targets);
                        None
                    }
                });
            let receiver = kept.unwrap_or_else(|| self.start_receiver(&tenant, spec));
            active.insert(name, receiver);
        }
        to_stop.extend(
            previous
                .into_values()
                .flat_map(BTreeMap::into_values)
                .flat_map(|receiver| receiver.targets),
        );
        drop(guard);
        for target in to_stop {
            target.stop(DropReason::ReceiverRemoved);
        }
    }

    /// Queues `alerts` for every Alertmanager receiver of `tenant`: `POST {url}/api/v2/alerts`
    /// with the JSON array of postable alerts (labels, annotations, `startsAt`, `endsAt`,
    /// `generatorURL`). Never waits: a full queue drops its oldest notification.
    pub fn post_alerts(&self, tenant: &TenantId, alerts: Vec<OutgoingAlert>) {
        if alerts.is_empty() {
            return;
        }
        let targets: Vec<Arc<Target>> = self.with_receivers(tenant, |receivers| {
            receivers
                .filter(|receiver| {
                    matches!(receiver.spec.kind(), ReceiverKind::Alertmanager { .. })
                })
                .flat_map(|receiver| receiver.targets.iter().cloned())
                .collect()
        });
        if targets.is_empty() {
            return;
        }
        let body = Bytes::from(payload::encode_postable_alerts(&alerts));
        for target in targets {
            target.push(body.clone());
        }
    }

    /// Queues `group` for every webhook receiver of `tenant`, as Alertmanager's webhook payload
    /// (version 4; each alert's `fingerprint` is Alertmanager's: 64-bit FNV-1a of its sorted
    /// labels, as 16 hex digits). A receiver
    /// with `send_resolved = false` is sent only the group's firing alerts, and nothing when
    /// none fires. Never waits: a full queue drops its oldest notification.
    pub fn post_group(&self, tenant: &TenantId, group: AlertGroup) {
        let webhooks: Vec<(String, bool, Arc<Target>)> = self.with_receivers(tenant, |receivers| {
            receivers
                .filter_map(|receiver| match receiver.spec.kind() {
                    ReceiverKind::Webhook { send_resolved, .. } => {
                        let target = receiver.targets.first()?;
                        Some((
                            receiver.spec.name().to_string(),
                            *send_resolved,
                            target.clone(),
                        ))
                    }
                    ReceiverKind::Alertmanager { .. } => None,
                })
                .collect()
        });
        for (name, send_resolved, target) in webhooks {
            let body =
                payload::encode_webhook_message(&group, &name, &self.inner.external_url, |alert| {
                    send_resolved || !alert.resolved
                });
            if let Some(body) = body {
                target.push(Bytes::from(body));
            }
        }
    }

    /// Returns the delivery state of every target of `tenant`'s receivers, by receiver name
    /// and then in the order of the receiver's URLs.
    pub fn status(&self, tenant: &TenantId) -> Vec<TargetStatus> {
        let targets: Vec<Arc<Target>> = self.with_receivers(tenant, |receivers| {
            receivers
                .flat_map(|receiver| receiver.targets.iter().cloned())
                .collect()
        });
        targets.iter().map(|target| target.status()).collect()
    }

    /// Stops every worker, giving queued notifications up to `deadline` to go out; what is
    /// left then is discarded (counted in `sightline_dropped_total{reason="shutdown"}`).
    /// Later calls to the notifier do nothing.
    pub async fn shutdown(&self, deadline: Duration) {
        let targets: Vec<Arc<Target>> = {
            let mut guard = self.lock_receivers();
            guard.closed = true;
            std::mem::take(&mut guard.by_tenant)
                .into_values()
                .flat_map(BTreeMap::into_values)
                .flat_map(|receiver| receiver.targets)
                .collect()
        };
        let pending = targets.iter().filter(|target| !target.is_idle()).count();
        if pending > 0 {
            tracing::info!(
                targets = pending,
                ?deadline,
                "draining alert notification queues"
            );
        }
        self.inner.tracker.close();
        self.inner.drain.cancel();
        let drained = tokio::time::timeout(deadline, self.inner.tracker.wait())
            .await
            .is_ok();
        for target in &targets {
            target.stop(DropReason::Shutdown);
        }
        if !drained {
            self.inner.tracker.wait().await;
        }
    }

    /// Builds a receiver's targets and starts their workers.
    fn start_receiver(&self, tenant: &TenantId, spec: ReceiverSpec) -> ActiveReceiver {
        let urls: Vec<(reqwest::Url, bool)> = match spec.kind() {
            ReceiverKind::Webhook { url, .. } => vec![(url.clone(), false)],
            ReceiverKind::Alertmanager { urls } => urls
                .iter()
                .map(|base| (receiver::alerts_url(base), true))
                .collect(),
        };
        let targets = urls
            .into_iter()
            .map(|(url, log_whole_url)| {
                let target = Arc::new(Target::new(
                    tenant.clone(),
                    &spec,
                    url,
                    log_whole_url,
                    self.inner.settings,
                    self.inner.stop_all.child_token(),
                ));
                self.inner.tracker.spawn_on(
                    delivery::run_worker(
                        target.clone(),
                        self.inner.client.clone(),
                        self.inner.drain.clone(),
                    ),
                    &self.inner.runtime,
                );
                target
            })
            .collect();
        ActiveReceiver { spec, targets }
    }

    fn with_receivers<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&mut dyn Iterator<Item = &ActiveReceiver>) -> T,
    ) -> T {
        let guard = self.lock_receivers();
        let mut receivers = guard
            .by_tenant
            .get(tenant)
            .into_iter()
            .flat_map(BTreeMap::values);
        f(&mut receivers)
    }

    fn lock_receivers(&self) -> MutexGuard<'_, Receivers> {
        self.inner
            .receivers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many workers are running.
    #[cfg(test)]
    fn running_workers(&self) -> usize {
        self.inner.tracker.len()
    }
}
