//! [`SpanStore`]: the facade over WAL, head and parts.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use sightline_model::attr::find;
use sightline_model::{
    KeyValue, Resource, SpanBatch, SpanKind, SpanRow, StatusCode, TenantId, TraceId,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::StoreConfig;
use crate::error::Error;
use crate::head::{HeadEntry, Heads};
use crate::part::scan::ScanPlan;
use crate::part::{quarantine, reader, PartCatalog, PartInfo};
use crate::wal::{self, Rotation, WalRecord, WalWriter};
use crate::{compact, objects, retention};

/// Filters for a trace search. A trace matches when one of its spans satisfies every filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanQuery {
    /// `service.name` equals.
    pub service: Option<String>,
    /// Span name equals.
    pub operation: Option<String>,
    /// Span kind equals.
    pub span_kind: Option<SpanKind>,
    /// Attributes (span, then resource) whose value, as text, equals the given text.
    pub attributes: Vec<(String, String)>,
    /// Span duration at least this.
    pub min_duration_nanos: Option<u64>,
    /// Span duration at most this.
    pub max_duration_nanos: Option<u64>,
    /// Status code equals.
    pub status: Option<StatusCode>,
    /// Span start at or after this.
    pub start_unix_nano: u64,
    /// Span start at or before this.
    pub end_unix_nano: u64,
    /// The most trace ids to return.
    pub limit: usize,
}

impl SpanQuery {
    /// Says whether a span satisfies every filter of the query.
    pub fn matches(&self, row: &SpanRow) -> bool {
        let span = &row.span;
        let duration = span.duration_nanos();
        span.start_time_unix_nano >= self.start_unix_nano
            && span.start_time_unix_nano <= self.end_unix_nano
            && self
                .service
                .as_deref()
                .is_none_or(|service| service == &*row.service_name)
            && self
                .operation
                .as_deref()
                .is_none_or(|operation| operation == span.name)
            && self.span_kind.is_none_or(|kind| kind == span.kind)
            && self.status.is_none_or(|status| status == span.status_code)
            && self.min_duration_nanos.is_none_or(|min| duration >= min)
            && self.max_duration_nanos.is_none_or(|max| duration <= max)
            && self.attributes_match(&span.attributes, &row.resource)
    }

    /// Says whether every attribute filter matches, looking in the span's attributes first and
    /// then in its resource's.
    pub fn attributes_match(&self, span_attributes: &[KeyValue], resource: &Resource) -> bool {
        self.attributes.iter().all(|(key, expected)| {
            find(span_attributes, key)
                .or_else(|| find(&resource.attributes, key))
                .is_some_and(|value| value.to_text() == *expected)
        })
    }
}

/// The span store: append durably, read from head and parts.
#[derive(Clone)]
pub struct SpanStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: StoreConfig,
    objects: Arc<dyn ObjectStore>,
    heads: Arc<Heads>,
    catalog: Arc<PartCatalog>,
    wal: WalWriter,
    /// Serialises flushes, so one rotation's parts are written before the next starts.
    flush_lock: tokio::sync::Mutex<()>,
    /// Rotations whose parts could not be written yet, oldest first; the next flush retries.
    pending_rotations: std::sync::Mutex<Vec<Rotation>>,
}

impl SpanStore {
    /// Opens the store: loads the part catalog, replays the WAL into the head, and starts the
    /// WAL writer on a new segment. Returns once replayed data is queryable.
    ///
    /// # Errors
    /// I/O errors on the data directory and object store failures.
    pub async fn open(config: StoreConfig) -> Result<Self, Error> {
        let wal_dir = config.data_dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|source| Error::Io {
            operation: "create wal directory",
            path: wal_dir.clone(),
            source,
        })?;
        let objects = objects::local_object_store(&config.data_dir)?;
        let catalog = Arc::new(PartCatalog::load(&objects).await?);
        let heads = Arc::new(Heads::default());
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

    /// Appends the accepted spans of one export and resolves once they are durable (the WAL
    /// group commit covering them has been fsynced) and visible to queries.
    ///
    /// # Errors
    /// [`Error::WalClosed`] or an I/O error when the spans could not be made durable; nothing
    /// of the batch may then be acknowledged. [`Error::Overloaded`] when unflushed data is over
    /// its budget.
    pub async fn append(&self, tenant: &TenantId, batch: SpanBatch) -> Result<(), Error> {
        let used_bytes = self.inner.heads.unflushed_bytes();
        if used_bytes > self.inner.config.head_max_bytes {
            return Err(Error::Overloaded {
                used_bytes,
                limit_bytes: self.inner.config.head_max_bytes,
            });
        }
        if batch.span_count() == 0 {
            return Ok(());
        }
        let tenant = tenant.clone();
        // Encoding and conversion cost CPU in proportion to the export; keep them off the reactor.
        let (frame, entry) = tokio::task::spawn_blocking(move || {
            let record = WalRecord { tenant, batch };
            let frame = wal::encode_frame(&record).map_err(|error| Error::Task {
                what: "wal record encoding",
                reason: error.to_string(),
            })?;
            let entry = HeadEntry::from_span_batch(record.tenant, record.batch)?;
            Ok::<_, Error>((frame, entry))
        })
        .await
        .map_err(|error| Error::Task {
            what: "append conversion",
            reason: error.to_string(),
        })??;
        self.inner.wal.append(frame, entry).await
    }

    /// Returns every stored span of a trace, in no particular order (empty if unknown). A span
    /// stored twice (a retried export) may appear twice.
    ///
    /// # Errors
    /// Object store or Parquet failures while reading parts.
    pub async fn find_trace(
        &self,
        tenant: &TenantId,
        trace_id: TraceId,
    ) -> Result<Vec<SpanRow>, Error> {
        let mut rows = self.inner.heads.find_trace(tenant, &trace_id)?;
        for part in self.inner.catalog.parts(tenant) {
            let found = reader::find_trace_in_part(&self.inner.objects, &part, &trace_id).await;
            if let Some(found) = self.unless_corrupt(&part, found).await? {
                rows.extend(found);
            }
        }
        Ok(rows)
    }

    /// Returns ids of traces with a span matching `query`, most recent first, at most
    /// `query.limit`. The row groups of every part in the time range (time slices, see
    /// [`crate::part::schema::time_slices`]) are read newest first, a few side by side, and
    /// reading stops once no older row group can change the answer: a search for the latest
    /// matches reads the latest slices, however large the parts.
    ///
    /// # Errors
    /// Object store or Parquet failures while reading parts.
    pub async fn search_trace_ids(
        &self,
        tenant: &TenantId,
        query: &SpanQuery,
    ) -> Result<Vec<TraceId>, Error> {
        let mut hits = self.inner.heads.search(tenant, query)?;
        let slices = newest_slices_first(
            self.inner
                .catalog
                .parts(tenant)
                .into_iter()
                .filter(|part| part.overlaps(query.start_unix_nano, query.end_unix_nano))
                .filter(|part| part_may_match(part, query)),
            query,
        );
        let plan = Arc::new(ScanPlan::new(query));
        let objects = self.inner.objects.clone();
        let to_read: Vec<(Arc<PartInfo>, usize)> = slices
            .iter()
            .map(|(part, row_group, _)| (part.clone(), *row_group))
            .collect();
        let mut reads = futures::stream::iter(to_read)
            .map(move |(part, row_group)| {
                let (objects, plan) = (objects.clone(), plan.clone());
                crate::scan::spawn_in_budget(async move {
                    reader::search_row_groups(&objects, &part, &plan, vec![row_group]).await
                })
            })
            .buffered(crate::scan::read_ahead());
        let mut quarantined = HashSet::new();
        for (index, (part, _, _)) in slices.iter().enumerate() {
            let found = reads.next().await.ok_or_else(|| Error::Task {
                what: "trace search",
                reason: "a row group read went missing".to_string(),
            })?;
            let found = found.map_err(|error| Error::Task {
                what: "trace search",
                reason: error.to_string(),
            })?;
            if quarantined.contains(&part.path) {
                continue;
            }
            match self.unless_corrupt(part, found).await? {
                Some(found) => hits.extend(found),
                None => {
                    quarantined.insert(part.path.clone());
                }
            }
            let next_latest = slices.get(index + 1).map(|(_, _, latest)| *latest);
            if next_latest.is_none_or(|latest| holds_newest(&hits, query.limit, latest)) {
                break;
            }
        }
        Ok(newest_distinct(&hits, query.limit)
            .into_iter()
            .map(|(trace_id, _)| trace_id)
            .collect())
    }

    /// Returns the names of services that have spans, sorted.
    ///
    /// # Errors
    /// None today; reserved for catalogs read from the object store.
    pub async fn services(&self, tenant: &TenantId) -> Result<Vec<String>, Error> {
        let services: BTreeSet<String> = self
            .all_operations(tenant)
            .into_iter()
            .map(|(service, _, _)| service)
            .collect();
        Ok(services.into_iter().collect())
    }

    /// Returns the operations (span name and kind) of a service, sorted.
    ///
    /// # Errors
    /// None today; reserved for catalogs read from the object store.
    pub async fn operations(
        &self,
        tenant: &TenantId,
        service: &str,
    ) -> Result<Vec<(String, SpanKind)>, Error> {
        Ok(self
            .all_operations(tenant)
            .into_iter()
            .filter(|(owner, _, _)| owner == service)
            .map(|(_, name, kind)| (name, kind))
            .collect())
    }

    /// Passes a part read's result on, except that a corrupt part is quarantined and read as
    /// nothing (see [`crate::part::quarantine`]).
    async fn unless_corrupt<T>(
        &self,
        part: &PartInfo,
        read: Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match read {
            Ok(found) => Ok(Some(found)),
            Err(error) if quarantine::is_corruption(&error) => {
                self.inner
                    .catalog
                    .remove(&part.tenant, std::slice::from_ref(&part.path));
                quarantine::quarantine(&self.inner.objects, &part.path, "traces", &error).await;
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    fn all_operations(&self, tenant: &TenantId) -> BTreeSet<(String, String, SpanKind)> {
        let mut operations = BTreeSet::new();
        self.inner.heads.collect_operations(tenant, &mut operations);
        for part in self.inner.catalog.parts(tenant) {
            operations.extend(part.operations.iter().cloned());
        }
        operations
    }

    /// Writes the head to parts now: rotates the WAL, writes the frozen head's spans as one part
    /// per tenant and day, then deletes the WAL segments that held them. Rotations whose write
    /// failed earlier are retried first.
    ///
    /// # Errors
    /// WAL rotation, encoding or object store failures; the frozen head then stays in memory
    /// (queryable) and its segments stay on disk, and the next flush retries it.
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
                match self.write_rotation(&rotation).await {
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

    fn pending_rotations(&self) -> std::sync::MutexGuard<'_, Vec<Rotation>> {
        self.inner
            .pending_rotations
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Writes a frozen head as parts, all or nothing: parts become visible in the catalog only
    /// once every one of them is written.
    async fn write_rotation(&self, rotation: &Rotation) -> Result<(), Error> {
        let frozen = &rotation.frozen;
        if frozen.span_count == 0 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut written = Vec::new();
        for (tenant, head) in &frozen.tenants {
            for (day, batch) in split_by_day(&head.concat()?)? {
                match crate::part::writer::write_part(&self.inner.objects, tenant, &day, batch)
                    .await
                {
                    Ok(part) => written.push(part),
                    Err(error) => {
                        for part in written {
                            let _ = self.inner.objects.delete(&part.path).await;
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
            spans = frozen.span_count,
            parts,
            written_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed head to parts"
        );
        Ok(())
    }

    /// Drops a written rotation's frozen head and deletes its WAL segments.
    fn finish_rotation(&self, rotation: Rotation) {
        self.inner.heads.release(&rotation.frozen);
        for segment in rotation.obsolete_segments {
            if let Err(error) = std::fs::remove_file(&segment) {
                tracing::warn!(%error, segment = %segment.display(), "could not delete flushed wal segment");
            }
        }
    }

    /// Starts the background work: flushing the head by size or age, compaction and retention.
    /// Each task stops when `shutdown` is cancelled.
    pub fn spawn_background(&self, tracker: &TaskTracker, shutdown: CancellationToken) {
        let store = self.clone();
        let token = shutdown.clone();
        tracker.spawn(async move { store.run_flusher(token).await });
        let store = self.clone();
        tracker.spawn(async move { store.run_maintenance(shutdown).await });
    }

    async fn run_flusher(&self, shutdown: CancellationToken) {
        let interval = Duration::from_secs(self.inner.config.flush_interval_seconds.max(1));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            let (spans, first_append) = self.inner.heads.active_size();
            let due = spans >= self.inner.config.flush_max_spans
                || first_append.is_some_and(|first| first.elapsed() >= interval);
            if due {
                if let Err(error) = self.flush().await {
                    metrics::counter!("sightline_flush_failures_total").increment(1);
                    tracing::error!(%error, "head flush failed; will retry");
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
                tracing::error!(%error, "part maintenance failed; will retry");
            }
        }
    }

    /// Runs one retention pass and one compaction pass.
    ///
    /// # Errors
    /// Object store, Parquet or encoding failures.
    pub async fn run_maintenance_once(&self) -> Result<(), Error> {
        let retention = Duration::from_secs(self.inner.config.retention_hours.saturating_mul(3600));
        retention::delete_expired_parts(&self.inner.objects, &self.inner.catalog, retention)
            .await?;
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

/// Says whether a part's (service, operation, kind) list admits the query's filters on them.
fn part_may_match(part: &crate::part::PartInfo, query: &SpanQuery) -> bool {
    part.operations.iter().any(|(service, name, kind)| {
        query
            .service
            .as_deref()
            .is_none_or(|wanted| wanted == service)
            && query
                .operation
                .as_deref()
                .is_none_or(|wanted| wanted == name)
            && query.span_kind.is_none_or(|wanted| wanted == *kind)
    })
}

/// Returns (part, row group, latest span start) of every row group of `parts` that may hold
/// spans in the query's time range, latest first.
fn newest_slices_first(
    parts: impl Iterator<Item = Arc<PartInfo>>,
    query: &SpanQuery,
) -> Vec<(Arc<PartInfo>, usize, u64)> {
    let mut slices: Vec<(Arc<PartInfo>, usize, u64)> = parts
        .flat_map(|part| {
            let in_range: Vec<(usize, u64)> = part
                .row_group_starts
                .iter()
                .enumerate()
                .filter(|(_, (min, max))| {
                    *min <= query.end_unix_nano && *max >= query.start_unix_nano
                })
                .map(|(row_group, (_, max))| (row_group, *max))
                .collect();
            in_range
                .into_iter()
                .map(move |(row_group, max)| (part.clone(), row_group, max))
        })
        .collect();
    slices.sort_by_key(|(_, _, latest)| std::cmp::Reverse(*latest));
    slices
}

/// Says whether `hits` hold `limit` distinct traces whose latest matching spans all started
/// after `latest`: then no span starting at or before `latest` can change the answer.
fn holds_newest(hits: &[(TraceId, u64)], limit: usize, latest: u64) -> bool {
    let newest = newest_distinct(hits, limit);
    newest.len() >= limit
        && newest
            .last()
            .is_some_and(|(_, oldest_kept)| latest < *oldest_kept)
}

/// Returns up to `limit` distinct traces with their latest matching span start, newest first.
fn newest_distinct(hits: &[(TraceId, u64)], limit: usize) -> Vec<(TraceId, u64)> {
    let mut sorted: Vec<_> = hits.to_vec();
    sorted.sort_unstable_by_key(|(_, start)| std::cmp::Reverse(*start));
    let mut seen = HashSet::new();
    sorted
        .into_iter()
        .filter(|(trace_id, _)| seen.insert(*trace_id))
        .take(limit)
        .collect()
}

/// Splits a batch into one batch per day of span start, so each part holds one day partition.
fn split_by_day(
    batch: &arrow_array::RecordBatch,
) -> Result<Vec<(String, arrow_array::RecordBatch)>, Error> {
    let starts = crate::part::schema::SpanColumns::new(batch, "head")
        .u64(crate::part::schema::columns::START)?;
    let days: Vec<String> = starts
        .values()
        .iter()
        .map(|start| crate::part::day_of_unix_nanos(*start))
        .collect();
    let distinct: BTreeSet<&String> = days.iter().collect();
    if distinct.len() <= 1 {
        return Ok(distinct
            .into_iter()
            .map(|day| (day.clone(), batch.clone()))
            .collect());
    }
    distinct
        .into_iter()
        .map(|day| {
            let mask: arrow_array::BooleanArray =
                days.iter().map(|row_day| Some(row_day == day)).collect();
            arrow_select::filter::filter_record_batch(batch, &mask)
                .map(|part| (day.clone(), part))
                .map_err(|source| Error::Arrow {
                    what: format!("splitting head by day {day}"),
                    source,
                })
        })
        .collect()
}

/// Replays every WAL segment into the head. Returns the next segment number and the replayed
/// segments, which the first flush deletes.
fn replay_wal(dir: &std::path::Path, heads: &Heads) -> Result<(u64, Vec<PathBuf>), Error> {
    let segments = wal::list_segments(dir)?;
    let started = std::time::Instant::now();
    let mut records = 0usize;
    let mut bytes = 0u64;
    let mut replayed = Vec::new();
    let next_sequence = segments.last().map_or(0, |(sequence, _)| sequence + 1);
    for (_, path) in segments {
        let segment = wal::read_segment(&path)?;
        if let Some(damage) = &segment.damage {
            metrics::counter!("sightline_wal_damaged_segments_total").increment(1);
            tracing::warn!(segment = %path.display(), damage, valid_bytes = segment.valid_bytes, "wal segment ends in a damaged record; replayed what precedes it");
        }
        records += segment.records.len();
        bytes += segment.valid_bytes;
        let entries = segment
            .records
            .into_iter()
            .map(|(record, _)| HeadEntry::from_span_batch(record.tenant, record.batch))
            .collect::<Result<Vec<_>, _>>()?;
        heads.apply(entries);
        replayed.push(path);
    }
    tracing::info!(
        segments = replayed.len(),
        records,
        bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "replayed write-ahead log"
    );
    Ok((next_sequence, replayed))
}

#[cfg(test)]
mod tests;
