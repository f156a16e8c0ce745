//! [`DeltaToCumulative`]: turns delta sums and histograms into the cumulative series
//! Prometheus expects, following the metrics data model's "Sums: Delta-to-Cumulative"
//! (<https://opentelemetry.io/docs/specs/otel/metrics/data-model/#sums-delta-to-cumulative>).
//!
//! Per stream (tenant + the series' labels) it keeps the running total, the start time of the
//! first point and the interval of the last one. A new point whose interval starts where the
//! last ended is added; an exact repeat of the last point (a client retrying an export) gets
//! the same total again; a point that ends before the stream's start is dropped; any other
//! point (a gap, an overlap, a changed bucket layout) resets the stream to that point, which
//! Prometheus sees as a counter reset. A point without a start time is added whenever it is
//! later than the last one.
//!
//! Memory is bounded: at most `max_streams` streams, the least recently used evicted first,
//! and streams unused for `stale_after` expire. Both are counted in
//! `sightline_store_delta_streams_evicted_total{reason="limit"|"stale"}`; the number tracked
//! is the gauge `sightline_store_delta_streams`. An evicted stream starts over at its next
//! point, like a reset.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sightline_model::{Labels, TenantId};

use super::exponential::ExponentialBuckets;

/// Streams per shard before the accumulator splits into shards (so that small limits, as in
/// tests, keep one exact least-recently-used order).
const STREAMS_PER_SHARD_MIN: usize = 1024;
/// The most shards, enough to keep two cores from contending.
const MAX_SHARDS: usize = 16;

/// Limits of a [`DeltaToCumulative`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaToCumulativeConfig {
    /// Streams tracked at most; the least recently used is evicted to make room.
    pub max_streams: usize,
    /// A stream without points for this long is forgotten.
    pub stale_after: Duration,
}

impl Default for DeltaToCumulativeConfig {
    /// 100,000 streams, forgotten after 10 minutes without points.
    fn default() -> Self {
        Self {
            max_streams: 100_000,
            stale_after: Duration::from_secs(600),
        }
    }
}

/// A delta point's value, or a stream's cumulative total.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DeltaValue {
    Sum(f64),
    Histogram(ExplicitHistogram),
    Exponential(ExponentialBuckets),
}

/// An explicit-bounds histogram point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExplicitHistogram {
    pub(crate) bounds: Vec<f64>,
    pub(crate) bucket_counts: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) sum: Option<f64>,
}

impl DeltaValue {
    /// Adds `delta`; `false` (and `self` unchanged) when the two cannot be added: different
    /// kinds or bucket layouts.
    fn add(&mut self, delta: &DeltaValue) -> bool {
        match (self, delta) {
            (DeltaValue::Sum(total), DeltaValue::Sum(delta)) => {
                *total += delta;
                true
            }
            (DeltaValue::Histogram(total), DeltaValue::Histogram(delta)) => {
                let same_bounds = total.bounds.len() == delta.bounds.len()
                    && total.bucket_counts.len() == delta.bucket_counts.len()
                    && total
                        .bounds
                        .iter()
                        .zip(&delta.bounds)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                if !same_bounds {
                    return false;
                }
                for (count, added) in total.bucket_counts.iter_mut().zip(&delta.bucket_counts) {
                    *count = count.saturating_add(*added);
                }
                total.count = total.count.saturating_add(delta.count);
                total.sum = total.sum.zip(delta.sum).map(|(a, b)| a + b);
                true
            }
            (DeltaValue::Exponential(total), DeltaValue::Exponential(delta)) => total.add(delta),
            _ => false,
        }
    }
}

/// Accumulates delta points into cumulative totals per stream. Thread-safe and cheap to share
/// behind an `Arc`; see the module docs for the rules.
#[derive(Debug)]
pub struct DeltaToCumulative {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    stale_after: Duration,
    next_use: AtomicU64,
    tracked: AtomicUsize,
}

#[derive(Debug, Default)]
struct Shard {
    capacity: usize,
    /// Streams held, over all tenants.
    len: usize,
    streams: HashMap<TenantId, HashMap<Labels, Stream>>,
    /// Last use → stream, oldest first.
    by_last_use: BTreeMap<u64, (TenantId, Labels)>,
}

#[derive(Debug)]
struct Stream {
    start_unix_nano: u64,
    last_start_unix_nano: u64,
    last_time_unix_nano: u64,
    total: DeltaValue,
    last_use: u64,
    last_used_at: Instant,
}

impl DeltaToCumulative {
    /// Creates an empty accumulator with the given limits (at least one stream).
    pub fn new(config: DeltaToCumulativeConfig) -> Self {
        let max_streams = config.max_streams.max(1);
        let shard_count = (max_streams / STREAMS_PER_SHARD_MIN).clamp(1, MAX_SHARDS);
        let shards = (0..shard_count)
            .map(|_| {
                Mutex::new(Shard {
                    capacity: max_streams.div_ceil(shard_count),
                    ..Shard::default()
                })
            })
            .collect();
        Self {
            shards,
            hasher: RandomState::new(),
            stale_after: config.stale_after,
            next_use: AtomicU64::new(0),
            tracked: AtomicUsize::new(0),
        }
    }

    /// Returns the number of streams tracked.
    pub fn stream_count(&self) -> usize {
        self.tracked.load(Ordering::Relaxed)
    }

    /// Forgets the streams unused since `now - stale_after`, returning how many. Runs on its
    /// own as points arrive; public so that callers and tests can run it at a given time.
    pub fn expire_stale_at(&self, now: Instant) -> usize {
        let mut expired = 0;
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|poison| poison.into_inner());
            expired += shard.expire_stale(now, self.stale_after);
        }
        self.forget(expired, "stale");
        expired
    }

    /// Adds a delta point to its stream and returns the stream's cumulative total, or `None`
    /// when the point ends before the stream's start and is dropped.
    pub(crate) fn accumulate(
        &self,
        tenant: &TenantId,
        labels: &Labels,
        start_unix_nano: u64,
        time_unix_nano: u64,
        delta: DeltaValue,
    ) -> Option<DeltaValue> {
        let now = Instant::now();
        let shard_index = self.shard_of(tenant, labels);
        let mut guard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // A plain reference, so that the stream and the use order can be borrowed apart.
        let shard: &mut Shard = &mut guard;
        let expired = shard.expire_stale(now, self.stale_after);
        self.forget(expired, "stale");
        let last_use = self.next_use.fetch_add(1, Ordering::Relaxed);
        let existing = shard
            .streams
            .get_mut(tenant)
            .and_then(|streams| streams.get_mut(labels));
        if let Some(stream) = existing {
            let previous_use = stream.last_use;
            let total = stream.apply(start_unix_nano, time_unix_nano, delta);
            stream.last_use = last_use;
            stream.last_used_at = now;
            if let Some(key) = shard.by_last_use.remove(&previous_use) {
                shard.by_last_use.insert(last_use, key);
            }
            return total;
        }
        if shard.len >= shard.capacity && shard.evict_least_recently_used() {
            self.forget(1, "limit");
        }
        let stream = Stream {
            start_unix_nano: if start_unix_nano == 0 {
                time_unix_nano
            } else {
                start_unix_nano
            },
            last_start_unix_nano: start_unix_nano,
            last_time_unix_nano: time_unix_nano,
            total: delta.clone(),
            last_use,
            last_used_at: now,
        };
        shard
            .streams
            .entry(tenant.clone())
            .or_default()
            .insert(labels.clone(), stream);
        shard
            .by_last_use
            .insert(last_use, (tenant.clone(), labels.clone()));
        shard.len += 1;
        let tracked = self.tracked.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("sightline_store_delta_streams").set(tracked as f64);
        Some(delta)
    }

    fn shard_of(&self, tenant: &TenantId, labels: &Labels) -> usize {
        if self.shards.len() == 1 {
            return 0;
        }
        let hash = self.hasher.hash_one((tenant, labels));
        (hash % self.shards.len() as u64) as usize
    }

    fn forget(&self, streams: usize, reason: &'static str) {
        if streams == 0 {
            return;
        }
        let tracked = self
            .tracked
            .fetch_sub(streams, Ordering::Relaxed)
            .saturating_sub(streams);
        metrics::gauge!("sightline_store_delta_streams").set(tracked as f64);
        metrics::counter!("sightline_store_delta_streams_evicted_total", "reason" => reason)
            .increment(streams as u64);
    }
}

impl Stream {
    /// Applies a point by the data model's rules; see the module docs.
    fn apply(
        &mut self,
        start_unix_nano: u64,
        time_unix_nano: u64,
        delta: DeltaValue,
    ) -> Option<DeltaValue> {
        if time_unix_nano < self.start_unix_nano {
            return None;
        }
        if start_unix_nano == self.last_start_unix_nano
            && time_unix_nano == self.last_time_unix_nano
        {
            return Some(self.total.clone());
        }
        let aligned = if start_unix_nano == 0 {
            time_unix_nano > self.last_time_unix_nano
        } else {
            start_unix_nano == self.last_time_unix_nano
        };
        if !(aligned && self.total.add(&delta)) {
            self.start_unix_nano = if start_unix_nano == 0 {
                time_unix_nano
            } else {
                start_unix_nano
            };
            self.total = delta;
        }
        self.last_start_unix_nano = start_unix_nano;
        self.last_time_unix_nano = time_unix_nano;
        Some(self.total.clone())
    }
}

impl Shard {
    fn expire_stale(&mut self, now: Instant, stale_after: Duration) -> usize {
        let mut expired = 0;
        while let Some(entry) = self.by_last_use.first_entry() {
            let (tenant, labels) = entry.get();
            let stale = self
                .streams
                .get(tenant)
                .and_then(|streams| streams.get(labels))
                .is_none_or(|stream| now.duration_since(stream.last_used_at) >= stale_after);
            if !stale {
                break;
            }
            let (tenant, labels) = entry.remove();
            if self.remove_stream(&tenant, &labels) {
                expired += 1;
            }
        }
        expired
    }

    fn evict_least_recently_used(&mut self) -> bool {
        match self.by_last_use.pop_first() {
            Some((_, (tenant, labels))) => self.remove_stream(&tenant, &labels),
            None => false,
        }
    }

    fn remove_stream(&mut self, tenant: &TenantId, labels: &Labels) -> bool {
        let Some(streams) = self.streams.get_mut(tenant) else {
            return false;
        };
        let removed = streams.remove(labels).is_some();
        if streams.is_empty() {
            self.streams.remove(tenant);
        }
        if removed {
            self.len -= 1;
        }
        removed
    }
}
