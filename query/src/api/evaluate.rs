//! Runs PromQL off the reactor: a concurrency permit, a deadline, a blocking thread that
//! reads through [`MetricStoreSource`], and cancellation when the client goes away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sightline_model::TenantId;
use sightline_store::scan;
use tokio::runtime::Handle;

use crate::api::AppState;
use crate::error::Error;
use crate::promql::{self, MetricStoreSource};

/// How many PromQL queries evaluate at once (Prometheus' `--query.max-concurrency` default);
/// a query beyond it waits for a permit, and the wait counts against its timeout. It keeps
/// query evaluation from taking every core that ingest needs.
pub(crate) const MAX_CONCURRENT_QUERIES: usize = 20;

/// Sets the flag when dropped: the handler's future is dropped when its client disconnects,
/// and the evaluation then stops at its next step.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `evaluate` for `tenant` on a blocking thread, with at most `timeout` from now
/// (waiting for a permit included).
///
/// # Errors
/// Whatever `evaluate` fails with; [`promql::Error::Timeout`] once the deadline passes (the
/// evaluation is then told to stop); a store failure as [`Error::Store`] with its own class;
/// [`Error::TaskFailed`] if the evaluation panicked.
pub(crate) async fn evaluate_off_reactor<T: Send + 'static>(
    state: &AppState,
    tenant: TenantId,
    timeout: Duration,
    evaluate: impl FnOnce(&MetricStoreSource) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let deadline = Instant::now().checked_add(timeout);
    let permit = state.promql_permits.clone().acquire_owned();
    let permit = within(deadline, permit)
        .await?
        .map_err(|_| Error::TaskFailed("query permits closed".into()))?;
    let canceled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(Arc::clone(&canceled));
    let mut source = MetricStoreSource::new(state.metrics.clone(), tenant, Handle::current())
        .with_cancel_flag(canceled)
        .with_max_series(state.config.max_series_per_query);
    if let Some(deadline) = deadline {
        source = source.with_deadline(deadline);
    }
    let span = tracing::Span::current();
    let budget = scan::current();
    let task = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        // Held until the evaluation really ends, even if the handler gave up on it.
        let _permit = permit;
        match scan::in_budget(budget, || evaluate(&source)) {
            Err(Error::Promql(promql::Error::Source { reason })) => match source.take_store_error()
            {
                Some(store_error) => Err(Error::Store(store_error)),
                None => Err(Error::Promql(promql::Error::Source { reason })),
            },
            other => other,
        }
    });
    within(deadline, task)
        .await?
        .map_err(|error| Error::TaskFailed(format!("query evaluation: {error}")))?
}

/// Awaits `future` until `deadline` (forever when `None`).
async fn within<F: std::future::Future>(
    deadline: Option<Instant>,
    future: F,
) -> Result<F::Output, Error> {
    match deadline {
        None => Ok(future.await),
        Some(deadline) => tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), future)
            .await
            .map_err(|_| Error::Promql(promql::Error::Timeout)),
    }
}
