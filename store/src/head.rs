//! The head: spans not yet in a Parquet part, held in memory as Arrow record batches in the
//! part schema and queryable at once.
//!
//! Appenders convert each accepted batch to Arrow ([`HeadEntry::from_span_batch`]) in their own
//! task; the WAL writer applies fsynced entries to the *active* head. A flush freezes it (the
//! frozen head stays queryable) and starts a new active one; once the frozen head's spans are
//! in parts, it is released. Head and parts are filtered by the same [`ScanPlan`].

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use arrow_array::RecordBatch;
use sightline_model::{SpanBatch, SpanKind, SpanRow, TenantId, TraceId};

use crate::error::Error;
use crate::part::scan::ScanPlan;
use crate::part::schema::{batch_operations, batch_to_rows, rows_to_batch, SpanColumns};
use crate::spans::SpanQuery;

/// Bytes of trace index per span, added to the batches' own size in the memory estimate.
const INDEX_BYTES_PER_SPAN: u64 = 24;

/// One appended batch, converted for the head.
pub struct HeadEntry {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The spans in the part schema.
    pub batch: RecordBatch,
    /// The distinct (service, span name, kind) of the spans.
    pub operations: BTreeSet<(String, String, SpanKind)>,
}

impl HeadEntry {
    /// Converts an accepted batch of spans.
    ///
    /// # Errors
    /// Arrow conversion failures (a bug).
    pub fn from_span_batch(tenant: TenantId, batch: SpanBatch) -> Result<Self, Error> {
        let batch = rows_to_batch(&batch.into_rows())?;
        let operations = batch_operations(&batch)?;
        Ok(Self {
            tenant,
            batch,
            operations,
        })
    }
}

/// The spans of one tenant in a head.
#[derive(Default)]
pub struct TenantHead {
    /// Batches in arrival order.
    pub batches: Vec<RecordBatch>,
    /// Trace id → (batch, row) of each of its spans.
    by_trace: HashMap<TraceId, Vec<(u32, u32)>>,
    operations: BTreeSet<(String, String, SpanKind)>,
}

impl TenantHead {
    fn push(&mut self, entry: HeadEntry) -> Result<(), Error> {
        let batch_index = self.batches.len() as u32;
        let columns = SpanColumns::new(&entry.batch, "head");
        for row in 0..entry.batch.num_rows() {
            self.by_trace
                .entry(columns.trace_id(row)?)
                .or_default()
                .push((batch_index, row as u32));
        }
        self.operations.extend(entry.operations);
        self.batches.push(entry.batch);
        Ok(())
    }

    /// Returns the spans of a trace.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if a row cannot be decoded (a bug).
    pub fn trace(&self, trace_id: &TraceId) -> Result<Vec<SpanRow>, Error> {
        let mut rows = Vec::new();
        for (batch, row) in self.by_trace.get(trace_id).into_iter().flatten() {
            let slice = self.batches[*batch as usize].slice(*row as usize, 1);
            rows.extend(batch_to_rows(&slice, "head")?);
        }
        Ok(rows)
    }

    /// Returns every span as one batch.
    ///
    /// # Errors
    /// [`Error::Arrow`] if the batches do not concatenate (a bug).
    pub fn concat(&self) -> Result<RecordBatch, Error> {
        crate::part::attributes::concat(&self.batches, "head")
    }
}

/// One generation of the head: every tenant's unflushed spans.
pub struct HeadData {
    /// Spans by tenant.
    pub tenants: HashMap<TenantId, TenantHead>,
    /// Spans held.
    pub span_count: usize,
    /// Estimated memory held, in bytes.
    pub approx_bytes: u64,
    /// When the first span arrived.
    pub first_append: Option<Instant>,
}

impl HeadData {
    fn empty() -> Self {
        Self {
            tenants: HashMap::new(),
            span_count: 0,
            approx_bytes: 0,
            first_append: None,
        }
    }
}

/// The active head and the frozen ones being flushed.
pub struct Heads {
    active: RwLock<HeadData>,
    frozen: RwLock<Vec<Arc<HeadData>>>,
    unflushed_bytes: AtomicU64,
}

impl Default for Heads {
    fn default() -> Self {
        Self {
            active: RwLock::new(HeadData::empty()),
            frozen: RwLock::new(Vec::new()),
            unflushed_bytes: AtomicU64::new(0),
        }
    }
}

impl Heads {
    /// Adds durable entries to the active head.
    pub fn apply(&self, entries: Vec<HeadEntry>) {
        let mut active = self
            .active
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        for entry in entries {
            let spans = entry.batch.num_rows();
            let bytes =
                entry.batch.get_array_memory_size() as u64 + spans as u64 * INDEX_BYTES_PER_SPAN;
            let tenant = entry.tenant.clone();
            if let Err(error) = active.tenants.entry(tenant).or_default().push(entry) {
                // Unreachable for batches built by `HeadEntry::from_span_batch`; the WAL still
                // holds the spans, so a restart replays them.
                tracing::error!(%error, "could not index a head batch");
                continue;
            }
            active.span_count += spans;
            active.approx_bytes += bytes;
            self.unflushed_bytes.fetch_add(bytes, Ordering::Relaxed);
            active.first_append.get_or_insert_with(Instant::now);
        }
        metrics::gauge!("sightline_head_spans").set(active.span_count as f64);
        metrics::gauge!("sightline_head_bytes").set(self.unflushed_bytes() as f64);
    }

    /// Freezes the active head and starts an empty one. The frozen head stays queryable until
    /// [`Heads::release`].
    pub fn freeze(&self) -> Arc<HeadData> {
        let mut active = self
            .active
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        let frozen = Arc::new(std::mem::replace(&mut *active, HeadData::empty()));
        self.frozen
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(frozen.clone());
        metrics::gauge!("sightline_head_spans").set(0.0);
        frozen
    }

    /// Drops a frozen head whose spans are now in parts.
    pub fn release(&self, frozen: &Arc<HeadData>) {
        self.frozen
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .retain(|held| !Arc::ptr_eq(held, frozen));
        self.unflushed_bytes
            .fetch_sub(frozen.approx_bytes, Ordering::Relaxed);
        metrics::gauge!("sightline_head_bytes").set(self.unflushed_bytes() as f64);
    }

    /// Returns the estimated bytes of every unflushed span (active and frozen).
    pub fn unflushed_bytes(&self) -> u64 {
        self.unflushed_bytes.load(Ordering::Relaxed)
    }

    /// Returns the active head's span count and the age of its oldest span.
    pub fn active_size(&self) -> (usize, Option<Instant>) {
        let active = self
            .active
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        (active.span_count, active.first_append)
    }

    /// Calls `visit` on the tenant's head in every generation, newest first, stopping at the
    /// first error.
    fn try_for_each_tenant_head(
        &self,
        tenant: &TenantId,
        mut visit: impl FnMut(&TenantHead) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if let Some(head) = self
            .active
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .tenants
            .get(tenant)
        {
            visit(head)?;
        }
        let frozen = self
            .frozen
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        for generation in frozen.iter().rev() {
            if let Some(head) = generation.tenants.get(tenant) {
                visit(head)?;
            }
        }
        Ok(())
    }

    /// Returns the spans of a trace held in memory.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if a row cannot be decoded (a bug).
    pub fn find_trace(&self, tenant: &TenantId, trace_id: &TraceId) -> Result<Vec<SpanRow>, Error> {
        let mut rows = Vec::new();
        self.try_for_each_tenant_head(tenant, |head| {
            rows.extend(head.trace(trace_id)?);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Returns (trace id, span start) of every span in memory that matches `query`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if a row cannot be decoded (a bug).
    pub fn search(
        &self,
        tenant: &TenantId,
        query: &SpanQuery,
    ) -> Result<Vec<(TraceId, u64)>, Error> {
        let plan = ScanPlan::new(query);
        let mut hits = Vec::new();
        self.try_for_each_tenant_head(tenant, |head| {
            for batch in &head.batches {
                plan.filter_batch(&SpanColumns::new(batch, "head"), &mut hits)?;
            }
            Ok(())
        })?;
        Ok(hits)
    }

    /// Adds the (service, operation, kind) triples held in memory to `into`.
    pub fn collect_operations(
        &self,
        tenant: &TenantId,
        into: &mut BTreeSet<(String, String, SpanKind)>,
    ) {
        let _ = self.try_for_each_tenant_head(tenant, |head| {
            into.extend(head.operations.iter().cloned());
            Ok(())
        });
    }
}
