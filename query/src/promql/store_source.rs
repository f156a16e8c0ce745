//! [`MetricStoreSource`]: the evaluator's [`SeriesSource`] over the metric store, for one
//! tenant and one query.
//!
//! The evaluator is synchronous and the store is async, so the adapter runs each read to
//! completion with [`Handle::block_on`]. That is why a query using it runs on a blocking
//! thread (`tokio::task::spawn_blocking`) or outside any runtime, never on a worker: the
//! selection plan (`prefetch`) already reads each selector's window once per query, so a
//! query blocks once per selector, not once per step.
//!
//! The adapter also carries the query's deadline and a cancellation flag; the evaluator asks
//! [`SeriesSource::check_interrupted`] between steps, so a query past its deadline, or whose
//! client went away, stops within one step instead of running to the end.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use promql_parser::label::Matcher;
use sightline_model::TenantId;
use sightline_store::MetricStore;
use tokio::runtime::Handle;

use super::source::{SelectedSeries, SeriesMap, SeriesSource, StepValue, VisitBatch, VisitMapped};
use super::value::Labels;
use super::Error;

/// Reads series of one tenant from a [`MetricStore`], for one query.
pub struct MetricStoreSource {
    store: MetricStore,
    tenant: TenantId,
    runtime: Handle,
    deadline: Option<Instant>,
    canceled: Arc<AtomicBool>,
    /// The first store failure, kept whole so the caller can answer with the store's own
    /// error class instead of the evaluator's [`Error::Source`] text.
    store_error: Mutex<Option<sightline_store::Error>>,
    /// The most series the query may select in all (`None`: no limit).
    max_series: Option<usize>,
    /// How many it has selected so far.
    selected_series: std::sync::atomic::AtomicUsize,
    /// Samples per batch handed to [`SeriesSource::visit_series`]'s caller.
    batch_samples: usize,
}

impl MetricStoreSource {
    /// Creates a source reading `tenant`'s series from `store`, driving the store's futures
    /// on `runtime`. It has no deadline and is never canceled until told otherwise.
    pub fn new(store: MetricStore, tenant: TenantId, runtime: Handle) -> Self {
        Self {
            store,
            tenant,
            runtime,
            deadline: None,
            canceled: Arc::new(AtomicBool::new(false)),
            store_error: Mutex::new(None),
            max_series: None,
            selected_series: std::sync::atomic::AtomicUsize::new(0),
            batch_samples: VISIT_BATCH_SAMPLES,
        }
    }

    /// Hands series to [`SeriesSource::visit_series`]'s caller in batches of about
    /// `samples` samples (default [`VISIT_BATCH_SAMPLES`]); tests make them small to
    /// exercise many batches over little data.
    pub fn with_batch_samples(mut self, samples: usize) -> Self {
        self.batch_samples = samples.max(1);
        self
    }

    /// Stops the query with an execution error once its selectors have selected more than
    /// `limit` series in all (`query.max_series_per_query`; 0 = no limit).
    pub fn with_max_series(mut self, limit: usize) -> Self {
        self.max_series = (limit > 0).then_some(limit);
        self
    }

    /// Stops the query with [`Error::Timeout`] once `deadline` has passed.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Stops the query with [`Error::Canceled`] once `canceled` is set (by the request's
    /// drop guard, say).
    pub fn with_cancel_flag(mut self, canceled: Arc<AtomicBool>) -> Self {
        self.canceled = canceled;
        self
    }

    /// Keeps a store failure for [`MetricStoreSource::take_store_error`] and turns it into
    /// the evaluator's [`Error::Source`].
    fn keep_store_error(&self, error: sightline_store::Error) -> Error {
        let reason = error.to_string();
        self.store_error
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get_or_insert(error);
        Error::Source { reason }
    }

    /// Counts `series` more selected and stops the query once they pass its series limit.
    fn count_selected(&self, series: usize) -> Result<(), Error> {
        let Some(limit) = self.max_series else {
            return Ok(());
        };
        let total = self.selected_series.fetch_add(series, Ordering::Relaxed) + series;
        if total > limit {
            return Err(Error::Execution {
                message: format!(
                    "the query selected more than {limit} series (query.max_series_per_query); narrow its selectors"
                ),
            });
        }
        Ok(())
    }

    /// Reads the series matching `matchers` in batches of about `batch_samples` samples, each
    /// series made into a `T` by `map` in the store's read tasks, and hands the batches to
    /// `visit` until it breaks.
    fn visit_store<T: Send + 'static>(
        &self,
        matchers: &[Matcher],
        (start_ms, end_ms): (i64, i64),
        batch_samples: usize,
        map: sightline_store::SeriesMap<T, (i64, f64)>,
        visit: &mut dyn FnMut(Vec<(Labels, T)>) -> Result<ControlFlow<()>, Error>,
    ) -> Result<(), Error> {
        self.check_interrupted()?;
        let mut batches = self
            .runtime
            .block_on(self.store.select_batches_mapped(
                &self.tenant,
                matchers,
                start_ms,
                end_ms,
                batch_samples,
                map,
            ))
            .map_err(|error| self.keep_store_error(error))?;
        while let Some(batch) = self
            .runtime
            .block_on(batches.next())
            .map_err(|error| self.keep_store_error(error))?
        {
            self.count_selected(batch.len())?;
            if visit(batch)?.is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Takes the store failure behind the last [`Error::Source`] this source returned, if any.
    pub fn take_store_error(&self) -> Option<sightline_store::Error> {
        self.store_error
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
    }
}

/// Samples per batch a sweep folds at a time (16 bytes each): small enough to stay near the
/// caches and to reuse memory across batches, large enough to keep every core decoding.
pub const VISIT_BATCH_SAMPLES: usize = 1 << 20;

/// How many times larger than a batch of samples a batch of mapped series is (see
/// [`SeriesSource::visit_mapped`]).
const MAPPED_BATCH_FACTOR: usize = 4;

/// The evaluator's form of a series' samples, as the store's read tasks build them.
fn points_of() -> sightline_store::SeriesMap<Vec<(i64, f64)>, (i64, f64)> {
    Arc::new(|_, points| std::mem::take(points))
}

impl SeriesSource for MetricStoreSource {
    /// # Panics
    /// When called on a thread that runs async tasks ([`Handle::block_on`] refuses to block
    /// a runtime worker); use `spawn_blocking`.
    fn select_series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SelectedSeries>, Error> {
        let mut selected = Vec::new();
        self.visit_store(
            matchers,
            (start_ms, end_ms),
            usize::MAX,
            points_of(),
            &mut |batch| {
                selected.extend(batch);
                Ok(ControlFlow::Continue(()))
            },
        )?;
        Ok(selected)
    }

    /// Reads batches of about [`VISIT_BATCH_SAMPLES`] samples (see
    /// [`MetricStoreSource::with_batch_samples`]); the store reads the next
    /// batch while `visit` works on one.
    ///
    /// # Panics
    /// As [`MetricStoreSource::select_series`].
    fn visit_series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        visit: &mut VisitBatch<'_>,
    ) -> Result<(), Error> {
        self.visit_store(
            matchers,
            (start_ms, end_ms),
            self.batch_samples,
            points_of(),
            visit,
        )
    }

    /// As [`MetricStoreSource::visit_series`], with `map` run in the store's read tasks.
    ///
    /// # Panics
    /// As [`MetricStoreSource::select_series`].
    fn visit_mapped(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        map: &SeriesMap,
        visit: &mut VisitMapped<'_>,
    ) -> Result<(), Error> {
        let map = Arc::clone(map);
        let store_map: sightline_store::SeriesMap<Vec<StepValue>, (i64, f64)> =
            Arc::new(move |_, points| map(points));
        // A mapped batch holds step values, not samples, so it can be larger: fewer, larger
        // read tasks, each opening fewer Parquet column chunks (each with its zstd contexts).
        self.visit_store(
            matchers,
            (start_ms, end_ms),
            self.batch_samples.saturating_mul(MAPPED_BATCH_FACTOR),
            store_map,
            visit,
        )
    }

    fn counted_in_window(
        &self,
        matchers: &[Matcher],
        start_exclusive_ms: i64,
        end_ms: i64,
        lookback_ms: i64,
    ) -> Result<Vec<(Labels, f64)>, Error> {
        self.check_interrupted()?;
        let counted = self.runtime.block_on(self.store.counted_in_window(
            &self.tenant,
            matchers,
            start_exclusive_ms,
            end_ms,
            lookback_ms,
        ));
        counted.map_err(|error| self.keep_store_error(error))
    }

    fn check_interrupted(&self) -> Result<(), Error> {
        if self.canceled.load(Ordering::Relaxed) {
            return Err(Error::Canceled);
        }
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Err(Error::Timeout);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use promql_parser::label::MatchOp;
    use sightline_model::{Labels, MetricBatch, MetricSample, SeriesSamples};
    use sightline_store::StoreConfig;

    use super::*;
    use crate::promql::{Engine, Value};

    async fn store_with_one_series(dir: &tempfile::TempDir) -> MetricStore {
        let store = MetricStore::open(StoreConfig {
            data_dir: dir.path().to_path_buf(),
            ..StoreConfig::default()
        })
        .await
        .unwrap();
        let batch = MetricBatch {
            series: vec![SeriesSamples {
                labels: Labels::new([("__name__", "up"), ("job", "api")]),
                samples: (0..10)
                    .map(|i| MetricSample {
                        timestamp_ms: i * 15_000,
                        value: i as f64,
                    })
                    .collect(),
                exemplars: Vec::new(),
            }],
            metadata: Vec::new(),
        };
        store
            .append(&TenantId::default_tenant(), batch)
            .await
            .unwrap();
        store
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn evaluates_on_a_blocking_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_one_series(&dir).await;
        let source = MetricStoreSource::new(store, TenantId::default_tenant(), Handle::current());
        let value = tokio::task::spawn_blocking(move || {
            Engine::default().instant_query(&source, "sum(up) + 1", 60_000)
        })
        .await
        .unwrap()
        .unwrap();
        match value {
            Value::Vector(vector) => assert_eq!(vector[0].value, 5.0),
            other => panic!("expected a vector, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn deadline_and_cancellation_interrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_one_series(&dir).await;
        let past = Instant::now()
            .checked_sub(Duration::from_millis(1))
            .unwrap();
        let timed_out =
            MetricStoreSource::new(store.clone(), TenantId::default_tenant(), Handle::current())
                .with_deadline(past);
        let canceled = Arc::new(AtomicBool::new(true));
        let abandoned =
            MetricStoreSource::new(store, TenantId::default_tenant(), Handle::current())
                .with_cancel_flag(canceled);
        let matchers = [Matcher::new(MatchOp::Equal, "__name__", "up")];
        let (timeout, cancel) = tokio::task::spawn_blocking(move || {
            (
                timed_out.select_series(&matchers, 0, 1),
                Engine::default().range_query(&abandoned, "up", 0, 60_000, 15_000),
            )
        })
        .await
        .unwrap();
        assert_eq!(timeout, Err(Error::Timeout));
        assert_eq!(cancel, Err(Error::Canceled));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_series_limit_stops_a_query() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_one_series(&dir).await;
        let limited = MetricStoreSource::new(store, TenantId::default_tenant(), Handle::current())
            .with_max_series(1);
        let (one, two) = tokio::task::spawn_blocking(move || {
            let engine = Engine::default();
            (
                engine.instant_query(&limited, "up", 60_000).map(|_| ()),
                engine.instant_query(&limited, "up", 60_000).map(|_| ()),
            )
        })
        .await
        .unwrap();
        assert_eq!(one, Ok(()));
        let Err(Error::Execution { message }) = two else {
            panic!("the second selection goes over the limit")
        };
        assert!(message.contains("max_series_per_query"), "{message}");
    }
}
