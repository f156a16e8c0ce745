//! Day indexes: one tantivy index per tenant and UTC day under
//! `{data_dir}/logs/{tenant}/{yyyy-mm-dd}`, each with a reader reloaded after every commit
//! and a writer opened on demand and closed when idle (so writer memory is bounded by the
//! indexes written to recently, not by every day kept).
//!
//! Every commit carries a payload ([`CommitPayload`]): the newest WAL segment whose records for
//! this index it holds, and the largest sequence number it holds. Replay skips records the
//! index already holds, and the store continues numbering after the largest sequence.
//! Everything here blocks: callers run it on the blocking pool.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sightline_model::{LogRow, Resource, TenantId};
use tantivy::indexer::UserOperation;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery};
use tantivy::schema::Value;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::collect::{IndexHit, TimeBuckets, TopByTime};
use super::filter::{LogFilter, QueryTarget};
use super::query::{LogDirection, LogHistogram, LogHit, LogQuery};
use super::resources::ResourceTable;
use super::schema::{
    decode_record, index_settings, log_schema, record_document, register_analyzers,
    DocumentResource, LogFields, ResourceField,
};
use crate::error::Error;

/// Records the first time window of a search is expected to hold (see
/// `LogIndex::first_hits`); tiny in tests, so their few records span many windows.
#[cfg(not(test))]
const FIRST_WINDOW_DOCS: u64 = 65_536;
#[cfg(test)]
const FIRST_WINDOW_DOCS: u64 = 2;
/// Tantivy's smallest indexing memory per writer thread.
const MIN_WRITER_HEAP_BYTES: usize = 15_000_000;

/// Nanoseconds in a day.
pub const DAY_NANOS: u64 = 86_400_000_000_000;

/// What a commit of a day index records about the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPayload {
    /// The index's format (`INDEX_FORMAT_VERSION` when it was created by this version).
    pub format: u8,
    /// The newest WAL segment whose records for this index are committed.
    pub wal_segment: u64,
    /// The largest sequence number in the index.
    pub max_sequence: u64,
}

/// The UTC day (days since 1970-01-01) of a time.
pub fn day_of(timestamp_unix_nano: u64) -> i64 {
    (timestamp_unix_nano / DAY_NANOS) as i64
}

/// `yyyy-mm-dd` of a day number.
pub fn day_name(day: i64) -> String {
    let (year, month, day) = sightline_model::time::civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

fn parse_day_name(name: &str) -> Option<i64> {
    let mut parts = name.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    let number = sightline_model::time::days_from_civil(year, month, day);
    (day_name(number) == name).then_some(number)
}

fn index_error(operation: &'static str, path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Io {
        operation,
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// An open index writer and what it holds that is not committed yet.
struct WriterState {
    writer: IndexWriter,
    last_write: Instant,
    /// Records added since the last commit.
    uncommitted: usize,
    /// The largest sequence number among them.
    uncommitted_max_sequence: Option<u64>,
}

impl WriterState {
    /// Forgets the uncommitted records' count (after a commit or a rollback).
    fn clear_uncommitted(&mut self) {
        self.uncommitted = 0;
        self.uncommitted_max_sequence = None;
    }
}

/// Discards what the writer holds uncommitted.
fn rollback(state: &mut WriterState, dir: &Path) -> Result<(), Error> {
    state.clear_uncommitted();
    state
        .writer
        .rollback()
        .map(|_| ())
        .map_err(|error| index_error("roll back log index writer", dir, error))
}

/// Discards what the writer holds uncommitted after a failure; a writer that cannot roll
/// back is dropped (the next write opens another).
fn discard_uncommitted(slot: &mut Option<WriterState>, dir: &Path) {
    let Some(state) = slot.as_mut() else {
        return;
    };
    if let Err(error) = rollback(state, dir) {
        tracing::error!(%error, index = %dir.display(), "log index rollback failed; reopening the writer");
        *slot = None;
    }
}

/// One tenant's index of one day.
pub struct LogIndex {
    /// The tenant.
    pub tenant: TenantId,
    /// The day number.
    pub day: i64,
    /// The index directory.
    pub dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: LogFields,
    resources: ResourceTable,
    writer: Mutex<Option<WriterState>>,
    committed: Mutex<Option<CommitPayload>>,
}

impl LogIndex {
    /// Opens the index in `dir` in whichever format it has, or creates one in the current
    /// format.
    fn open(tenant: TenantId, day: i64, dir: PathBuf) -> Result<Self, Error> {
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            operation: "create log index directory",
            path: dir.clone(),
            source,
        })?;
        let directory = tantivy::directory::MmapDirectory::open(&dir)
            .map_err(|error| index_error("open log index directory", &dir, error))?;
        let exists = Index::exists(&directory)
            .map_err(|error| index_error("open log index directory", &dir, error))?;
        let index = if exists {
            Index::open(directory)
        } else {
            Index::builder()
                .schema(log_schema())
                .settings(index_settings())
                .open_or_create(directory)
        }
        .map_err(|error| index_error("open log index", &dir, error))?;
        register_analyzers(index.tokenizers());
        let fields = LogFields::of(&index.schema())
            .map_err(|error| index_error("open log index", &dir, error))?;
        let resources = ResourceTable::open(&dir, &tenant)?;
        let committed = index
            .load_metas()
            .map_err(|error| index_error("read log index metadata", &dir, error))?
            .payload
            .and_then(|payload| serde_json::from_str::<CommitPayload>(&payload).ok());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|error| index_error("open log index reader", &dir, error))?;
        Ok(Self {
            tenant,
            day,
            dir,
            index,
            reader,
            fields,
            resources,
            writer: Mutex::new(None),
            committed: Mutex::new(committed),
        })
    }

    /// What the last commit recorded, if the index has been committed.
    pub fn committed(&self) -> Option<CommitPayload> {
        *lock(&self.committed)
    }

    /// Adds records to the writer ahead of their commit (the committer feeds the head's
    /// records as they arrive, so that indexing runs between commits instead of in a burst
    /// at each). They become visible with the next [`LogIndex::add_and_commit`].
    ///
    /// # Errors
    /// Tantivy failures (I/O, out of space) and record encoding failures, as [`Error::Io`].
    /// The writer is then rolled back (its threads stop on a failed segment write), and the
    /// commit, finding it short of what was fed, adds the rotation's records again.
    pub fn add(&self, hits: &[&LogHit], heap_bytes: usize, threads: usize) -> Result<(), Error> {
        let mut slot = lock(&self.writer);
        let state = self.writer_state(&mut slot, heap_bytes, threads)?;
        let added = add_documents(state, self.target(), hits, &self.dir);
        if added.is_err() {
            discard_uncommitted(&mut slot, &self.dir);
        }
        added
    }

    /// What queries of this index are built against.
    fn target(&self) -> QueryTarget<'_> {
        QueryTarget {
            fields: &self.fields,
            resources: &self.resources,
        }
    }

    /// Commits a rotation's records for this index (`hits`, in arrival order) with
    /// `wal_segment` in the payload, then reloads the reader so they are searchable. The
    /// first `fed` of them were handed over by [`LogIndex::add`]; when the writer does not
    /// hold exactly that many uncommitted records (a feed failed, a commit was rolled back),
    /// it is rolled back and every record added again, so a commit holds the rotation's
    /// records exactly once. On failure the uncommitted additions are rolled back.
    ///
    /// # Errors
    /// Tantivy failures (I/O, out of space), as [`Error::Io`].
    pub fn add_and_commit(
        &self,
        hits: &[&LogHit],
        fed: usize,
        wal_segment: u64,
        heap_bytes: usize,
        threads: usize,
    ) -> Result<(), Error> {
        let mut slot = lock(&self.writer);
        let state = self.writer_state(&mut slot, heap_bytes, threads)?;
        let previous = self.committed();
        let result = (|| {
            let unfed = if state.uncommitted == fed {
                hits.get(fed..).unwrap_or_default()
            } else {
                tracing::warn!(index = %self.dir.display(), expected = fed, held = state.uncommitted, "log index writer does not hold the records fed to it; adding them again");
                rollback(state, &self.dir)?;
                hits
            };
            add_documents(state, self.target(), unfed, &self.dir)?;
            // Every resource a committed record names must be durable first.
            self.resources.sync()?;
            let payload = CommitPayload {
                format: self.fields.resource.format(),
                wal_segment: wal_segment.max(previous.map_or(0, |p| p.wal_segment)),
                max_sequence: state
                    .uncommitted_max_sequence
                    .into_iter()
                    .chain(previous.map(|p| p.max_sequence))
                    .max()
                    .unwrap_or(0),
            };
            let text = serde_json::to_string(&payload)
                .map_err(|error| index_error("encode log commit payload", &self.dir, error))?;
            let mut prepared = state
                .writer
                .prepare_commit()
                .map_err(|error| index_error("prepare log index commit", &self.dir, error))?;
            prepared.set_payload(&text);
            prepared
                .commit()
                .map_err(|error| index_error("commit log index", &self.dir, error))?;
            Ok(payload)
        })();
        let payload = match result {
            Ok(payload) => payload,
            Err(error) => {
                discard_uncommitted(&mut slot, &self.dir);
                return Err(error);
            }
        };
        state.clear_uncommitted();
        *lock(&self.committed) = Some(payload);
        self.reader
            .reload()
            .map_err(|error| index_error("reload log index reader", &self.dir, error))
    }

    /// The open writer, opened if there is none.
    fn writer_state<'a>(
        &self,
        slot: &'a mut Option<WriterState>,
        heap_bytes: usize,
        threads: usize,
    ) -> Result<&'a mut WriterState, Error> {
        let state = match slot {
            Some(state) => state,
            None => {
                // Each thread needs its own share of at least the minimum: a small heap gets
                // fewer.
                let threads = threads.min(heap_bytes / MIN_WRITER_HEAP_BYTES).max(1);
                let writer = self
                    .index
                    .writer_with_num_threads(
                        threads,
                        heap_bytes.max(MIN_WRITER_HEAP_BYTES * threads),
                    )
                    .map_err(|error| index_error("open log index writer", &self.dir, error))?;
                slot.insert(WriterState {
                    writer,
                    last_write: Instant::now(),
                    uncommitted: 0,
                    uncommitted_max_sequence: None,
                })
            }
        };
        state.last_write = Instant::now();
        Ok(state)
    }

    /// Closes the writer if nothing was written for `idle`, waiting for its merges.
    pub fn close_writer_if_idle(&self, idle: Duration) {
        let writer = {
            let mut slot = lock(&self.writer);
            match slot.as_ref() {
                Some(state) if state.last_write.elapsed() >= idle => slot.take(),
                _ => None,
            }
        };
        if let Some(state) = writer {
            if let Err(error) = state.writer.wait_merging_threads() {
                tracing::warn!(%error, index = %self.dir.display(), "log index merge failed while closing the writer");
            }
        }
    }

    /// Finds the first hits of the query in this index, with their records.
    ///
    /// # Errors
    /// Tantivy failures and undecodable stored records.
    pub fn search(&self, query: &Arc<LogQuery>) -> Result<Vec<LogHit>, Error> {
        let searcher = self.reader.searcher();
        let hits = self.first_hits(&searcher, query)?;
        hits.into_iter()
            .map(|hit| {
                Ok(LogHit {
                    timestamp_unix_nano: hit.timestamp_unix_nano,
                    sequence: hit.sequence,
                    row: self.fetch(&searcher, hit.address)?,
                })
            })
            .collect()
    }

    /// The first hits of `query` in its order, searched in time windows from the end the
    /// query starts at (see [`first_window_width`]), each next one four times as wide, until
    /// `limit` hits are found. Every hit of a window sorts before every hit of the next, so
    /// the hits concatenate in order. A page thus reads about the records near its cursor,
    /// not every record between the cursor and the far end of the range (which made paging
    /// through a long range quadratic).
    fn first_hits(
        &self,
        searcher: &tantivy::Searcher,
        query: &Arc<LogQuery>,
    ) -> Result<Vec<IndexHit>, Error> {
        let error = |error| index_error("search log index", &self.dir, error);
        let Some((first, last)) = time_bounds(searcher, &self.fields).map_err(error)? else {
            return Ok(Vec::new());
        };
        let (start, end) = query.effective_range();
        let (start, end) = (start.max(first), end.min(last));
        if start > end || query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut width =
            first_window_width(searcher, self.target(), query, last - first).map_err(error)?;
        let mut hits: Vec<IndexHit> = Vec::new();
        let (mut low, mut high) = (start, end);
        loop {
            let mut window = LogQuery::clone(query);
            window.limit = query.limit - hits.len();
            let done = match query.direction {
                LogDirection::Backward => {
                    window.start_unix_nano = high.saturating_sub(width - 1).max(low);
                    window.end_unix_nano = high;
                    high = window.start_unix_nano.saturating_sub(1);
                    window.start_unix_nano == low
                }
                LogDirection::Forward => {
                    window.start_unix_nano = low;
                    window.end_unix_nano = low.saturating_add(width - 1).min(high);
                    low = window.end_unix_nano.saturating_add(1);
                    window.end_unix_nano == high
                }
            };
            let found: Vec<IndexHit> = searcher
                .search(
                    &*tantivy_query(self.target(), &window),
                    &TopByTime {
                        query: Arc::new(window),
                    },
                )
                .map_err(error)?;
            hits.extend(found);
            if done || hits.len() >= query.limit {
                return Ok(hits);
            }
            width = width.saturating_mul(4);
        }
    }

    fn fetch(&self, searcher: &tantivy::Searcher, address: DocAddress) -> Result<LogRow, Error> {
        let document: TantivyDocument = searcher
            .doc(address)
            .map_err(|error| index_error("read stored log record", &self.dir, error))?;
        let bytes = document
            .get_first(self.fields.record)
            .and_then(|value| value.as_bytes())
            .ok_or_else(|| Error::Corrupt {
                what: "log record",
                path: self.dir.display().to_string(),
                reason: "document has no stored record".to_string(),
            })?;
        // The stored record is what a log query reads per hit; postings are not counted.
        crate::scan::charge(bytes.len() as u64)?;
        decode_record(bytes, &|number| self.resources.get(number)).map_err(|reason| {
            Error::Corrupt {
                what: "log record",
                path: self.dir.display().to_string(),
                reason,
            }
        })
    }

    /// Counts matches per bucket, skipping the sorted sequence numbers in `skip`.
    ///
    /// # Errors
    /// Tantivy failures.
    pub fn count(
        &self,
        query: &LogQuery,
        template: &LogHistogram,
        skip: &Arc<Vec<u64>>,
    ) -> Result<LogHistogram, Error> {
        self.reader
            .searcher()
            .search(
                &*tantivy_query(self.target(), query),
                &TimeBuckets {
                    template: template.clone(),
                    skip: skip.clone(),
                },
            )
            .map_err(|error| index_error("count log index", &self.dir, error))
    }
}

/// The width in nanoseconds of a search's first time window, over an index whose records span
/// `span_nanos`: one expected to hold [`FIRST_WINDOW_DOCS`] records at the index's density, or
/// everything when the query is estimated to match at most that many in all (a rare word: one
/// search reads them all at once).
fn first_window_width(
    searcher: &tantivy::Searcher,
    target: QueryTarget<'_>,
    query: &LogQuery,
    span_nanos: u64,
) -> tantivy::Result<u64> {
    if estimated_matches(searcher, target, query)? <= FIRST_WINDOW_DOCS {
        return Ok(u64::MAX);
    }
    let docs = u128::from(searcher.num_docs().max(1));
    let width = (u128::from(span_nanos) + 1) * u128::from(FIRST_WINDOW_DOCS) / docs;
    Ok(u64::try_from(width).unwrap_or(u64::MAX).max(1))
}

/// About how many records `query` matches at most, whatever its time range, from its scorers'
/// size hints (a term's document frequency, an intersection's smallest part), without reading
/// postings.
fn estimated_matches(
    searcher: &tantivy::Searcher,
    target: QueryTarget<'_>,
    query: &LogQuery,
) -> tantivy::Result<u64> {
    let unbounded = LogQuery {
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        cursor: None,
        ..query.clone()
    };
    let weight = tantivy_query(target, &unbounded).weight(
        tantivy::query::EnableScoring::disabled_from_searcher(searcher),
    )?;
    let mut total = 0u64;
    for segment in searcher.segment_readers() {
        total += u64::from(weight.scorer(segment, 1.0)?.size_hint());
    }
    Ok(total)
}

/// The earliest and latest record time in the searcher's segments, `None` when it has no
/// records.
fn time_bounds(
    searcher: &tantivy::Searcher,
    fields: &LogFields,
) -> tantivy::Result<Option<(u64, u64)>> {
    let name = searcher.schema().get_field_name(fields.ts).to_string();
    let mut bounds: Option<(u64, u64)> = None;
    for segment in searcher.segment_readers() {
        if segment.num_docs() == 0 {
            continue;
        }
        let column = segment.fast_fields().u64(&name)?;
        let (min, max) = (column.min_value(), column.max_value());
        bounds = Some(bounds.map_or((min, max), |(first, last)| (first.min(min), last.max(max))));
    }
    Ok(bounds)
}

/// Records handed to an indexing thread at a time: several doc store blocks' worth, so that
/// few blocks mix records of two batches (against one thread, 1,024 left the index 1.9%
/// larger, 4,096 0.5%).
const INDEX_BATCH_RECORDS: usize = 4096;

/// Adds `hits` to the writer in batches of [`INDEX_BATCH_RECORDS`] records, each taken whole
/// by one indexing thread: records that arrived together (an export's, one service
/// instance's) stay together in a segment, where its doc store and postings compress best,
/// instead of alternating between threads record by record.
fn add_documents(
    state: &mut WriterState,
    target: QueryTarget<'_>,
    hits: &[&LogHit],
    dir: &Path,
) -> Result<(), Error> {
    // Records of one export share their resource: numbered once per `Arc`.
    let mut numbers: HashMap<*const Resource, u64> = HashMap::new();
    for chunk in hits.chunks(INDEX_BATCH_RECORDS) {
        let operations = chunk
            .iter()
            .map(|hit| {
                let resource = document_resource(target, &hit.row.resource, &mut numbers)?;
                record_document(
                    target.fields,
                    &hit.row,
                    resource,
                    hit.timestamp_unix_nano,
                    hit.sequence,
                )
                .map(UserOperation::Add)
                .map_err(|error| index_error("encode log record", dir, error))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        state.writer.run(operations).map_err(|error| match error {
            // Tantivy's text for this guesses at a panic; its threads stop on any error
            // writing a segment, which the next commit meets and reports.
            tantivy::TantivyError::ErrorInThread(_) => index_error(
                "add log records to index",
                dir,
                "the index writer's threads have stopped (a segment could not be written)",
            ),
            other => index_error("add log records to index", dir, other),
        })?;
        state.uncommitted += chunk.len();
        state.uncommitted_max_sequence = chunk
            .iter()
            .map(|hit| hit.sequence)
            .chain(state.uncommitted_max_sequence)
            .max();
    }
    Ok(())
}

/// How a record's document holds `resource`: its attributes (format 1) or its number in the
/// resource table, looked up once per `Arc` in `numbers`.
fn document_resource(
    target: QueryTarget<'_>,
    resource: &Arc<Resource>,
    numbers: &mut HashMap<*const Resource, u64>,
) -> Result<DocumentResource, Error> {
    Ok(match target.fields.resource {
        ResourceField::Attributes(field) => DocumentResource::Attributes(field),
        ResourceField::Number(field) => {
            let number = match numbers.entry(Arc::as_ptr(resource)) {
                Entry::Occupied(known) => *known.get(),
                Entry::Vacant(new) => *new.insert(target.resources.number_of(resource)?),
            };
            DocumentResource::Number(field, number)
        }
    })
}

/// The tantivy query of a search: its time range (cut at the cursor), service, severity,
/// trace id and filter, all required.
fn tantivy_query(target: QueryTarget<'_>, query: &LogQuery) -> Box<dyn Query> {
    let fields = target.fields;
    let (start, end) = query.effective_range();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
        Occur::Must,
        Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(fields.ts, start)),
            Bound::Included(Term::from_field_u64(fields.ts, end)),
        )),
    )];
    if let Some(service) = &query.service {
        clauses.push((
            Occur::Must,
            LogFilter::Service(service.to_lowercase()).to_query(target),
        ));
    }
    if let Some(min) = query.min_severity_number {
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_u64(
                    fields.severity_number,
                    u64::try_from(min).unwrap_or(0),
                )),
                Bound::Unbounded,
            )),
        ));
    }
    if let Some(trace_id) = query.trace_id {
        clauses.push((Occur::Must, LogFilter::TraceId(trace_id).to_query(target)));
    }
    if query.filter != LogFilter::All {
        clauses.push((Occur::Must, query.filter.to_query(target)));
    }
    if clauses.is_empty() {
        return Box::new(AllQuery);
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Every day index of every tenant.
pub struct LogIndexes {
    root: PathBuf,
    indexes: RwLock<BTreeMap<(TenantId, i64), Arc<LogIndex>>>,
}

impl LogIndexes {
    /// Opens every day index under `root` (`{tenant}/{yyyy-mm-dd}`).
    ///
    /// # Errors
    /// I/O and tantivy failures opening an index.
    pub fn open(root: &Path) -> Result<Self, Error> {
        let indexes = Self {
            root: root.to_path_buf(),
            indexes: RwLock::new(BTreeMap::new()),
        };
        std::fs::create_dir_all(root).map_err(|source| Error::Io {
            operation: "create log index root",
            path: root.to_path_buf(),
            source,
        })?;
        for tenant_dir in read_dir(root)? {
            let Some(tenant) = file_name(&tenant_dir).and_then(|name| TenantId::new(&name).ok())
            else {
                continue;
            };
            for day_dir in read_dir(&tenant_dir)? {
                let Some(day) = file_name(&day_dir).and_then(|name| parse_day_name(&name)) else {
                    continue;
                };
                let index = LogIndex::open(tenant.clone(), day, day_dir)?;
                indexes
                    .write()
                    .insert((tenant.clone(), day), Arc::new(index));
            }
        }
        Ok(indexes)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<(TenantId, i64), Arc<LogIndex>>> {
        self.indexes
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<(TenantId, i64), Arc<LogIndex>>> {
        self.indexes
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The index of a tenant's day, if it exists.
    pub fn get(&self, tenant: &TenantId, day: i64) -> Option<Arc<LogIndex>> {
        self.read().get(&(tenant.clone(), day)).cloned()
    }

    /// The index of a tenant's day, created if missing.
    ///
    /// # Errors
    /// I/O and tantivy failures creating it.
    pub fn get_or_create(&self, tenant: &TenantId, day: i64) -> Result<Arc<LogIndex>, Error> {
        if let Some(index) = self.get(tenant, day) {
            return Ok(index);
        }
        let dir = self.root.join(tenant.as_str()).join(day_name(day));
        let index = Arc::new(LogIndex::open(tenant.clone(), day, dir)?);
        Ok(self
            .write()
            .entry((tenant.clone(), day))
            .or_insert(index)
            .clone())
    }

    /// The tenant's indexes of days overlapping `start..=end` (unix nanoseconds), oldest
    /// first.
    pub fn in_range(&self, tenant: &TenantId, start: u64, end: u64) -> Vec<Arc<LogIndex>> {
        let range = (tenant.clone(), day_of(start))..=(tenant.clone(), day_of(end));
        self.read()
            .range(range)
            .map(|(_, index)| index.clone())
            .collect()
    }

    /// Every index.
    pub fn all(&self) -> Vec<Arc<LogIndex>> {
        self.read().values().cloned().collect()
    }

    /// Forgets an index (for retention); the caller deletes its directory.
    pub fn remove(&self, tenant: &TenantId, day: i64) -> Option<Arc<LogIndex>> {
        self.write().remove(&(tenant.clone(), day))
    }

    /// The largest sequence number committed in any index.
    pub fn max_committed_sequence(&self) -> Option<u64> {
        self.read()
            .values()
            .filter_map(|index| index.committed().map(|payload| payload.max_sequence))
            .max()
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        operation: "list log index directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut dirs = Vec::new();
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_string)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
