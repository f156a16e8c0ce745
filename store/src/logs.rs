//! [`LogStore`]: OTLP log records appended durably and searched by time, service, severity,
//! trace and full text.
//!
//! Modules, in data-path order:
//! - `head`: records durable but not yet committed to an index, searchable at once; the
//!   live-tail channel.
//! - `schema`: the tantivy schema, analyzers, and record ⇄ document.
//! - `index`: one tantivy index per tenant and UTC day under
//!   `{data_dir}/logs/{tenant}/{yyyy-mm-dd}`, with writers opened on demand.
//! - `resources`: each day index's resource table, every distinct resource once; records
//!   name theirs by number.
//! - [`filter`]: the query language ([`LogFilter`]), evaluated on the index and in memory.
//! - [`query`]: [`LogQuery`], [`LogPage`], [`LogCursor`], [`LogHistogram`].
//! - `collect`: tantivy collectors ordering hits by (time, sequence) and counting buckets.
//! - `replay`: opening: day indexes, then the WAL replayed into the head, skipping what an
//!   index already holds.
//!
//! Write path: [`LogStore::append`] → WAL (`{data_dir}/wal-logs`, group-commit fsync) →
//! head (sequence numbers, tail subscribers) → ack. Several times per commit interval the
//! committer hands the head's new records to the index writers, which index them in the
//! background. Every [`StoreConfig::log_commit_interval_millis`]: WAL rotation freezes the
//! head → its records not handed over yet added to their day indexes, all committed
//! (payload: the WAL segment covered) → readers reloaded → head block released → covered WAL
//! segments deleted.
//! Read path: head + day indexes overlapping the range (newest day first for newest-first
//! searches, stopping once enough hits are found), merged by (time, sequence), deduplicated by
//! sequence number.
//!
//! Retention deletes whole day indexes; tantivy's merge policy merges segments in the
//! background while a day's writer is open. Logs live on the local file system only (tantivy
//! uses its own directory abstraction); an object-store home for closed day indexes is future
//! work.

mod collect;
pub mod filter;
mod head;
mod index;
pub mod query;
mod replay;
mod resources;
mod schema;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sightline_model::{LogBatch, TenantId, TraceId};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::StoreConfig;
use crate::error::Error;
use crate::wal::{self, Rotation, WalRecord, WalWriter};
pub use filter::{FilterParseError, LogFilter};
use head::{HeadBlock, LogEntry, LogHeads};
pub use head::{TailBatch, TAIL_CHANNEL_CAPACITY};
use index::{day_of, LogIndexes, DAY_NANOS};
pub use query::{
    CursorParseError, LogCursor, LogDirection, LogHistogram, LogHit, LogPage, LogQuery,
};

/// What the log WAL persists per append: the batch and when it arrived (the time of records
/// that carry none, so replay files them under the same day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogWalBatch {
    /// Arrival time, unix nanoseconds.
    pub arrival_unix_nano: u64,
    /// The accepted records.
    pub batch: LogBatch,
}

/// Batches with more records than this are WAL-encoded off the reactor.
const INLINE_ENCODE_RECORDS: usize = 1_000;
/// Memory a record takes in the head beyond its encoded size, about.
const HEAD_BYTES_PER_RECORD: u64 = 160;
/// Ticks of the committer per commit interval: it feeds the head's new records to the index
/// writers on each tick but the one that commits.
const FEEDS_PER_COMMIT: u32 = 5;
/// An index writer idle this long is closed (its merges finish first).
const WRITER_IDLE: Duration = Duration::from_secs(60);

/// The log store: append durably, search at once.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    heads: Arc<LogHeads>,
    indexes: Arc<LogIndexes>,
    wal: WalWriter<LogHeads>,
    /// Serialises commit rounds and retention.
    commit_lock: tokio::sync::Mutex<()>,
    /// Rotations whose records are not all committed yet, oldest first.
    pending: std::sync::Mutex<Vec<PendingRotation>>,
    /// Replay left sealed segments that the next commit round must hand over.
    rotate_replayed: AtomicBool,
}

/// A rotation being committed: which day indexes already hold its records.
struct PendingRotation {
    rotation: Rotation<HeadBlock>,
    wal_segment: u64,
    done: HashSet<(TenantId, i64)>,
    /// A commit of it was attempted: the records fed ahead may have been rolled back.
    attempted: bool,
}

impl LogStore {
    /// Opens the store: opens the day indexes, replays the log WAL (skipping records an
    /// index already holds) into the head, and starts the WAL writer. Returns once replayed
    /// records are searchable.
    ///
    /// # Errors
    /// I/O and index failures on the data directory.
    pub async fn open(config: StoreConfig) -> Result<Self, Error> {
        let data_dir = config.data_dir.clone();
        let max_batch = config.wal_group_commit_max_batch;
        let (indexes, heads, wal_dir, next_segment, replayed) =
            tokio::task::spawn_blocking(move || replay::open_blocking(&data_dir))
                .await
                .map_err(|error| Error::Task {
                    what: "log store open",
                    reason: error.to_string(),
                })??;
        let rotate_replayed = AtomicBool::new(!replayed.is_empty());
        let wal = WalWriter::start(&wal_dir, next_segment, replayed, heads.clone(), max_batch)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                heads,
                indexes,
                wal,
                commit_lock: tokio::sync::Mutex::new(()),
                pending: std::sync::Mutex::new(Vec::new()),
                rotate_replayed,
            }),
        })
    }

    /// Appends a batch and resolves once it is durable (the WAL group commit covering it is
    /// fsynced) and searchable.
    ///
    /// # Errors
    /// [`Error::Overloaded`] (retryable) while uncommitted records are over their memory
    /// budget; [`Error::WalClosed`] or an I/O error when the batch could not be made durable.
    /// Nothing of the batch may then be acknowledged.
    pub async fn append(&self, tenant: &TenantId, batch: LogBatch) -> Result<(), Error> {
        self.admit()?;
        let records = batch.record_count();
        if records == 0 {
            return Ok(());
        }
        let record = WalRecord {
            tenant: tenant.clone(),
            batch: LogWalBatch {
                arrival_unix_nano: now_unix_nano(),
                batch,
            },
        };
        let (frame, entry) = if records > INLINE_ENCODE_RECORDS {
            tokio::task::spawn_blocking(move || encode(record))
                .await
                .map_err(|error| Error::Task {
                    what: "log wal encoding",
                    reason: error.to_string(),
                })??
        } else {
            encode(record)?
        };
        self.inner.wal.append(frame, entry).await?;
        metrics::counter!("sightline_log_records_appended_total").increment(records as u64);
        Ok(())
    }

    /// Says whether an append would be taken now, so receivers can refuse an export before
    /// reading and decoding it; counts a refusal in `sightline_log_appends_refused_total`.
    ///
    /// # Errors
    /// [`Error::Overloaded`] (retryable) while uncommitted records are over their memory
    /// budget.
    pub fn admit(&self) -> Result<(), Error> {
        let held = self.inner.heads.held_bytes();
        let limit = self.inner.config.log_head_max_bytes;
        if held > limit {
            metrics::counter!("sightline_log_appends_refused_total").increment(1);
            return Err(Error::Overloaded {
                used_bytes: held,
                limit_bytes: limit,
            });
        }
        Ok(())
    }

    /// Returns the first page of records matching `query`, in its direction, after its
    /// cursor.
    ///
    /// # Errors
    /// Index read failures and undecodable stored records.
    pub async fn search(&self, tenant: &TenantId, query: LogQuery) -> Result<LogPage, Error> {
        let heads = self.inner.heads.clone();
        let indexes = self.inner.indexes.clone();
        let tenant = tenant.clone();
        blocking("log search", move || {
            search_blocking(&heads, &indexes, &tenant, Arc::new(query))
        })
        .await
    }

    /// Like [`LogStore::search`], on the calling thread, for callers already on a blocking
    /// thread (query engines that pull pages in a loop).
    ///
    /// # Errors
    /// As [`LogStore::search`].
    pub fn search_blocking(&self, tenant: &TenantId, query: LogQuery) -> Result<LogPage, Error> {
        search_blocking(
            &self.inner.heads,
            &self.inner.indexes,
            tenant,
            Arc::new(query),
        )
    }

    /// Counts the records matching `query` (its cursor and limit are ignored) in `buckets`
    /// buckets of `step_nanos` from `start_unix_nano`.
    ///
    /// # Errors
    /// Index read failures.
    pub async fn histogram(
        &self,
        tenant: &TenantId,
        mut query: LogQuery,
        start_unix_nano: u64,
        step_nanos: u64,
        buckets: usize,
    ) -> Result<LogHistogram, Error> {
        query.cursor = None;
        let heads = self.inner.heads.clone();
        let indexes = self.inner.indexes.clone();
        let tenant = tenant.clone();
        blocking("log histogram", move || {
            let mut histogram = LogHistogram::new(start_unix_nano, step_nanos, buckets);
            let skip = Arc::new(heads.count(&tenant, &query, &mut histogram));
            let template = LogHistogram::new(start_unix_nano, step_nanos, buckets);
            let (start, end) = query.effective_range();
            for index in indexes.in_range(&tenant, start, end) {
                let counted = index.count(&query, &template, &skip)?;
                for (sum, count) in histogram.counts.iter_mut().zip(counted.counts) {
                    *sum += count;
                }
            }
            Ok(histogram)
        })
        .await
    }

    /// Returns the records of a trace, oldest first, at most `limit`.
    ///
    /// # Errors
    /// As [`LogStore::search`].
    pub async fn find_trace_logs(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
        limit: usize,
    ) -> Result<Vec<LogHit>, Error> {
        let query = LogQuery {
            trace_id: Some(trace_id),
            direction: LogDirection::Forward,
            limit,
            ..LogQuery::default()
        };
        Ok(self.search(tenant, query).await?.hits)
    }

    /// Subscribes to records as they become durable, every tenant's; filter by
    /// [`TailBatch::tenant`]. A subscriber more than [`TAIL_CHANNEL_CAPACITY`] batches behind
    /// receives [`broadcast::error::RecvError::Lagged`] and continues with the newest.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TailBatch>> {
        self.inner.heads.subscribe()
    }

    /// Commits the head to the day indexes now and deletes the WAL segments it covers.
    ///
    /// # Errors
    /// WAL rotation or index failures; the records then stay in the head (searchable) and
    /// their segments on disk, and the next round retries.
    pub async fn flush(&self) -> Result<(), Error> {
        let _serial = self.inner.commit_lock.lock().await;
        let mut rotations = std::mem::take(&mut *self.pending());
        let mut outcome = Ok(());
        let replayed = self.inner.rotate_replayed.swap(false, Ordering::Relaxed);
        if replayed || self.inner.heads.active_records() > 0 {
            match self.inner.wal.rotate().await {
                Ok(rotation) => rotations.push(PendingRotation::new(rotation)),
                Err(error) => outcome = Err(error),
            }
        }
        let mut still_pending = Vec::new();
        for mut rotation in rotations {
            if outcome.is_ok() {
                let indexes = self.inner.indexes.clone();
                let (heap, threads) = self.writer_resources();
                let (returned, committed) = tokio::task::spawn_blocking(move || {
                    let committed = commit_rotation(&indexes, &mut rotation, heap, threads);
                    (rotation, committed)
                })
                .await
                .map_err(|error| Error::Task {
                    what: "log index commit",
                    reason: error.to_string(),
                })?;
                rotation = returned;
                match committed {
                    Ok(()) => {
                        self.finish_rotation(rotation);
                        continue;
                    }
                    Err(error) => outcome = Err(error),
                }
            }
            still_pending.push(rotation);
        }
        *self.pending() = still_pending;
        outcome
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<PendingRotation>> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn finish_rotation(&self, pending: PendingRotation) {
        self.inner.heads.release(&pending.rotation.frozen);
        for segment in pending.rotation.obsolete_segments {
            if let Err(error) = std::fs::remove_file(&segment) {
                tracing::warn!(%error, segment = %segment.display(), "could not delete committed log wal segment");
            }
        }
    }

    /// Starts the background work: commit rounds, closing idle writers, retention. Each
    /// task stops when `shutdown` is cancelled.
    pub fn spawn_background(&self, tracker: &TaskTracker, shutdown: CancellationToken) {
        let store = self.clone();
        let token = shutdown.clone();
        tracker.spawn(async move { store.run_committer(token).await });
        let store = self.clone();
        tracker.spawn(async move { store.run_maintenance(shutdown).await });
    }

    /// The index writers' heap and threads.
    fn writer_resources(&self) -> (usize, usize) {
        let config = &self.inner.config;
        (
            usize::try_from(config.log_index_writer_heap_bytes).unwrap_or(usize::MAX),
            config.log_index_writer_threads,
        )
    }

    /// Hands the head's new records to the index writers (see [`feed_head`]), unless a
    /// rotation awaits a retry (its commit must not carry newer records).
    async fn feed(&self) {
        let _serial = self.inner.commit_lock.lock().await;
        if !self.pending().is_empty() {
            return;
        }
        let heads = self.inner.heads.clone();
        let indexes = self.inner.indexes.clone();
        let (heap, threads) = self.writer_resources();
        let _ = blocking("log index feed", move || {
            feed_head(&heads, &indexes, heap, threads);
            Ok(())
        })
        .await;
    }

    /// Commits every [`StoreConfig::log_commit_interval_millis`] (start to start) and, between
    /// commits, feeds the head's new records to the index writers (see [`FEEDS_PER_COMMIT`]).
    async fn run_committer(&self, shutdown: CancellationToken) {
        let interval = Duration::from_millis(self.inner.config.log_commit_interval_millis.max(10));
        let mut ticks = tokio::time::interval(interval / FEEDS_PER_COMMIT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut last_commit = tokio::time::Instant::now();
        let mut last_idle_check = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if last_commit.elapsed() < interval {
                self.feed().await;
                continue;
            }
            last_commit = tokio::time::Instant::now();
            if let Err(error) = self.flush().await {
                metrics::counter!("sightline_log_commit_failures_total").increment(1);
                tracing::error!(%error, "log index commit failed; will retry");
            }
            if last_idle_check.elapsed() >= Duration::from_secs(10) {
                last_idle_check = tokio::time::Instant::now();
                let indexes = self.inner.indexes.clone();
                let _ = blocking("log writer close", move || {
                    for index in indexes.all() {
                        index.close_writer_if_idle(WRITER_IDLE);
                    }
                    Ok(())
                })
                .await;
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
            if let Err(error) = self.run_retention_once().await {
                tracing::error!(%error, "log retention failed; will retry");
            }
        }
    }

    /// Deletes the day indexes that ended before the retention period.
    ///
    /// # Errors
    /// I/O failures deleting an index directory.
    pub async fn run_retention_once(&self) -> Result<(), Error> {
        let retention_nanos = self
            .inner
            .config
            .retention_hours
            .saturating_mul(3_600_000_000_000);
        let cutoff = now_unix_nano().saturating_sub(retention_nanos);
        self.delete_days_before(cutoff).await
    }

    /// Deletes the day indexes whose whole day is before `cutoff_unix_nano`.
    async fn delete_days_before(&self, cutoff_unix_nano: u64) -> Result<(), Error> {
        let _serial = self.inner.commit_lock.lock().await;
        let indexes = self.inner.indexes.clone();
        blocking("log retention", move || {
            for index in indexes.all() {
                let day_end = u64::try_from(index.day + 1).unwrap_or(0) * DAY_NANOS;
                if day_end > cutoff_unix_nano {
                    continue;
                }
                indexes.remove(&index.tenant, index.day);
                index.close_writer_if_idle(Duration::ZERO);
                remove_dir(&index.dir)?;
                metrics::counter!("sightline_log_indexes_expired_total").increment(1);
                tracing::info!(tenant = %index.tenant, day = %index::day_name(index.day), "deleted expired log index");
            }
            Ok(())
        })
        .await
    }

    /// Commits the head, closes the index writers and stops the WAL writer: the last step of
    /// a graceful shutdown.
    ///
    /// # Errors
    /// Commit failures; the WAL still holds everything, so a restart replays it.
    pub async fn close(&self) -> Result<(), Error> {
        let flushed = self.flush().await;
        let indexes = self.inner.indexes.clone();
        let _ = blocking("log writer close", move || {
            for index in indexes.all() {
                index.close_writer_if_idle(Duration::ZERO);
            }
            Ok(())
        })
        .await;
        self.inner.wal.close().await;
        flushed
    }

    /// Returns the data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.inner.config.data_dir.clone()
    }
}

impl PendingRotation {
    fn new(rotation: Rotation<HeadBlock>) -> Self {
        let wal_segment = rotation
            .obsolete_segments
            .iter()
            .filter_map(|path| segment_sequence(path))
            .max()
            .unwrap_or(0);
        Self {
            rotation,
            wal_segment,
            done: HashSet::new(),
            attempted: false,
        }
    }
}

fn segment_sequence(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".wal")?
        .parse()
        .ok()
}

/// Adds a rotation's records to their day indexes and commits each, skipping the indexes a
/// previous attempt already committed. On a first attempt the records fed ahead
/// ([`feed_head`]) are not added again; a retry adds everything (a failed commit rolled its
/// writer back).
fn commit_rotation(
    indexes: &LogIndexes,
    pending: &mut PendingRotation,
    heap_bytes: usize,
    threads: usize,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let frozen = &pending.rotation.frozen;
    let attempted = pending.attempted;
    let by_day = by_day_index(&frozen.tenants, |tenant| {
        if attempted {
            0
        } else {
            frozen.fed_chunks.get(tenant).copied().unwrap_or(0)
        }
    });
    pending.attempted = true;
    let mut records = 0usize;
    for ((tenant, day), (hits, fed)) in by_day {
        let key = (tenant.clone(), day);
        if pending.done.contains(&key) {
            continue;
        }
        let index = indexes.get_or_create(tenant, day)?;
        index.add_and_commit(&hits, fed, pending.wal_segment, heap_bytes, threads)?;
        records += hits.len();
        pending.done.insert(key);
    }
    if records > 0 {
        let elapsed = started.elapsed();
        metrics::histogram!("sightline_log_commit_duration_seconds").record(elapsed.as_secs_f64());
        metrics::counter!("sightline_log_records_indexed_total").increment(records as u64);
        tracing::debug!(
            records,
            elapsed_ms = elapsed.as_millis() as u64,
            "committed log records to day indexes"
        );
    }
    Ok(())
}

/// Records of a head block's chunks (by tenant) grouped by the day index they go to, each
/// group in arrival order with how many of its first records come from the first
/// `fed_chunks(tenant)` chunks of their tenant (those handed to the writers ahead).
fn by_day_index(
    tenants: &HashMap<TenantId, Vec<Arc<[LogHit]>>>,
    fed_chunks: impl Fn(&TenantId) -> usize,
) -> BTreeMap<(&TenantId, i64), (Vec<&LogHit>, usize)> {
    let mut by_day: BTreeMap<(&TenantId, i64), (Vec<&LogHit>, usize)> = BTreeMap::new();
    for (tenant, chunks) in tenants {
        let fed_chunks = fed_chunks(tenant);
        for (position, chunk) in chunks.iter().enumerate() {
            for hit in chunk.iter() {
                let (hits, fed) = by_day
                    .entry((tenant, day_of(hit.timestamp_unix_nano)))
                    .or_default();
                hits.push(hit);
                *fed += usize::from(position < fed_chunks);
            }
        }
    }
    by_day
}

/// Hands the active head block's new records to their day indexes' writers ahead of the
/// commit, so that indexing runs while records arrive. A failure is logged: the commit then
/// finds its writer short of what was fed and adds everything again.
fn feed_head(heads: &LogHeads, indexes: &LogIndexes, heap_bytes: usize, threads: usize) {
    let unfed = heads.take_unfed();
    for ((tenant, day), (hits, _)) in by_day_index(&unfed, |_| 0) {
        let added = indexes
            .get_or_create(tenant, day)
            .and_then(|index| index.add(&hits, heap_bytes, threads));
        if let Err(error) = added {
            metrics::counter!("sightline_log_feed_failures_total").increment(1);
            tracing::warn!(%error, %tenant, day = %index::day_name(day), "could not index log records ahead of their commit; the commit adds them");
        }
    }
}

fn search_blocking(
    heads: &LogHeads,
    indexes: &LogIndexes,
    tenant: &TenantId,
    query: Arc<LogQuery>,
) -> Result<LogPage, Error> {
    let mut hits = heads.search(tenant, &query);
    let (start, end) = query.effective_range();
    let mut days = indexes.in_range(tenant, start, end);
    if query.direction == LogDirection::Backward {
        days.reverse();
    }
    let mut from_indexes = 0usize;
    for index in days {
        if from_indexes >= query.limit {
            // Days partition by time: every later day sorts after the hits already found.
            break;
        }
        let found = index.search(&query)?;
        from_indexes += found.len();
        hits.extend(found);
    }
    hits.sort_by(|a, b| {
        query.order(
            (a.timestamp_unix_nano, a.sequence),
            (b.timestamp_unix_nano, b.sequence),
        )
    });
    // A record being committed can be in the head and in its index at once.
    hits.dedup_by_key(|hit| hit.sequence);
    hits.truncate(query.limit);
    let next_cursor = (query.limit > 0 && hits.len() == query.limit)
        .then(|| hits.last().map(LogHit::cursor))
        .flatten();
    Ok(LogPage { hits, next_cursor })
}

fn encode(record: WalRecord<LogWalBatch>) -> Result<(Vec<u8>, LogEntry), Error> {
    let frame = wal::encode_frame(&record).map_err(|error| Error::Task {
        what: "log wal encoding",
        reason: error.to_string(),
    })?;
    let rows = record.batch.batch.into_rows();
    let approx_bytes = frame.len() as u64 * 2 + rows.len() as u64 * HEAD_BYTES_PER_RECORD;
    Ok((
        frame,
        LogEntry {
            tenant: record.tenant,
            approx_bytes,
            rows,
            arrival_unix_nano: record.batch.arrival_unix_nano,
        },
    ))
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let span = tracing::Span::current();
    let budget = crate::scan::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        crate::scan::in_budget(budget, work)
    })
    .await
    .map_err(|error| Error::Task {
        what,
        reason: error.to_string(),
    })?
}

fn remove_dir(dir: &Path) -> Result<(), Error> {
    std::fs::remove_dir_all(dir).map_err(|source| Error::Io {
        operation: "delete expired log index",
        path: dir.to_path_buf(),
        source,
    })
}

fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;
