//! `[alerting.delivery]`: the queue, retries and circuit breaker of every delivery target.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::search::parse_duration_nanos;

/// Settings of delivery (`[alerting.delivery]`), shared by every receiver. Each delivery
/// target (a webhook, or one URL of an Alertmanager receiver) gets its own queue and breaker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// How many notifications a target holds, the one being delivered included. When it is
    /// full, the oldest is dropped (counted in `sightline_dropped_total{reason="queue_full"}`):
    /// newer notifications say more about the present than older ones.
    pub queue_capacity: usize,
    /// How many times a notification is sent before it is given up (counted in
    /// `sightline_dropped_total{reason="gave_up"}`); 1 means no retry.
    pub max_attempts: u32,
    /// The wait before the first retry, such as `"500ms"`; each further retry waits twice as
    /// long as the one before, up to `max_backoff`, with jitter.
    pub initial_backoff: String,
    /// The longest wait between two attempts, such as `"30s"`.
    pub max_backoff: String,
    /// How many failed attempts in a row open a target's circuit breaker. While it is open
    /// nothing is sent to the target (notifications stay queued).
    pub breaker_failure_threshold: u32,
    /// How long a breaker stays open, such as `"30s"`; then one trial request is sent, which
    /// closes it on success and opens it again on failure.
    pub breaker_open_duration: String,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 1000,
            max_attempts: 10,
            initial_backoff: "500ms".to_string(),
            max_backoff: "30s".to_string(),
            breaker_failure_threshold: 5,
            breaker_open_duration: "30s".to_string(),
        }
    }
}

/// [`DeliveryConfig`], validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DeliverySettings {
    pub(super) queue_capacity: usize,
    pub(super) max_attempts: u32,
    pub(super) initial_backoff: Duration,
    pub(super) max_backoff: Duration,
    pub(super) breaker_failure_threshold: u32,
    pub(super) breaker_open_duration: Duration,
}

impl DeliveryConfig {
    /// Checks the settings, returning one line per problem naming the key.
    ///
    /// # Errors
    /// Every problem found: a zero capacity, attempt count or threshold, an unreadable or zero
    /// duration, or an initial backoff above the maximum.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        self.settings().map(|_| ())
    }

    /// Validates the settings into durations and counts.
    pub(super) fn settings(&self) -> Result<DeliverySettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut at_least_one = |key: &str, value: u64| {
            if value == 0 {
                problems.push(format!("alerting.delivery.{key} must be at least 1"));
            }
        };
        at_least_one("queue_capacity", self.queue_capacity as u64);
        at_least_one("max_attempts", u64::from(self.max_attempts));
        at_least_one(
            "breaker_failure_threshold",
            u64::from(self.breaker_failure_threshold),
        );
        let mut duration = |key: &str, text: &str| match parse_duration_nanos(text) {
            Ok(0) => {
                problems.push(format!(
                    "invalid value {text:?} for alerting.delivery.{key}: must be more than 0"
                ));
                Duration::ZERO
            }
            Ok(nanos) => Duration::from_nanos(nanos),
            Err(message) => {
                problems.push(format!(
                    "invalid value for alerting.delivery.{key}: {message}"
                ));
                Duration::ZERO
            }
        };
        let initial_backoff = duration("initial_backoff", &self.initial_backoff);
        let max_backoff = duration("max_backoff", &self.max_backoff);
        let breaker_open_duration = duration("breaker_open_duration", &self.breaker_open_duration);
        if !initial_backoff.is_zero() && !max_backoff.is_zero() && initial_backoff > max_backoff {
            problems.push(format!(
                "alerting.delivery.initial_backoff ({:?}) must not exceed alerting.delivery.max_backoff ({:?})",
                self.initial_backoff, self.max_backoff
            ));
        }
        if problems.is_empty() {
            Ok(DeliverySettings {
                queue_capacity: self.queue_capacity,
                max_attempts: self.max_attempts,
                initial_backoff,
                max_backoff,
                breaker_failure_threshold: self.breaker_failure_threshold,
                breaker_open_duration,
            })
        } else {
            Err(problems)
        }
    }
}

impl DeliverySettings {
    /// Returns the wait after the `failures`-th failed attempt of a notification (1-based),
    /// with "equal jitter": half of `initial_backoff × 2^(failures − 1)` (capped at
    /// `max_backoff`) plus a uniformly random part of up to the other half. Attempts keep at
    /// least half the exponential spacing while retries of many targets spread out.
    pub(super) fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let exponential = self
            .initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        let nanos = u64::try_from(exponential.as_nanos()).unwrap_or(u64::MAX);
        let half = nanos / 2;
        Duration::from_nanos(half + fastrand::u64(0..=nanos - half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let settings = DeliveryConfig::default().settings().unwrap();
        assert_eq!(settings.initial_backoff, Duration::from_millis(500));
        assert_eq!(settings.max_backoff, Duration::from_secs(30));
        assert_eq!(settings.breaker_open_duration, Duration::from_secs(30));
        assert_eq!(settings.queue_capacity, 1000);
    }

    #[test]
    fn problems_name_keys() {
        let config = DeliveryConfig {
            queue_capacity: 0,
            max_attempts: 0,
            initial_backoff: "1m".to_string(),
            max_backoff: "10s".to_string(),
            breaker_failure_threshold: 0,
            breaker_open_duration: "soon".to_string(),
        };
        let problems = config.validate().unwrap_err();
        assert_eq!(
            problems[..3],
            [
                "alerting.delivery.queue_capacity must be at least 1",
                "alerting.delivery.max_attempts must be at least 1",
                "alerting.delivery.breaker_failure_threshold must be at least 1",
            ]
        );
        assert!(problems[3].contains("alerting.delivery.breaker_open_duration"));
        assert!(problems[4].contains("alerting.delivery.initial_backoff"));
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_up_to_the_cap() {
        let settings = DeliveryConfig {
            initial_backoff: "100ms".to_string(),
            max_backoff: "1s".to_string(),
            ..DeliveryConfig::default()
        }
        .settings()
        .unwrap();
        for _ in 0..100 {
            let first = settings.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = settings.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let capped = settings.backoff(40);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_secs(1));
        }
    }
}
