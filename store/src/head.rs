//! The head: spans not yet in a Parquet part, held in memory and queryable at once.
//!
//! The WAL writer applies each fsynced group to the *active* head. A flush freezes it (the
//! frozen head stays queryable) and starts a new active one; once the frozen head's spans are in
//! parts, it is released.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use sightline_model::{SpanKind, SpanRow, TenantId, TraceId};

use crate::spans::SpanQuery;
use crate::wal::WalRecord;

/// In-memory bytes estimated per WAL byte (decoded rows are larger than their encoding).
const MEMORY_BYTES_PER_WAL_BYTE: u64 = 3;

/// The spans of one tenant in a head.
#[derive(Default)]
pub struct TenantHead {
    /// Rows in arrival order.
    pub rows: Vec<SpanRow>,
    by_trace: HashMap<TraceId, Vec<u32>>,
    operations: BTreeSet<(String, String, SpanKind)>,
}

impl TenantHead {
    fn push(&mut self, row: SpanRow) {
        let index = self.rows.len() as u32;
        self.by_trace
            .entry(row.span.trace_id)
            .or_default()
            .push(index);
        let operation = (
            row.service_name.to_string(),
            row.span.name.clone(),
            row.span.kind,
        );
        if !self.operations.contains(&operation) {
            self.operations.insert(operation);
        }
        self.rows.push(row);
    }

    /// Returns the spans of a trace.
    pub fn trace(&self, trace_id: &TraceId) -> impl Iterator<Item = &SpanRow> {
        self.by_trace
            .get(trace_id)
            .into_iter()
            .flatten()
            .map(|index| &self.rows[*index as usize])
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
    /// Adds durable records (each with its encoded size) to the active head.
    pub fn apply(&self, records: Vec<(WalRecord, usize)>) {
        let mut active = self
            .active
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        for (record, encoded_bytes) in records {
            let rows = record.batch.into_rows();
            active.span_count += rows.len();
            let bytes = encoded_bytes as u64 * MEMORY_BYTES_PER_WAL_BYTE;
            active.approx_bytes += bytes;
            self.unflushed_bytes.fetch_add(bytes, Ordering::Relaxed);
            active.first_append.get_or_insert_with(Instant::now);
            let tenant = active.tenants.entry(record.tenant).or_default();
            for row in rows {
                tenant.push(row);
            }
        }
        metrics::gauge!("sightline_head_spans").set(active.span_count as f64);
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

    /// Calls `visit` on the tenant's head in every generation, newest first.
    pub fn for_each_tenant_head(&self, tenant: &TenantId, mut visit: impl FnMut(&TenantHead)) {
        if let Some(head) = self
            .active
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .tenants
            .get(tenant)
        {
            visit(head);
        }
        let frozen = self
            .frozen
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        for generation in frozen.iter().rev() {
            if let Some(head) = generation.tenants.get(tenant) {
                visit(head);
            }
        }
    }

    /// Returns the spans of a trace held in memory.
    pub fn find_trace(&self, tenant: &TenantId, trace_id: &TraceId) -> Vec<SpanRow> {
        let mut rows = Vec::new();
        self.for_each_tenant_head(tenant, |head| rows.extend(head.trace(trace_id).cloned()));
        rows
    }

    /// Returns (trace id, span start) of every span in memory that matches `query`.
    pub fn search(&self, tenant: &TenantId, query: &SpanQuery) -> Vec<(TraceId, u64)> {
        let mut hits = Vec::new();
        self.for_each_tenant_head(tenant, |head| {
            hits.extend(
                head.rows
                    .iter()
                    .filter(|row| query.matches(row))
                    .map(|row| (row.span.trace_id, row.span.start_time_unix_nano)),
            );
        });
        hits
    }

    /// Adds the (service, operation, kind) triples held in memory to `into`.
    pub fn collect_operations(
        &self,
        tenant: &TenantId,
        into: &mut BTreeSet<(String, String, SpanKind)>,
    ) {
        self.for_each_tenant_head(tenant, |head| into.extend(head.operations.iter().cloned()));
    }
}
