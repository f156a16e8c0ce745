//! The worker of one delivery target: takes the oldest queued notification and POSTs it,
//! retrying with backoff while the failure may pass, and respecting the circuit breaker.
//!
//! - 2xx: delivered. 5xx, 429, timeouts and connection errors: retried after
//!   [`DeliverySettings::backoff`](super::config::DeliverySettings), up to `max_attempts`
//!   attempts in all, then given up. Any other status: rejected at once (a retry would get
//!   the same answer).
//! - Every failed attempt counts towards the breaker; `breaker_failure_threshold` in a row
//!   open it for `breaker_open_duration`, during which nothing is sent and notifications stay
//!   queued (the queue stays bounded). Then the next attempt is the trial: success closes
//!   the breaker, failure opens it again. Any success resets the count.
//! - One request at a time per target, so a slow receiver holds back only its own queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::target::{Breaker, DropReason, Notification, Target};

/// How much of a rejecting receiver's answer is logged and kept as the last error.
const BODY_PREFIX_BYTES: usize = 200;

/// Why one attempt failed.
#[derive(Debug)]
struct AttemptFailure {
    /// Whether trying again may succeed.
    retryable: bool,
    /// What happened, without URL or header values.
    message: String,
}

/// Delivers `target`'s notifications until it stops, or, once `drain` is cancelled, until
/// its queue is empty.
pub(super) async fn run_worker(
    target: Arc<Target>,
    client: reqwest::Client,
    drain: CancellationToken,
) {
    while let Some(notification) = next_notification(&target, &drain).await {
        deliver(&target, &client, notification).await;
    }
}

/// Waits for the next notification; `None` when the worker should end.
async fn next_notification(target: &Target, drain: &CancellationToken) -> Option<Notification> {
    loop {
        if let Some(next) = target.take_next() {
            return Some(next);
        }
        if target.cancel.is_cancelled() || drain.is_cancelled() || target.lock().stopped {
            return None;
        }
        tokio::select! {
            () = target.wake.notified() => {}
            () = target.cancel.cancelled() => return None,
            () = drain.cancelled() => {}
        }
    }
}

/// Attempts one notification until it is delivered, given up, rejected, dropped for a newer
/// one, or the target stops.
async fn deliver(target: &Target, client: &reqwest::Client, notification: Notification) {
    let id = notification.id;
    let mut failures: u32 = 0;
    let mut not_before: Option<Instant> = None;
    loop {
        if !wait_until_ready(target, id, not_before).await {
            return;
        }
        let started = Instant::now();
        let result = tokio::select! {
            result = send(target, client, notification.body.clone()) => result,
            () = target.cancel.cancelled() => return,
        };
        let took = started.elapsed();
        match result {
            Ok(()) => {
                record_success(target, id, took);
                return;
            }
            Err(failure) => {
                failures += 1;
                if !record_failure(target, id, took, &failure, failures) {
                    return;
                }
                not_before = Some(Instant::now() + target.settings.backoff(failures));
            }
        }
    }
}

/// Waits until the backoff has passed and the breaker lets a request through, turning an
/// open breaker whose period ended half-open. `false` when the notification is no longer to
/// be attempted.
async fn wait_until_ready(target: &Target, id: u64, not_before: Option<Instant>) -> bool {
    loop {
        let wait_until = {
            let mut state = target.lock();
            if target.is_given_up(&mut state, id) {
                return false;
            }
            let breaker_until = match state.breaker {
                Breaker::Open { until } => Some(until),
                Breaker::Closed | Breaker::HalfOpen => None,
            };
            match not_before.max(breaker_until) {
                Some(until) if until > Instant::now() => until,
                _ => {
                    if breaker_until.is_some() {
                        state.breaker = Breaker::HalfOpen;
                    }
                    return true;
                }
            }
        };
        // Woken by a newer notification too: it may have taken this one's place.
        tokio::select! {
            () = tokio::time::sleep_until(wait_until.into()) => {}
            () = target.wake.notified() => {}
            () = target.cancel.cancelled() => return false,
        }
    }
}

fn record_success(target: &Target, id: u64, took: Duration) {
    let mut state = target.lock();
    let was_open = !matches!(state.breaker, Breaker::Closed);
    target.record_attempt_success(&mut state, took);
    target.finish(&mut state, id, None);
    drop(state);
    if was_open {
        tracing::info!(
            tenant = %target.tenant,
            receiver = target.receiver,
            target = target.log_name,
            "alert receiver breaker closed: delivery recovered"
        );
    }
}

/// Records a failed attempt and moves the breaker; `true` when the notification is to be
/// retried.
fn record_failure(
    target: &Target,
    id: u64,
    took: Duration,
    failure: &AttemptFailure,
    failures: u32,
) -> bool {
    let settings = target.settings;
    let mut state = target.lock();
    target.record_attempt_failure(&mut state, took, &failure.message);
    let open_until = Instant::now() + settings.breaker_open_duration;
    let opened = match state.breaker {
        Breaker::HalfOpen => {
            state.breaker = Breaker::Open { until: open_until };
            false
        }
        Breaker::Closed if state.consecutive_failures >= settings.breaker_failure_threshold => {
            state.breaker = Breaker::Open { until: open_until };
            true
        }
        Breaker::Closed | Breaker::Open { .. } => false,
    };
    target.sync_gauges(&mut state);
    let consecutive_failures = state.consecutive_failures;
    let outcome = if !failure.retryable {
        Some(DropReason::Rejected)
    } else if failures >= settings.max_attempts {
        Some(DropReason::GaveUp)
    } else {
        None
    };
    let give_up_log = outcome.and_then(|_| state.give_up_log.allow(Instant::now()));
    match outcome {
        Some(reason) => target.finish(&mut state, id, Some(reason)),
        None if target.is_given_up(&mut state, id) => return false,
        None => {}
    }
    drop(state);
    tracing::debug!(
        tenant = %target.tenant,
        receiver = target.receiver,
        target = target.log_name,
        attempt = failures,
        consecutive_failures,
        error = failure.message,
        "alert notification attempt failed"
    );
    if opened {
        tracing::warn!(
            tenant = %target.tenant,
            receiver = target.receiver,
            target = target.log_name,
            consecutive_failures,
            open_for = ?settings.breaker_open_duration,
            last_error = failure.message,
            "alert receiver breaker opened: nothing is sent to it for a while"
        );
    }
    match (outcome, give_up_log) {
        (Some(DropReason::Rejected), Some(suppressed)) => tracing::warn!(
            tenant = %target.tenant,
            receiver = target.receiver,
            target = target.log_name,
            error = failure.message,
            more_since_last_log = suppressed,
            "alert notification rejected by the receiver: not retried"
        ),
        (Some(_), Some(suppressed)) => tracing::warn!(
            tenant = %target.tenant,
            receiver = target.receiver,
            target = target.log_name,
            attempts = failures,
            error = failure.message,
            more_since_last_log = suppressed,
            "alert notification given up: every attempt failed"
        ),
        _ => {}
    }
    outcome.is_none()
}

/// Sends one attempt: POST the JSON body with the receiver's headers and timeout.
async fn send(
    target: &Target,
    client: &reqwest::Client,
    body: Bytes,
) -> Result<(), AttemptFailure> {
    let response = client
        .post(target.url.clone())
        .timeout(target.timeout)
        .headers(target.headers.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
        .send()
        .await
        .map_err(|error| AttemptFailure {
            retryable: !error.is_builder(),
            message: error_chain(&error.without_url()),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retryable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
    let body = read_body_prefix(response).await;
    let message = if body.is_empty() {
        format!("status {status}")
    } else {
        format!("status {status}: {body}")
    };
    Err(AttemptFailure { retryable, message })
}

/// Reads up to [`BODY_PREFIX_BYTES`] of a response, as one line of text.
async fn read_body_prefix(mut response: reqwest::Response) -> String {
    let mut prefix: Vec<u8> = Vec::new();
    while prefix.len() < BODY_PREFIX_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => prefix.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    prefix.truncate(BODY_PREFIX_BYTES);
    String::from_utf8_lossy(&prefix)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// An error with its causes, `: `-separated (reqwest's own message is only the outermost).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
