//! A delivery target (a webhook, or one URL of an Alertmanager receiver): its bounded queue,
//! circuit breaker, counters and self-metrics. The worker that drains it is in
//! [`super::delivery`].

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use metrics::{Counter, Gauge, Histogram};
use reqwest::header::HeaderMap;
use reqwest::Url;
use serde::Serialize;
use sightline_model::TenantId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::config::DeliverySettings;
use super::receiver::{url_without_userinfo, ReceiverSpec};

/// How often a target logs the same kind of trouble at `warn` (queue overflow, give-ups);
/// what happens in between is counted and reported with the next line.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The state of a target's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests go out.
    Closed,
    /// Too many attempts failed in a row: nothing is sent until the open period ends.
    Open,
    /// The open period ended: the next attempt is a trial that closes or reopens it.
    HalfOpen,
}

/// The delivery state of one target, for the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetStatus {
    /// The receiver's tenant.
    pub tenant: String,
    /// The receiver's name.
    pub receiver: String,
    /// `webhook` or `alertmanager`.
    pub kind: &'static str,
    /// Where notifications are posted, without userinfo.
    pub url: String,
    /// Notifications held, the one being delivered included.
    pub queued: usize,
    /// Notifications delivered.
    pub delivered_total: u64,
    /// Attempts that failed (each retry counts).
    pub failed_attempts_total: u64,
    /// Notifications dropped: queue full, given up, rejected, or discarded on removal.
    pub dropped_total: u64,
    /// Attempts failed in a row since the last success.
    pub consecutive_failures: u32,
    /// The circuit breaker's state.
    pub breaker: BreakerState,
    /// When the last notification was delivered, ms since the Unix epoch.
    pub last_success_unix_ms: Option<i64>,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt failed, ms since the Unix epoch.
    pub last_error_unix_ms: Option<i64>,
}

/// Why a notification was dropped: the `reason` of `sightline_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DropReason {
    /// The queue was full and a newer notification took its place.
    QueueFull,
    /// Every attempt failed.
    GaveUp,
    /// The receiver answered with a status that a retry cannot change (4xx but 429).
    Rejected,
    /// The receiver was removed or changed.
    ReceiverRemoved,
    /// The notifier shut down before it went out.
    Shutdown,
}

impl DropReason {
    fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::GaveUp => "gave_up",
            DropReason::Rejected => "rejected",
            DropReason::ReceiverRemoved => "receiver_removed",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// A notification body waiting for delivery.
#[derive(Debug, Clone)]
pub(super) struct Notification {
    pub(super) id: u64,
    pub(super) body: Bytes,
}

/// Where the notification being delivered stands.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: u64,
    /// A newer notification overflowed the queue (capacity 1): stop retrying it. Already
    /// counted as dropped.
    abandoned: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Breaker {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// The mutable part of a target. A std mutex: never held across an `.await`.
pub(super) struct TargetState {
    waiting: VecDeque<Notification>,
    in_flight: Option<InFlight>,
    next_id: u64,
    pub(super) stopped: bool,
    delivered_total: u64,
    failed_attempts_total: u64,
    dropped_total: u64,
    pub(super) consecutive_failures: u32,
    pub(super) breaker: Breaker,
    last_success_unix_ms: Option<i64>,
    last_error: Option<String>,
    last_error_unix_ms: Option<i64>,
    /// What this target last added to the per-receiver gauges (they sum over its targets).
    reported_queued: usize,
    reported_breaker_open: bool,
    overflow_log: LogLimiter,
    pub(super) give_up_log: LogLimiter,
}

/// Handles of a target's self-metrics, labelled `tenant` and `receiver`.
struct TargetMetrics {
    delivered: Counter,
    gave_up: Counter,
    rejected: Counter,
    dropped_queue_full: Counter,
    dropped_stopped: Counter,
    attempt_success: Counter,
    attempt_failure: Counter,
    queue_length: Gauge,
    breaker_open: Gauge,
    duration: Histogram,
}

impl TargetMetrics {
    fn new(tenant: &TenantId, receiver: &str) -> Self {
        let labels = |outcome: &'static str| {
            [
                ("tenant", tenant.to_string()),
                ("receiver", receiver.to_string()),
                ("outcome", outcome.to_string()),
            ]
        };
        let notifications =
            |outcome| metrics::counter!("sightline_alert_notifications_total", &labels(outcome));
        let attempts = |outcome| {
            metrics::counter!(
                "sightline_alert_notification_attempts_total",
                &labels(outcome)
            )
        };
        let receiver_labels = [
            ("tenant", tenant.to_string()),
            ("receiver", receiver.to_string()),
        ];
        Self {
            delivered: notifications("delivered"),
            gave_up: notifications("gave_up"),
            rejected: notifications("rejected"),
            dropped_queue_full: notifications("dropped_queue_full"),
            dropped_stopped: notifications("dropped_stopped"),
            attempt_success: attempts("success"),
            attempt_failure: attempts("failure"),
            queue_length: metrics::gauge!(
                "sightline_alert_notification_queue_length",
                &receiver_labels
            ),
            breaker_open: metrics::gauge!(
                "sightline_alert_receiver_breaker_open",
                &receiver_labels
            ),
            duration: metrics::histogram!(
                "sightline_alert_notification_duration_seconds",
                &receiver_labels
            ),
        }
    }
}

/// A delivery target: one queue, one breaker, one worker.
pub(super) struct Target {
    pub(super) tenant: TenantId,
    pub(super) receiver: String,
    pub(super) kind: &'static str,
    /// Where notifications are posted.
    pub(super) url: Url,
    /// `url` without userinfo, for the API.
    shown_url: String,
    /// What logs name the target by: the Alertmanager URL, or only a webhook's origin (its
    /// path may hold a token).
    pub(super) log_name: String,
    pub(super) timeout: Duration,
    pub(super) headers: HeaderMap,
    pub(super) settings: DeliverySettings,
    state: Mutex<TargetState>,
    /// Woken when a notification is queued or the target stops.
    pub(super) wake: Notify,
    /// Cancelled when the target stops: the worker ends, an ongoing request is abandoned.
    pub(super) cancel: CancellationToken,
    metrics: TargetMetrics,
}

impl Target {
    /// Builds a target of `spec` posting to `url`; `log_whole_url` says whether logs may show
    /// the URL's path. Cancelling `cancel` (or stopping the target) ends its worker.
    pub(super) fn new(
        tenant: TenantId,
        spec: &ReceiverSpec,
        url: Url,
        log_whole_url: bool,
        settings: DeliverySettings,
        cancel: CancellationToken,
    ) -> Self {
        let shown_url = url_without_userinfo(&url);
        let log_name = if log_whole_url {
            shown_url.clone()
        } else {
            url.origin().ascii_serialization()
        };
        Self {
            metrics: TargetMetrics::new(&tenant, spec.name()),
            tenant,
            receiver: spec.name().to_string(),
            kind: spec.kind().as_str(),
            url,
            shown_url,
            log_name,
            timeout: spec.timeout(),
            headers: spec.header_map().clone(),
            settings,
            state: Mutex::new(TargetState {
                waiting: VecDeque::new(),
                in_flight: None,
                next_id: 0,
                stopped: false,
                delivered_total: 0,
                failed_attempts_total: 0,
                dropped_total: 0,
                consecutive_failures: 0,
                breaker: Breaker::Closed,
                last_success_unix_ms: None,
                last_error: None,
                last_error_unix_ms: None,
                reported_queued: 0,
                reported_breaker_open: false,
                overflow_log: LogLimiter::default(),
                give_up_log: LogLimiter::default(),
            }),
            wake: Notify::new(),
            cancel,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, TargetState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a notification without waiting; a full queue drops its oldest waiting one.
    pub(super) fn push(&self, body: Bytes) {
        let mut state = self.lock();
        if state.stopped {
            return;
        }
        let mut overflow_log = None;
        if state.held() >= self.settings.queue_capacity {
            if state.waiting.pop_front().is_none() {
                if let Some(in_flight) = state.in_flight.as_mut() {
                    in_flight.abandoned = true;
                }
            }
            self.count_dropped(&mut state, DropReason::QueueFull, 1);
            overflow_log = state.overflow_log.allow(Instant::now());
        }
        let id = state.next_id;
        state.next_id += 1;
        state.waiting.push_back(Notification { id, body });
        self.sync_gauges(&mut state);
        drop(state);
        self.wake.notify_one();
        if let Some(suppressed) = overflow_log {
            tracing::warn!(
                tenant = %self.tenant,
                receiver = self.receiver,
                target = self.log_name,
                capacity = self.settings.queue_capacity,
                more_since_last_log = suppressed,
                "alert notification queue full: dropped the oldest"
            );
        }
    }

    /// Takes the oldest waiting notification for delivery; `None` when none is waiting or the
    /// target stopped.
    pub(super) fn take_next(&self) -> Option<Notification> {
        let mut state = self.lock();
        if state.stopped {
            return None;
        }
        let next = state.waiting.pop_front()?;
        state.in_flight = Some(InFlight {
            id: next.id,
            abandoned: false,
        });
        Some(next)
    }

    /// Whether notification `id` should no longer be attempted: the target stopped or a newer
    /// notification took its place. Clears it from the state when so.
    pub(super) fn is_given_up(&self, state: &mut TargetState, id: u64) -> bool {
        let current = state.in_flight.is_some_and(|f| f.id == id && !f.abandoned);
        if !current || state.stopped {
            if state.in_flight.is_some_and(|f| f.id == id) {
                state.in_flight = None;
            }
            return true;
        }
        false
    }

    /// Ends notification `id` with `outcome` (`None`: delivered), counting it unless it was
    /// already counted as dropped.
    pub(super) fn finish(&self, state: &mut TargetState, id: u64, outcome: Option<DropReason>) {
        if self.is_given_up(state, id) {
            return;
        }
        state.in_flight = None;
        match outcome {
            None => {
                state.delivered_total += 1;
                self.metrics.delivered.increment(1);
            }
            Some(reason) => self.count_dropped(state, reason, 1),
        }
        self.sync_gauges(state);
    }

    /// Records a successful attempt: closes the breaker.
    pub(super) fn record_attempt_success(&self, state: &mut TargetState, took: Duration) {
        self.metrics.duration.record(took.as_secs_f64());
        self.metrics.attempt_success.increment(1);
        state.consecutive_failures = 0;
        state.breaker = Breaker::Closed;
        state.last_success_unix_ms = Some(now_unix_ms());
        self.sync_gauges(state);
    }

    /// Records a failed attempt (the breaker is the caller's).
    pub(super) fn record_attempt_failure(
        &self,
        state: &mut TargetState,
        took: Duration,
        error: &str,
    ) {
        self.metrics.duration.record(took.as_secs_f64());
        self.metrics.attempt_failure.increment(1);
        state.failed_attempts_total += 1;
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.last_error = Some(error.to_string());
        state.last_error_unix_ms = Some(now_unix_ms());
    }

    /// Stops the target: discards what it holds (counted with `reason`) and ends its worker.
    pub(super) fn stop(&self, reason: DropReason) {
        let mut state = self.lock();
        if !state.stopped {
            state.stopped = true;
            let discarded = state.held();
            state.waiting.clear();
            state.in_flight = None;
            state.breaker = Breaker::Closed;
            self.count_dropped(&mut state, reason, discarded as u64);
            self.sync_gauges(&mut state);
            drop(state);
            if discarded > 0 {
                tracing::info!(
                    tenant = %self.tenant,
                    receiver = self.receiver,
                    target = self.log_name,
                    discarded,
                    reason = reason.as_str(),
                    "alert notifications discarded: delivery stopped"
                );
            }
        }
        self.cancel.cancel();
        self.wake.notify_one();
    }

    /// Returns the target's delivery state.
    pub(super) fn status(&self) -> TargetStatus {
        let state = self.lock();
        TargetStatus {
            tenant: self.tenant.to_string(),
            receiver: self.receiver.clone(),
            kind: self.kind,
            url: self.shown_url.clone(),
            queued: state.held(),
            delivered_total: state.delivered_total,
            failed_attempts_total: state.failed_attempts_total,
            dropped_total: state.dropped_total,
            consecutive_failures: state.consecutive_failures,
            breaker: match state.breaker {
                Breaker::Closed => BreakerState::Closed,
                Breaker::Open { until } if until > Instant::now() => BreakerState::Open,
                Breaker::Open { .. } | Breaker::HalfOpen => BreakerState::HalfOpen,
            },
            last_success_unix_ms: state.last_success_unix_ms,
            last_error: state.last_error.clone(),
            last_error_unix_ms: state.last_error_unix_ms,
        }
    }

    /// Whether nothing is waiting nor being delivered.
    pub(super) fn is_idle(&self) -> bool {
        self.lock().held() == 0
    }

    fn count_dropped(&self, state: &mut TargetState, reason: DropReason, count: u64) {
        if count == 0 {
            return;
        }
        state.dropped_total += count;
        let outcome = match reason {
            DropReason::QueueFull => &self.metrics.dropped_queue_full,
            DropReason::GaveUp => &self.metrics.gave_up,
            DropReason::Rejected => &self.metrics.rejected,
            DropReason::ReceiverRemoved | DropReason::Shutdown => &self.metrics.dropped_stopped,
        };
        outcome.increment(count);
        metrics::counter!(
            "sightline_dropped_total",
            "signal" => "alert_notifications",
            "reason" => reason.as_str()
        )
        .increment(count);
    }

    /// Brings the per-receiver gauges (sums over the receiver's targets) up to date with this
    /// target's share.
    pub(super) fn sync_gauges(&self, state: &mut TargetState) {
        let queued = if state.stopped { 0 } else { state.held() };
        if queued != state.reported_queued {
            self.metrics
                .queue_length
                .increment(queued as f64 - state.reported_queued as f64);
            state.reported_queued = queued;
        }
        let open = !state.stopped && !matches!(state.breaker, Breaker::Closed);
        if open != state.reported_breaker_open {
            if open {
                self.metrics.breaker_open.increment(1.0);
            } else {
                self.metrics.breaker_open.decrement(1.0);
            }
            state.reported_breaker_open = open;
        }
    }
}

impl TargetState {
    /// Notifications held: those waiting plus the one being delivered.
    fn held(&self) -> usize {
        self.waiting.len() + usize::from(self.in_flight.is_some_and(|f| !f.abandoned))
    }
}

/// Lets one `warn` line through per [`WARN_EVERY`], counting those held back.
#[derive(Debug, Default)]
pub(super) struct LogLimiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// Returns how many lines were held back since the last one let through, or `None` when
    /// this one is held back too.
    pub(super) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < WARN_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Returns the current time in ms since the Unix epoch.
pub(super) fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_limiter_lets_one_line_through_per_period() {
        let mut limiter = LogLimiter::default();
        let start = Instant::now();
        assert_eq!(limiter.allow(start), Some(0));
        assert_eq!(limiter.allow(start + Duration::from_secs(1)), None);
        assert_eq!(limiter.allow(start + Duration::from_secs(2)), None);
        assert_eq!(
            limiter.allow(start + WARN_EVERY + Duration::from_secs(1)),
            Some(2)
        );
    }
}
