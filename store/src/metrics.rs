//! [`MetricStore`]: metric samples in Prometheus' data model, appended durably and read by
//! label matchers and time range.
//!
//! Modules, in data-path order:
//! - `head`: recent samples in memory (series index, postings, samples), active and frozen
//!   blocks, plus bounded exemplars and metric metadata.
//! - `part`: the Parquet layout of a part (a samples object and a series object).
//! - `catalog`: every part with its time range; series tables loaded on first use.
//! - `read`: label matching on a series table and reads of the selected series' rows.
//! - `batches`: a selection handed out a batch of series at a time, in label order.
//! - `compact`: merges a day's parts; retention drops expired ones.
//! - `value_codec`: how a part stores a series' values (decimal deltas or floats).
//!
//! Write path: [`MetricStore::append`] → series limit → WAL (`{data_dir}/wal-metrics`,
//! fsync, group commit) → active head → (samples or age) → frozen block → parts → WAL
//! segments deleted. Read path: head blocks + parts overlapping the range, merged by labels.
//!
//! The read methods take `promql_parser` matchers, the type the PromQL engine and the
//! Prometheus HTTP API parse into; a missing label matches as the empty string.
//!
//! This file is the facade (about 700 lines): every public read and write method of the store
//! in one place, each a few lines over the submodules above, which hold the logic. Splitting
//! the `impl` by method kind would scatter one type's API over files.

mod batches;
mod catalog;
mod compact;
mod count;
mod head;
pub mod part;
mod read;
mod value_codec;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::part::quarantine;
use promql_parser::label::Matcher;
use sightline_model::{Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, TenantId};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::StoreConfig;
use crate::error::Error;
use crate::objects;
use crate::wal::{self, Rotation, WalRecord, WalWriter};
use catalog::{MetricCatalog, MetricPart};
use head::{HeadBlock, MetricEntry, MetricHeads};

pub use batches::{SeriesBatches, SeriesMap};
pub use read::Point;

/// One selected series: its labels and its samples in the asked range, sorted by time.
pub type SelectedSeries = (Labels, Vec<MetricSample>);

/// What an append kept and what it refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Samples stored.
    pub accepted_samples: usize,
    /// Samples refused (a series over its metric's series limit).
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
    objects: Arc<dyn ObjectStore>,
    heads: Arc<MetricHeads>,
    catalog: Arc<MetricCatalog>,
    wal: WalWriter<MetricHeads>,
    /// Serialises flushes, so one rotation's parts are written before the next starts.
    flush_lock: tokio::sync::Mutex<()>,
    /// Rotations whose parts could not be written yet, oldest first; the next flush retries.
    pending_rotations: std::sync::Mutex<Vec<Rotation<HeadBlock>>>,
}

impl MetricStore {
    /// Opens the store: loads the part catalog, replays the metric WAL into the head, and
    /// starts the WAL writer. Returns once replayed samples are queryable.
    ///
    /// # Errors
    /// I/O errors on the data directory and object store failures.
    pub async fn open(config: StoreConfig) -> Result<Self, Error> {
        let wal_dir = config.data_dir.join("wal-metrics");
        std::fs::create_dir_all(&wal_dir).map_err(|source| Error::Io {
            operation: "create metric wal directory",
            path: wal_dir.clone(),
            source,
        })?;
        let objects = objects::local_object_store(&config.data_dir)?;
        let catalog = Arc::new(MetricCatalog::load(&objects).await?);
        let heads = Arc::new(MetricHeads::new());
        for part in catalog.all() {
            heads.remember_metadata(&part.tenant, part.metric_metadata.clone());
        }
        let (next_sequence, replayed) = replay_wal(&wal_dir, &heads)?;
        let wal = WalWriter::start(
            &wal_dir,
            next_sequence,
            replayed,
            heads.clone(),
            config.wal_group_commit_max_batch,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                objects,
                heads,
                catalog,
                wal,
                flush_lock: tokio::sync::Mutex::new(()),
                pending_rotations: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Appends a batch and resolves once its accepted samples are durable (the WAL group
    /// commit covering them is fsynced) and queryable. Series that would take their metric
    /// over the series limit are refused and counted in the outcome.
    ///
    /// # Errors
    /// [`Error::Overloaded`] while unflushed samples are over their budget;
    /// [`Error::WalClosed`] or an I/O error when the samples could not be made durable.
    /// Nothing of the batch may then be acknowledged.
    pub async fn append(
        &self,
        tenant: &TenantId,
        mut batch: MetricBatch,
    ) -> Result<AppendOutcome, Error> {
        let unflushed = self.inner.heads.unflushed_samples();
        let budget = self.inner.config.metric_head_max_samples;
        if unflushed > budget {
            return Err(Error::Overloaded {
                used_bytes: (unflushed * BYTES_PER_HEAD_SAMPLE) as u64,
                limit_bytes: (budget * BYTES_PER_HEAD_SAMPLE) as u64,
            });
        }
        let offered = batch.sample_count();
        let (rejected_samples, first_rejection) = self.inner.heads.enforce_series_limit(
            tenant,
            &mut batch,
            self.inner.config.metric_series_limit_per_metric,
        );
        let outcome = AppendOutcome {
            accepted_samples: offered - rejected_samples,
            rejected_samples,
            first_rejection,
        };
        if batch.is_empty() {
            return Ok(outcome);
        }
        let record = WalRecord {
            tenant: tenant.clone(),
            batch,
        };
        let frame = if record.batch.sample_count() > INLINE_ENCODE_SAMPLES {
            tokio::task::spawn_blocking(move || {
                let frame = wal::encode_frame(&record);
                (frame, record)
            })
            .await
            .map_err(|error| Error::Task {
                what: "metric wal encoding",
                reason: error.to_string(),
            })
            .map(|(frame, record)| (frame, MetricEntry::from(record)))?
        } else {
            (wal::encode_frame(&record), MetricEntry::from(record))
        };
        let (frame, entry) = frame;
        let frame = frame.map_err(|error| Error::Task {
            what: "metric wal encoding",
            reason: error.to_string(),
        })?;
        self.inner.wal.append(frame, entry).await?;
        Ok(outcome)
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
        let mut all = self
            .select_batches(tenant, matchers, start_ms, end_ms, usize::MAX)
            .await?;
        Ok(all.next().await?.unwrap_or_default())
    }

    /// What [`MetricStore::select`] returns, in the same order, handed out in batches of
    /// about `batch_samples` samples (a series is never split) by [`SeriesBatches::next`];
    /// the next batch is read while the caller works on one.
    ///
    /// # Errors
    /// What loading a part's series table fails with (a corrupt part is quarantined and
    /// skipped).
    pub async fn select_batches(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        batch_samples: usize,
    ) -> Result<SeriesBatches, Error> {
        let samples: SeriesMap<Vec<MetricSample>> = Arc::new(|_, samples| std::mem::take(samples));
        self.select_batches_mapped(tenant, matchers, start_ms, end_ms, batch_samples, samples)
            .await
    }

    /// [`MetricStore::select_batches`], with each series handed out as what `map` makes of
    /// it; `map` runs in the read tasks, on every core, as each series is read whole.
    ///
    /// # Errors
    /// As [`MetricStore::select_batches`].
    pub async fn select_batches_mapped<T: Send + 'static, P: Point>(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        batch_samples: usize,
        map: SeriesMap<T, P>,
    ) -> Result<SeriesBatches<T, P>, Error> {
        // The head is read before the parts are listed, so a block flushed in between is
        // found in its part (the copy in the head is dropped as a repeat); its samples, the
        // newest, are appended after the parts' so that series need no sorting.
        let head = self.inner.heads.select(tenant, matchers, start_ms, end_ms);
        let mut selections = Vec::new();
        for part in self.parts_in(tenant, start_ms, end_ms) {
            match part.series_table().await {
                Ok(table) => {
                    let series = read::matching_series(&table, matchers, start_ms, end_ms);
                    if !series.is_empty() {
                        selections.push(read::PartSelection {
                            part,
                            table,
                            series,
                        });
                    }
                }
                Err(error) => self.unless_corrupt(&part, Err(error)).await?,
            }
        }
        Ok(SeriesBatches::new(
            self.clone(),
            selections,
            head,
            start_ms..=end_ms,
            batch_samples,
            map,
        ))
    }

    /// Passes a part read's result on, except that a corrupt part is quarantined (both of its
    /// objects) and read as nothing (see [`crate::part::quarantine`]); what it yielded before
    /// the corruption was found was decoded whole and is kept.
    async fn unless_corrupt(
        &self,
        part: &MetricPart,
        read: Result<(), Error>,
    ) -> Result<(), Error> {
        match read {
            Err(error) if quarantine::is_corruption(&error) => {
                quarantine_part(&self.inner.objects, &self.inner.catalog, part, &error).await;
                Ok(())
            }
            other => other,
        }
    }

    fn parts_in(&self, tenant: &TenantId, start_ms: i64, end_ms: i64) -> Vec<Arc<MetricPart>> {
        let mut parts: Vec<_> = self
            .inner
            .catalog
            .parts(tenant)
            .into_iter()
            .filter(|part| part.overlaps(start_ms, end_ms))
            .collect();
        parts.sort_by_key(|part| part.min_time_ms);
        parts
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
        let mut found = BTreeSet::new();
        self.inner
            .heads
            .series(tenant, matcher_sets, start_ms, end_ms, &mut found);
        for part in self.parts_in(tenant, start_ms, end_ms) {
            let table = part.series_table().await?;
            let mut add = |refs: Vec<u32>| {
                for series_ref in refs {
                    found.insert(table.labels[series_ref as usize].clone());
                }
            };
            if matcher_sets.is_empty() {
                add(read::matching_series(&table, &[], start_ms, end_ms));
            }
            for matchers in matcher_sets {
                add(read::matching_series(&table, matchers, start_ms, end_ms));
            }
        }
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
        let names: BTreeSet<String> = series
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
        let values: BTreeSet<String> = series
            .iter()
            .filter_map(|labels| labels.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().take(limit).collect())
    }

    /// Returns the metadata received for metric families (all, or the one named `metric`),
    /// sorted by family name, at most `limit` families.
    ///
    /// # Errors
    /// None today; the signature leaves room for stores that read metadata from parts.
    pub async fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: usize,
    ) -> Result<Vec<MetricMetadata>, Error> {
        Ok(self.inner.heads.metadata(tenant, metric, limit))
    }

    /// Returns the exemplars of the series matching all `matchers` with timestamps in
    /// `start_ms..=end_ms`, grouped by series. Exemplars are kept in memory (the newest
    /// [`head::EXEMPLARS_PER_TENANT`] per tenant, rebuilt from the WAL on restart), as
    /// Prometheus keeps them.
    ///
    /// # Errors
    /// None today; see [`MetricStore::metadata`].
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

    /// Writes the head to parts and deletes the WAL segments they cover.
    ///
    /// # Errors
    /// WAL rotation, encoding or object store failures; the frozen block then stays in
    /// memory (queryable) and its segments on disk, and the next flush retries it.
    pub async fn flush(&self) -> Result<(), Error> {
        let _serial = self.inner.flush_lock.lock().await;
        let mut rotations = std::mem::take(&mut *self.pending_rotations());
        let rotated = self.inner.wal.rotate().await;
        let mut outcome = rotated
            .as_ref()
            .map(|_| ())
            .map_err(|error| Error::WalClosed(error.to_string()));
        rotations.extend(rotated);
        let mut still_pending = Vec::new();
        for rotation in rotations {
            if outcome.is_ok() {
                match self.write_block(&rotation.frozen).await {
                    Ok(()) => {
                        self.finish_rotation(rotation);
                        continue;
                    }
                    Err(error) => outcome = Err(error),
                }
            }
            still_pending.push(rotation);
        }
        *self.pending_rotations() = still_pending;
        outcome
    }

    fn pending_rotations(&self) -> std::sync::MutexGuard<'_, Vec<Rotation<HeadBlock>>> {
        self.inner
            .pending_rotations
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Writes a frozen block as parts (one per tenant and day), all or nothing.
    async fn write_block(&self, block: &Arc<HeadBlock>) -> Result<(), Error> {
        if block.samples == 0 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut written: Vec<Arc<MetricPart>> = Vec::new();
        for tenant in block.tenants.keys() {
            let days = {
                let block = block.clone();
                let tenant = tenant.clone();
                tokio::task::spawn_blocking(move || split_block_by_day(&block, &tenant))
                    .await
                    .map_err(|error| Error::Task {
                        what: "metric part split",
                        reason: error.to_string(),
                    })?
            };
            let metadata = self.inner.heads.all_metadata(tenant);
            for (day, series) in days {
                match write_part(&self.inner.objects, tenant, &day, series, metadata.clone()).await
                {
                    Ok(part) => written.push(part),
                    Err(error) => {
                        for part in written {
                            delete_part(&self.inner.objects, &part).await;
                        }
                        return Err(error);
                    }
                }
            }
        }
        let written_bytes: u64 = written.iter().map(|part| part.size_bytes).sum();
        let parts = written.len();
        for part in written {
            self.inner.catalog.add(part);
        }
        tracing::info!(
            samples = block.samples,
            parts,
            written_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed metric head to parts"
        );
        Ok(())
    }

    fn finish_rotation(&self, rotation: Rotation<HeadBlock>) {
        self.inner.heads.release(&rotation.frozen);
        for segment in rotation.obsolete_segments {
            if let Err(error) = std::fs::remove_file(&segment) {
                tracing::warn!(%error, segment = %segment.display(), "could not delete flushed wal segment");
            }
        }
    }

    /// Starts the background work: flushing the head by size or age, compaction and
    /// retention. Each task stops when `shutdown` is cancelled.
    pub fn spawn_background(&self, tracker: &TaskTracker, shutdown: CancellationToken) {
        let store = self.clone();
        let token = shutdown.clone();
        tracker.spawn(async move { store.run_flusher(token).await });
        let store = self.clone();
        tracker.spawn(async move { store.run_maintenance(shutdown).await });
    }

    async fn run_flusher(&self, shutdown: CancellationToken) {
        let interval = Duration::from_secs(self.inner.config.metric_flush_interval_seconds.max(1));
        let mut last_flush = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            let active = self.inner.heads.active_samples();
            let due = active >= self.inner.config.metric_flush_max_samples
                || (active > 0 && last_flush.elapsed() >= interval);
            if due {
                last_flush = tokio::time::Instant::now();
                if let Err(error) = self.flush().await {
                    metrics::counter!("sightline_flush_failures_total").increment(1);
                    tracing::error!(%error, "metric head flush failed; will retry");
                }
            }
        }
    }

    async fn run_maintenance(&self, shutdown: CancellationToken) {
        let interval = Duration::from_secs(self.inner.config.maintenance_interval_seconds.max(1));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Err(error) = self.run_maintenance_once().await {
                tracing::error!(%error, "metric part maintenance failed; will retry");
            }
        }
    }

    /// Runs one retention pass and one compaction pass.
    ///
    /// # Errors
    /// Object store, Parquet or encoding failures.
    pub async fn run_maintenance_once(&self) -> Result<(), Error> {
        let retention_ms = self.inner.config.retention_hours.saturating_mul(3_600_000) as i64;
        let cutoff = now_ms().saturating_sub(retention_ms);
        for part in self.inner.catalog.all() {
            if part.max_time_ms < cutoff {
                self.inner
                    .catalog
                    .remove(&part.tenant, std::slice::from_ref(&part.series_path));
                delete_part(&self.inner.objects, &part).await;
                metrics::counter!("sightline_metric_parts_expired_total").increment(1);
                tracing::info!(part = %part.series_path, tenant = %part.tenant, day = part.day, samples = part.samples, "deleted expired metric part");
            }
        }
        compact::compact_partitions(
            &self.inner.objects,
            &self.inner.catalog,
            self.inner.config.compaction_min_parts,
        )
        .await
    }

    /// Flushes the head and stops the WAL writer: the last step of a graceful shutdown.
    ///
    /// # Errors
    /// Flush failures; the WAL still holds everything, so a restart replays it.
    pub async fn close(&self) -> Result<(), Error> {
        let flushed = self.flush().await;
        self.inner.wal.close().await;
        flushed
    }

    /// Returns the data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.inner.config.data_dir.clone()
    }
}

/// Memory one head sample takes, about: the sample itself and index overhead. Used to
/// report the head budget in bytes.
const BYTES_PER_HEAD_SAMPLE: usize = 24;

/// The most sample rows one read task decodes (see [`batches`]): a batch of a selection is
/// read by one task unless larger. Small under test, so that the tests' reads are split too.
const READ_CHUNK_ROWS: usize = if cfg!(test) { 1_000 } else { 1 << 22 };

/// Batches with more samples than this are WAL-encoded off the reactor.
const INLINE_ENCODE_SAMPLES: usize = 2_000;

impl From<WalRecord<MetricBatch>> for MetricEntry {
    fn from(record: WalRecord<MetricBatch>) -> Self {
        MetricEntry {
            tenant: record.tenant,
            batch: record.batch,
        }
    }
}

/// Says whether a label set satisfies every matcher; absent labels match as `""`.
pub fn labels_match(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|matcher| matcher.is_match(labels.get(&matcher.name).unwrap_or("")))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// A tenant's series of one block, split by the UTC day of their samples and sorted by
/// labels: what each day's part holds.
type DaySeries = Vec<(Labels, Vec<MetricSample>)>;

fn split_block_by_day(block: &HeadBlock, tenant: &TenantId) -> BTreeMap<String, DaySeries> {
    let mut days: BTreeMap<String, DaySeries> = BTreeMap::new();
    let Some(head) = block.tenants.get(tenant) else {
        return days;
    };
    let mut order: Vec<usize> = (0..head.series.len()).collect();
    order.sort_by(|a, b| head.series[*a].labels.cmp(&head.series[*b].labels));
    for index in order {
        let series = &head.series[index];
        let mut rest = series.samples.as_slice();
        while let Some(first) = rest.first() {
            let day_start = first.timestamp_ms.div_euclid(DAY_MS) * DAY_MS;
            let end = rest.partition_point(|s| s.timestamp_ms < day_start + DAY_MS);
            days.entry(day_of_ms(first.timestamp_ms))
                .or_default()
                .push((series.labels.clone(), rest[..end].to_vec()));
            rest = &rest[end..];
        }
    }
    days
}

const DAY_MS: i64 = 86_400_000;

/// The UTC day of a time in ms, `yyyy-mm-dd`.
pub(crate) fn day_of_ms(timestamp_ms: i64) -> String {
    let days = timestamp_ms.div_euclid(DAY_MS);
    let (year, month, day) = sightline_model::time::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Encodes and puts one part (samples object first, the series object commits it).
pub(crate) async fn write_part(
    objects: &Arc<dyn ObjectStore>,
    tenant: &TenantId,
    day: &str,
    series: DaySeries,
    metadata: Vec<MetricMetadata>,
) -> Result<Arc<MetricPart>, Error> {
    let id = ulid::Ulid::new().to_string();
    let (samples_path, series_path) = part::part_paths(tenant, day, &id);
    let path_text = series_path.to_string();
    let encoded = tokio::task::spawn_blocking(move || {
        part::encode_part(
            &path_text,
            series
                .iter()
                .map(|(labels, samples)| (labels, samples.as_slice())),
            &metadata,
        )
    })
    .await
    .map_err(|error| Error::Task {
        what: "metric part encoder",
        reason: error.to_string(),
    })??;
    for (path, bytes) in [
        (&samples_path, encoded.samples.clone()),
        (&series_path, encoded.series.clone()),
    ] {
        objects
            .put(path, PutPayload::from_bytes(bytes))
            .await
            .map_err(|source| Error::Object {
                operation: "put",
                path: path.to_string(),
                source,
            })?;
    }
    let part = MetricPart::from_encoded(
        tenant.clone(),
        day.to_string(),
        &id,
        &encoded.samples,
        encoded.series,
    )?;
    metrics::counter!("sightline_metric_parts_written_total").increment(1);
    metrics::counter!("sightline_metric_parts_written_bytes_total").increment(part.size_bytes);
    tracing::debug!(part = %series_path, series = encoded.series_count, samples = encoded.sample_count, size_bytes = part.size_bytes, "wrote metric part");
    Ok(Arc::new(part))
}

/// Takes a corrupt part out of the catalog and moves both of its objects to quarantine (see
/// [`crate::part::quarantine`]).
pub(crate) async fn quarantine_part(
    objects: &Arc<dyn ObjectStore>,
    catalog: &MetricCatalog,
    part: &MetricPart,
    error: &Error,
) {
    catalog.remove(&part.tenant, std::slice::from_ref(&part.series_path));
    for path in [&part.samples_path, &part.series_path] {
        quarantine::quarantine(objects, path, "metrics", error).await;
    }
}

/// Deletes a part's objects, the commit marker first.
pub(crate) async fn delete_part(objects: &Arc<dyn ObjectStore>, part: &MetricPart) {
    for path in [&part.series_path, &part.samples_path] {
        if let Err(error) = objects.delete(path).await {
            tracing::warn!(%error, object = %path, "could not delete metric part object");
        }
    }
}

fn replay_wal(dir: &std::path::Path, heads: &MetricHeads) -> Result<(u64, Vec<PathBuf>), Error> {
    use crate::wal::WalHead;
    let segments = wal::list_segments(dir)?;
    let started = std::time::Instant::now();
    let mut records = 0usize;
    let mut bytes = 0u64;
    let mut replayed = Vec::new();
    let next_sequence = segments.last().map_or(0, |(sequence, _)| sequence + 1);
    for (_, path) in segments {
        let segment = wal::read_segment::<MetricBatch>(&path)?;
        if let Some(damage) = &segment.damage {
            metrics::counter!("sightline_wal_damaged_segments_total").increment(1);
            tracing::warn!(segment = %path.display(), damage, valid_bytes = segment.valid_bytes, "metric wal segment ends in a damaged record; replayed what precedes it");
        }
        records += segment.records.len();
        bytes += segment.valid_bytes;
        heads.apply(
            segment
                .records
                .into_iter()
                .map(|(record, _)| MetricEntry::from(record))
                .collect(),
        );
        replayed.push(path);
    }
    tracing::info!(
        segments = replayed.len(),
        records,
        bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "replayed metric write-ahead log"
    );
    Ok((next_sequence, replayed))
}

#[cfg(test)]
mod tests;
