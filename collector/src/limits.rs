//! The in-flight byte budget: requests reserve their bytes *before* the body is read and decoded
//! (STYLE.md §5, "budget before bytes"), so memory stays bounded under a flood of exports.
//!
//! Also [`LogThrottle`], which keeps input-triggered log lines from flooding the log.
//!
//! The budget is a tokio [`Semaphore`] counting KiB (so that one reservation fits the
//! semaphore's `u32` acquire even for large limits). A reservation is released when it is
//! dropped, which the handlers do once the spans are handed off to the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

/// Bytes per semaphore permit.
const BYTES_PER_PERMIT: u64 = 1024;

/// A shared budget of request bytes in flight. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ByteBudget {
    semaphore: Arc<Semaphore>,
    total_permits: u32,
}

/// Bytes reserved from a [`ByteBudget`]; dropping it gives them back.
#[derive(Debug)]
pub(crate) struct BudgetReservation {
    permit: OwnedSemaphorePermit,
}

impl ByteBudget {
    /// Creates a budget of `total_bytes` (at least one KiB).
    pub(crate) fn new(total_bytes: u64) -> Self {
        let total_permits =
            permits_for(total_bytes).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u32);
        Self {
            semaphore: Arc::new(Semaphore::new(total_permits as usize)),
            total_permits,
        }
    }

    /// Reserves `bytes`, waiting at most `wait`. A request larger than the whole budget
    /// reserves the whole budget, so it can still run alone.
    ///
    /// # Errors
    /// [`Error::BudgetExhausted`] when no room was freed within `wait`.
    pub(crate) async fn reserve(
        &self,
        bytes: u64,
        wait: Duration,
    ) -> Result<BudgetReservation, Error> {
        let permits = permits_for(bytes).clamp(1, self.total_permits);
        let acquire = self.semaphore.clone().acquire_many_owned(permits);
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Ok(BudgetReservation { permit }),
            // The semaphore is never closed; treat it like a full budget anyway.
            Ok(Err(_)) | Err(_) => Err(Error::BudgetExhausted {
                requested_bytes: bytes,
                waited_millis: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Returns the bytes currently free, for tests and diagnostics.
    #[cfg(test)]
    pub(crate) fn available_bytes(&self) -> u64 {
        self.semaphore.available_permits() as u64 * BYTES_PER_PERMIT
    }
}

impl BudgetReservation {
    /// Gives back everything above `bytes`, once the real size is known (a body shorter than
    /// its pessimistic reservation).
    pub(crate) fn shrink_to(&mut self, bytes: u64) {
        let keep = permits_for(bytes).max(1) as usize;
        let held = self.permit.num_permits();
        if held > keep {
            // Dropping the split-off permit returns it to the semaphore.
            drop(self.permit.split(held - keep));
        }
    }

    /// Returns the bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> u64 {
        self.permit.num_permits() as u64 * BYTES_PER_PERMIT
    }
}

/// Lets a log line through at most once per interval, so input-triggered logs cannot flood.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    interval_millis: u64,
    next_allowed_millis: AtomicU64,
}

impl LogThrottle {
    /// Creates a throttle that allows one line per `interval_millis`.
    pub(crate) const fn new(interval_millis: u64) -> Self {
        Self {
            interval_millis,
            next_allowed_millis: AtomicU64::new(0),
        }
    }

    /// Says whether a line may be logged now.
    pub(crate) fn allow(&self) -> bool {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let now_millis = u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_millis())
            .unwrap_or(u64::MAX);
        let next = self.next_allowed_millis.load(Ordering::Relaxed);
        now_millis >= next
            && self
                .next_allowed_millis
                .compare_exchange(
                    next,
                    now_millis.saturating_add(self.interval_millis),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

fn permits_for(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(BYTES_PER_PERMIT)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn reservations_wait_then_fail_and_release_on_drop() {
        let budget = ByteBudget::new(10 * 1024);
        let first = budget.reserve(6 * 1024, WAIT).await.unwrap();
        let refused = budget.reserve(6 * 1024, WAIT).await.unwrap_err();
        assert!(matches!(
            refused,
            Error::BudgetExhausted {
                requested_bytes: 6144,
                ..
            }
        ));
        drop(first);
        let second = budget.reserve(6 * 1024, WAIT).await.unwrap();
        assert_eq!(second.bytes(), 6 * 1024);
    }

    #[tokio::test]
    async fn oversized_requests_take_the_whole_budget_and_shrink_gives_back() {
        let budget = ByteBudget::new(8 * 1024);
        let mut whole = budget.reserve(1 << 40, WAIT).await.unwrap();
        assert_eq!(budget.available_bytes(), 0);
        whole.shrink_to(1500);
        assert_eq!(whole.bytes(), 2048);
        assert_eq!(budget.available_bytes(), 6 * 1024);
        drop(whole);
        assert_eq!(budget.available_bytes(), 8 * 1024);
    }

    #[test]
    fn log_throttle_lets_one_line_through_per_interval() {
        let throttle = LogThrottle::new(60_000);
        assert!(throttle.allow());
        assert!(!throttle.allow());
    }
}
