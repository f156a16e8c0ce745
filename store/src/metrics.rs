//! [`MetricStore`]: metric samples in Prometheus' data model, appended durably and read by
//! label matchers and time range.
//!
//! Modules, in data-path order:
//! - `head`: recent samples in memory per tenant: a series index (labels → series ref) with
//!   inverted postings (label name → value → refs) for matchers, and each series' samples.
//!
//! The facade's read methods take `promql_parser` matchers, the type the PromQL engine and
//! the Prometheus HTTP API parse into; a missing label matches as the empty string.

mod head;

use std::collections::BTreeMap;
use std::sync::Arc;

use promql_parser::label::Matcher;
use sightline_model::{Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, TenantId};

use crate::config::StoreConfig;
use crate::error::Error;
use head::MetricHeads;

/// One selected series: its labels and its samples in the asked range, sorted by time.
pub type SelectedSeries = (Labels, Vec<MetricSample>);

/// What an append kept and what it refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Samples stored.
    pub accepted_samples: usize,
    /// Samples refused (a series over its metric's series limit, an invalid label set).
    pub rejected_samples: usize,
    /// Why the first refused sample was refused, in words a client can act on.
    pub first_rejection: Option<String>,
}

/// The metric store: append durably, read from head and parts.
#[derive(Clone)]
pub struct MetricStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    heads: MetricHeads,
}

impl MetricStore {
    /// Opens the store under `config.data_dir`.
    ///
    /// # Errors
    /// I/O errors on the data directory.
    pub async fn open(config: StoreConfig) -> Result<Self, Error> {
        let heads = MetricHeads::new(config.metric_series_limit_per_metric);
        Ok(Self {
            inner: Arc::new(Inner { config, heads }),
        })
    }

    /// Appends a batch and resolves once its accepted samples are durable and queryable.
    /// Series over their metric's series limit are refused and counted in the outcome.
    ///
    /// # Errors
    /// When nothing could be made durable; nothing of the batch may then be acknowledged.
    pub async fn append(
        &self,
        tenant: &TenantId,
        batch: MetricBatch,
    ) -> Result<AppendOutcome, Error> {
        Ok(self.inner.heads.append(tenant, batch))
    }

    /// Returns every series matching all `matchers` with its samples in
    /// `start_ms..=end_ms`; series without samples in the range are left out.
    ///
    /// # Errors
    /// Object store or Parquet failures while reading parts.
    pub async fn select(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SelectedSeries>, Error> {
        let mut merged = BTreeMap::new();
        self.inner
            .heads
            .select(tenant, matchers, start_ms, end_ms, &mut merged);
        Ok(merged.into_iter().collect())
    }

    /// Returns the label sets of the series that match any of `matcher_sets` (every series
    /// when empty) and have samples in `start_ms..=end_ms`, sorted, at most `limit`.
    ///
    /// # Errors
    /// Object store or Parquet failures while reading parts.
    pub async fn series(
        &self,
        tenant: &TenantId,
        matcher_sets: &[Vec<Matcher>],
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<Labels>, Error> {
        let mut found = std::collections::BTreeSet::new();
        self.inner
            .heads
            .series(tenant, matcher_sets, start_ms, end_ms, &mut found);
        Ok(found.into_iter().take(limit).collect())
    }

    /// Returns the label names of the series [`MetricStore::series`] would return, sorted,
    /// at most `limit`.
    ///
    /// # Errors
    /// As [`MetricStore::series`].
    pub async fn label_names(
        &self,
        tenant: &TenantId,
        matcher_sets: &[Vec<Matcher>],
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        let series = self
            .series(tenant, matcher_sets, start_ms, end_ms, usize::MAX)
            .await?;
        let names: std::collections::BTreeSet<String> = series
            .iter()
            .flat_map(|labels| labels.iter().map(|(name, _)| name.to_string()))
            .collect();
        Ok(names.into_iter().take(limit).collect())
    }

    /// Returns the values of label `name` over the series [`MetricStore::series`] would
    /// return, sorted, at most `limit`.
    ///
    /// # Errors
    /// As [`MetricStore::series`].
    pub async fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        matcher_sets: &[Vec<Matcher>],
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        let series = self
            .series(tenant, matcher_sets, start_ms, end_ms, usize::MAX)
            .await?;
        let values: std::collections::BTreeSet<String> = series
            .iter()
            .filter_map(|labels| labels.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().take(limit).collect())
    }

    /// Returns the metadata received for metric families (all, or the one named `metric`),
    /// sorted by family name, at most `limit` families.
    ///
    /// # Errors
    /// None yet; reserved for stores that read metadata from parts.
    pub async fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: usize,
    ) -> Result<Vec<MetricMetadata>, Error> {
        Ok(self.inner.heads.metadata(tenant, metric, limit))
    }

    /// Returns the exemplars of the series matching all `matchers` with timestamps in
    /// `start_ms..=end_ms`, grouped by series.
    ///
    /// # Errors
    /// As [`MetricStore::select`].
    pub async fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<(Labels, Vec<Exemplar>)>, Error> {
        Ok(self
            .inner
            .heads
            .exemplars(tenant, matchers, start_ms, end_ms))
    }

    /// Writes the head to parts; a no-op while the store keeps samples only in memory.
    ///
    /// # Errors
    /// Object store failures.
    pub async fn flush(&self) -> Result<(), Error> {
        let _ = &self.inner.config;
        Ok(())
    }

    /// Flushes and stops accepting appends.
    ///
    /// # Errors
    /// As [`MetricStore::flush`].
    pub async fn close(&self) -> Result<(), Error> {
        self.flush().await
    }
}

/// Says whether a label set satisfies every matcher; absent labels match as `""`.
pub fn labels_match(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|matcher| matcher.is_match(labels.get(&matcher.name).unwrap_or("")))
}
