//! The per-query scan budget: how many bytes of stored parts one query may read.
//!
//! A query runs inside [`with_budget`] (the query port wraps every request in one); each byte
//! range a [`PartReader`](crate::part::io::PartReader) fetches from the object store is charged
//! to the budget of the task reading it, and a read that would go over fails with
//! [`ScanLimitExceeded`] before it is fetched, which surfaces as [`Error::ScanLimit`]
//! (a client error: the query is too large, not the store broken, and never a reason to
//! quarantine a part).
//!
//! The budget travels with the task (a tokio task-local), so no read API changes shape; work a
//! query hands to a blocking thread takes it along with [`current`] and [`in_budget`]. Reads
//! outside any budget (start-up, flushes, compaction, alert evaluation) are not limited.
//! In-memory heads cost nothing here: the budget bounds I/O, which is what a runaway query
//! spends.
//!
//! [`Error::ScanLimit`]: crate::Error::ScanLimit

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

tokio::task_local! {
    static BUDGET: Arc<ScanBudget>;
}

/// The bytes one query may still read from parts.
#[derive(Debug)]
pub struct ScanBudget {
    limit_bytes: u64,
    used_bytes: AtomicU64,
}

/// A read would take a query past its scan budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the query would read more than {limit_bytes} bytes of stored data \
     (query.max_bytes_scanned_per_query); narrow its time range or filters"
)]
pub struct ScanLimitExceeded {
    /// The budget.
    pub limit_bytes: u64,
}

impl ScanBudget {
    /// A budget of `limit_bytes`; 0 means no limit.
    pub fn new(limit_bytes: u64) -> Arc<Self> {
        Arc::new(Self {
            limit_bytes,
            used_bytes: AtomicU64::new(0),
        })
    }

    /// Bytes charged so far.
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes.load(Ordering::Relaxed)
    }

    /// Charges `bytes`, or refuses when that would go over the limit (the refused bytes are
    /// not charged).
    fn charge(&self, bytes: u64) -> Result<(), ScanLimitExceeded> {
        let before = self.used_bytes.fetch_add(bytes, Ordering::Relaxed);
        if self.limit_bytes > 0 && before.saturating_add(bytes) > self.limit_bytes {
            self.used_bytes.fetch_sub(bytes, Ordering::Relaxed);
            return Err(ScanLimitExceeded {
                limit_bytes: self.limit_bytes,
            });
        }
        Ok(())
    }
}

/// Runs `future` with `budget` as the scan budget of everything it reads.
pub async fn with_budget<F: Future>(budget: Arc<ScanBudget>, future: F) -> F::Output {
    BUDGET.scope(budget, future).await
}

/// The budget of the running task, to hand to a blocking thread.
pub fn current() -> Option<Arc<ScanBudget>> {
    BUDGET.try_with(Arc::clone).ok()
}

/// Runs `work` (synchronous, e.g. on a blocking thread that drives store futures with
/// `Handle::block_on`) under `budget`; without one, unlimited.
pub fn in_budget<R>(budget: Option<Arc<ScanBudget>>, work: impl FnOnce() -> R) -> R {
    match budget {
        Some(budget) => BUDGET.sync_scope(budget, work),
        None => work(),
    }
}

/// Reads a query keeps in flight, each a task of its own: one per core, at least two (metric
/// batches, trace search parts). A metric task reading a whole batch opens each part once for
/// it (each Parquet column chunk it reads costs a codec set-up), where splitting batches into
/// smaller tasks cost about a sixth more CPU.
pub(crate) fn read_ahead() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2))
}

/// Spawns `future` as a task under the running task's budget (a task-local does not cross
/// `tokio::spawn` by itself); the task is aborted when its handle is dropped, so a query
/// that is cancelled takes its reads with it.
pub(crate) fn spawn_in_budget<F>(future: F) -> tokio_util::task::AbortOnDropHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let budget = current();
    tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
        match budget {
            Some(budget) => with_budget(budget, future).await,
            None => future.await,
        }
    }))
}

/// Charges `bytes` to the running task's budget, if it has one.
pub(crate) fn charge(bytes: u64) -> Result<(), ScanLimitExceeded> {
    BUDGET
        .try_with(|budget| budget.charge(bytes))
        .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_are_charged_to_the_task_budget_until_it_is_spent() {
        let budget = ScanBudget::new(100);
        let outcome = with_budget(budget.clone(), async {
            (charge(60), charge(50), charge(40))
        })
        .await;
        assert_eq!(
            outcome,
            (Ok(()), Err(ScanLimitExceeded { limit_bytes: 100 }), Ok(()))
        );
        assert_eq!(budget.used_bytes(), 100);
        assert_eq!(charge(u64::MAX), Ok(()), "outside a budget: unlimited");
    }

    #[tokio::test]
    async fn a_blocking_thread_takes_the_budget_along() {
        let budget = ScanBudget::new(10);
        let refused = with_budget(budget.clone(), async {
            let carried = current();
            tokio::task::spawn_blocking(move || in_budget(carried, || charge(11)))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(refused, Err(ScanLimitExceeded { limit_bytes: 10 }));
        let unlimited = with_budget(ScanBudget::new(0), async { charge(u64::MAX / 2) }).await;
        assert_eq!(unlimited, Ok(()));
    }
}
