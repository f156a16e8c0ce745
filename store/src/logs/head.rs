//! The log head: durable records not yet committed to a day index, searchable at once, and
//! the live-tail channel.
//!
//! The WAL writer applies each fsynced append ([`LogEntry`]): its records get their sequence
//! numbers, join the active block as one shared chunk, and go to tail subscribers. The
//! committer hands the active block's new chunks to the index writers as they arrive, freezes
//! the block with the WAL rotation, indexes the rest and commits it, then releases it;
//! searches read the chunks without holding the lock while they filter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sightline_model::{LogRow, TenantId};
use tokio::sync::broadcast;

use super::query::{LogHistogram, LogHit, LogQuery};
use crate::wal::WalHead;

/// Capacity of the live-tail channel, in appended batches; a subscriber that falls further
/// behind is told how many batches it missed and continues with the newest.
pub const TAIL_CHANNEL_CAPACITY: usize = 1024;

/// One durable append, ready for the head.
pub struct LogEntry {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The records.
    pub rows: Vec<LogRow>,
    /// Memory the records take, about.
    pub approx_bytes: u64,
    /// Arrival time, unix nanoseconds: the time of records that carry none.
    pub arrival_unix_nano: u64,
}

/// Records appended together, as tail subscribers receive them.
#[derive(Debug)]
pub struct TailBatch {
    /// The tenant they belong to.
    pub tenant: TenantId,
    /// The records, in append order.
    pub hits: Arc<[LogHit]>,
}

/// One generation of the head.
#[derive(Default)]
pub struct HeadBlock {
    /// Chunks of records by tenant, in append order.
    pub tenants: HashMap<TenantId, Vec<Arc<[LogHit]>>>,
    /// Records held.
    pub records: usize,
    /// Memory held, about.
    pub approx_bytes: u64,
    /// How many of each tenant's chunks (a prefix) were handed to the index writers before
    /// the block was frozen ([`LogHeads::take_unfed`]).
    pub fed_chunks: HashMap<TenantId, usize>,
}

/// The active block and the frozen blocks still being committed.
pub struct LogHeads {
    active: Mutex<HeadBlock>,
    frozen: Mutex<Vec<Arc<HeadBlock>>>,
    next_sequence: AtomicU64,
    held_bytes: AtomicU64,
    tail: broadcast::Sender<Arc<TailBatch>>,
}

impl LogHeads {
    /// Creates an empty head whose first record gets sequence number `next_sequence`.
    pub fn new(next_sequence: u64) -> Self {
        let (tail, _) = broadcast::channel(TAIL_CHANNEL_CAPACITY);
        Self {
            active: Mutex::new(HeadBlock::default()),
            frozen: Mutex::new(Vec::new()),
            next_sequence: AtomicU64::new(next_sequence),
            held_bytes: AtomicU64::new(0),
            tail,
        }
    }

    /// Memory held by records not yet committed, about.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// Records in the active block.
    pub fn active_records(&self) -> usize {
        lock(&self.active).records
    }

    /// The active block's chunks not handed to the index writers yet, by tenant, marked as
    /// handed: the committer indexes records as they arrive and commits them with the block.
    pub fn take_unfed(&self) -> HashMap<TenantId, Vec<Arc<[LogHit]>>> {
        let mut active = lock(&self.active);
        let HeadBlock {
            tenants,
            fed_chunks,
            ..
        } = &mut *active;
        let mut unfed = HashMap::new();
        for (tenant, chunks) in tenants.iter() {
            let fed = fed_chunks.entry(tenant.clone()).or_default();
            if let Some(new) = chunks.get(*fed..).filter(|new| !new.is_empty()) {
                unfed.insert(tenant.clone(), new.to_vec());
                *fed = chunks.len();
            }
        }
        unfed
    }

    /// Subscribes to records as they become durable.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TailBatch>> {
        self.tail.subscribe()
    }

    /// Releases a frozen block once its records are committed and visible in the index.
    pub fn release(&self, block: &Arc<HeadBlock>) {
        lock(&self.frozen).retain(|frozen| !Arc::ptr_eq(frozen, block));
        self.held_bytes
            .fetch_sub(block.approx_bytes, Ordering::Relaxed);
    }

    /// The tenant's chunks in every block, taken under the locks and read outside them.
    fn chunks(&self, tenant: &TenantId) -> Vec<Arc<[LogHit]>> {
        // Both locks at once, in the order `freeze` takes them: a block moving from active to
        // frozen is seen exactly once.
        let active = lock(&self.active);
        let frozen = lock(&self.frozen);
        let mut chunks: Vec<Arc<[LogHit]>> = Vec::new();
        for block in frozen.iter() {
            chunks.extend(block.tenants.get(tenant).into_iter().flatten().cloned());
        }
        chunks.extend(active.tenants.get(tenant).into_iter().flatten().cloned());
        chunks
    }

    /// Returns the tenant's head records that match the query, at most `limit` of the
    /// first ones in the query's order.
    pub fn search(&self, tenant: &TenantId, query: &LogQuery) -> Vec<LogHit> {
        let mut hits: Vec<LogHit> = self
            .chunks(tenant)
            .iter()
            .flat_map(|chunk| chunk.iter())
            .filter(|hit| query.matches(hit.timestamp_unix_nano, hit.sequence, &hit.row))
            .cloned()
            .collect();
        hits.sort_by(|a, b| {
            query.order(
                (a.timestamp_unix_nano, a.sequence),
                (b.timestamp_unix_nano, b.sequence),
            )
        });
        hits.truncate(query.limit);
        hits
    }

    /// Counts the tenant's matching head records into `histogram`, returning the sequence
    /// numbers counted (the index must not count them again).
    pub fn count(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
        histogram: &mut LogHistogram,
    ) -> Vec<u64> {
        let mut counted = Vec::new();
        for chunk in self.chunks(tenant) {
            for hit in chunk.iter() {
                if query.matches(hit.timestamp_unix_nano, hit.sequence, &hit.row) {
                    histogram.add(hit.timestamp_unix_nano);
                    counted.push(hit.sequence);
                }
            }
        }
        counted.sort_unstable();
        counted
    }
}

impl WalHead for LogHeads {
    type Entry = LogEntry;
    type Frozen = HeadBlock;

    fn apply(&self, entries: Vec<LogEntry>) {
        for entry in entries {
            let first = self
                .next_sequence
                .fetch_add(entry.rows.len() as u64, Ordering::Relaxed);
            let hits: Arc<[LogHit]> = entry
                .rows
                .into_iter()
                .enumerate()
                .map(|(index, row)| {
                    let time = row.record.effective_time_unix_nano();
                    LogHit {
                        timestamp_unix_nano: if time == 0 {
                            entry.arrival_unix_nano
                        } else {
                            time
                        },
                        sequence: first + index as u64,
                        row,
                    }
                })
                .collect();
            {
                let mut active = lock(&self.active);
                active.records += hits.len();
                active.approx_bytes += entry.approx_bytes;
                active
                    .tenants
                    .entry(entry.tenant.clone())
                    .or_default()
                    .push(hits.clone());
            }
            self.held_bytes
                .fetch_add(entry.approx_bytes, Ordering::Relaxed);
            // No receiver is the usual case; that is not an error.
            let _ = self.tail.send(Arc::new(TailBatch {
                tenant: entry.tenant,
                hits,
            }));
        }
    }

    fn freeze(&self) -> Arc<HeadBlock> {
        let mut active = lock(&self.active);
        let block = Arc::new(std::mem::take(&mut *active));
        lock(&self.frozen).push(block.clone());
        block
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another holder panicked; the data is still consistent
    // (every update is a single push or swap).
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
