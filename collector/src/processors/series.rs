//! What both processors keep per series, and how a flush turns it into samples.
//!
//! - [`KeyRef`]: a series' label values borrowed from a span, with their hash, computed once
//!   per span without allocating; [`SeriesKey`] is its owned form ([`LabelValues`], one buffer),
//!   made once per series an export touches.
//! - [`Histogram`]: cumulative bucket counts, sum and count, with the newest exemplar of each
//!   bucket since the last flush.
//! - [`HistogramDelta`]: what one export observed of a histogram series, merged into its
//!   [`Histogram`] once the export is durable.
//! - [`BatchTable`]: the series one export touches, aggregated before it is durable.
//! - [`SeriesTable`]: a tenant's series of one processor, with when each was last updated and
//!   which of its metric families were written already.
//! - [`SampleWriter`]: builds the [`MetricBatch`] of a flush: a zero sample before a family's
//!   first value (so that `rate` sees its first increase), the running totals, and staleness
//!   markers for series that went idle.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use sightline_model::{
    Exemplar, Labels, MetricBatch, MetricSample, SeriesSamples, SpanId, TraceId, METRIC_NAME_LABEL,
};
use sightline_store::otlp::metrics::naming::format_float;
use sightline_store::otlp::metrics::STALE_NAN_BITS;

/// A series' label values, in the order of its processor's label names, in one buffer: two
/// allocations per series whatever its label count, and a clone is two reference counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelValues {
    text: Arc<str>,
    /// Where each value ends in `text`.
    ends: Arc<[u32]>,
}

impl LabelValues {
    fn new(values: &[Cow<'_, str>]) -> Self {
        let mut text = String::with_capacity(values.iter().map(|value| value.len()).sum());
        let mut ends = Vec::with_capacity(values.len());
        for value in values {
            text.push_str(value);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        Self {
            text: Arc::from(text),
            ends: Arc::from(ends),
        }
    }

    /// Iterates over the values in label order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |end| {
            let end = *end as usize;
            let value = self.text.get(start..end).unwrap_or_default();
            start = end;
            value
        })
    }

    fn matches(&self, values: &[Cow<'_, str>]) -> bool {
        self.ends.len() == values.len()
            && self.iter().zip(values).all(|(own, other)| own == &**other)
    }
}

/// Label values borrowed from a span (or an edge), and their hash.
pub(crate) struct KeyRef<'a, 'b> {
    pub(crate) hash: u64,
    pub(crate) values: &'b [Cow<'a, str>],
}

impl<'a, 'b> KeyRef<'a, 'b> {
    /// Hashes `values` with the processors' hasher.
    pub(crate) fn new(hasher: &impl BuildHasher, values: &'b [Cow<'a, str>]) -> Self {
        let mut state = hasher.build_hasher();
        for value in values {
            state.write(value.as_bytes());
            // A separator, so that ("ab", "c") and ("a", "bc") differ.
            state.write_u8(0xff);
        }
        Self {
            hash: state.finish(),
            values,
        }
    }

    fn to_owned_key(&self) -> SeriesKey {
        SeriesKey {
            hash: self.hash,
            values: LabelValues::new(self.values),
        }
    }
}

/// A series' label values and their hash, owned.
#[derive(Debug, Clone)]
pub(crate) struct SeriesKey {
    pub(crate) hash: u64,
    pub(crate) values: LabelValues,
}

impl SeriesKey {
    fn matches(&self, values: &[Cow<'_, str>]) -> bool {
        self.values.matches(values)
    }

    fn same_as(&self, other: &SeriesKey) -> bool {
        self.hash == other.hash && self.values == other.values
    }
}

/// A measurement with the span it came from, kept as a histogram bucket's exemplar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ExemplarSlot {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) value: f64,
    pub(crate) timestamp_ms: i64,
}

/// One bucket of a [`Histogram`]: its own observations (not cumulative) and the newest
/// exemplar since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Bucket {
    pub(crate) count: u64,
    pub(crate) exemplar: Option<ExemplarSlot>,
}

/// A cumulative histogram over fixed bucket bounds, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    /// One per bound, then the one above every bound (`+Inf`).
    pub(crate) buckets: Box<[Bucket]>,
    pub(crate) sum: f64,
    pub(crate) count: u64,
}

impl Histogram {
    /// An empty histogram for `bounds_len` bounds.
    pub(crate) fn new(bounds_len: usize) -> Self {
        Self {
            buckets: vec![Bucket::default(); bounds_len + 1].into_boxed_slice(),
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts `seconds` in the first bucket whose bound is at least it (Prometheus' `le` is
    /// inclusive), and keeps the exemplar as that bucket's newest.
    pub(crate) fn observe(&mut self, bounds: &[f64], seconds: f64, exemplar: ExemplarSlot) {
        let index = bounds.partition_point(|bound| *bound < seconds);
        if let Some(bucket) = self.buckets.get_mut(index) {
            bucket.count += 1;
            bucket.exemplar = Some(exemplar);
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// Adds another histogram over the same bounds; its exemplars are the newer ones.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (own, more) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            own.count += more.count;
            if more.exemplar.is_some() {
                own.exemplar = more.exemplar;
            }
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// Adds what one export observed. The result equals merging a histogram the export's
    /// observations went into: the same bucket counts, the same sum (the delta added its
    /// durations in the same order, from zero) and the same newest exemplar per bucket (the
    /// observations are applied in arrival order, so the last of a bucket wins).
    pub(crate) fn merge_delta(&mut self, delta: &HistogramDelta) {
        for (index, exemplar) in delta.observations() {
            if let Some(bucket) = self.buckets.get_mut(index) {
                bucket.count += 1;
                bucket.exemplar = Some(exemplar);
            }
        }
        self.sum += delta.sum;
        self.count += delta.count;
    }

    /// Copies the totals and takes the exemplars, for a flush.
    pub(crate) fn take_snapshot(&mut self) -> Histogram {
        let snapshot = self.clone();
        for bucket in self.buckets.iter_mut() {
            bucket.exemplar = None;
        }
        snapshot
    }
}

/// What one export observed of one histogram series, before the export is durable: its
/// count and sum, and the bucket and exemplar of each observation in arrival order.
///
/// Why not a [`Histogram`]: with the loadgen's traffic an export of ~650 spans touches
/// ~450 span-metrics series, so most series see a single span per export. A `Histogram` per
/// series per export meant allocating and zeroing every bucket (~700 bytes with 13 buckets)
/// to count one span, and merging every bucket at commit. Here the first observation is kept
/// inline (no allocation) and later ones in a `Vec`; [`Histogram::merge_delta`] gives the
/// tenant's histogram exactly what merging a `Histogram` of the export would.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct HistogramDelta {
    pub(crate) count: u64,
    sum: f64,
    /// The first observation (bucket index, exemplar); `None` only while `count` is 0.
    first: Option<(usize, ExemplarSlot)>,
    /// The observations after the first, in arrival order.
    more: Vec<(usize, ExemplarSlot)>,
}

impl HistogramDelta {
    /// Counts `seconds` in the bucket [`Histogram::observe`] would (the first whose bound is
    /// at least it), with its exemplar.
    pub(crate) fn observe(&mut self, bounds: &[f64], seconds: f64, exemplar: ExemplarSlot) {
        let index = bounds.partition_point(|bound| *bound < seconds);
        if self.first.is_none() {
            self.first = Some((index, exemplar));
        } else {
            self.more.push((index, exemplar));
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// The observations in arrival order: (bucket index, exemplar).
    fn observations(&self) -> impl Iterator<Item = (usize, ExemplarSlot)> + '_ {
        self.first.iter().chain(&self.more).copied()
    }
}

/// The series one export touches, aggregated by key before the export is durable.
pub(crate) struct BatchTable<V> {
    entries: HashTable<(SeriesKey, V)>,
}

impl<V> Default for BatchTable<V> {
    fn default() -> Self {
        Self {
            entries: HashTable::new(),
        }
    }
}

impl<V> BatchTable<V> {
    /// Returns the value of `key`, made by `make` (and the key copied) on its first use.
    pub(crate) fn get_or_insert(
        &mut self,
        key: &KeyRef<'_, '_>,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let hash = key.hash;
        let entry = self.entries.entry(
            hash,
            |(own, _)| own.hash == hash && own.matches(key.values),
            |(own, _)| own.hash,
        );
        &mut entry
            .or_insert_with(|| (key.to_owned_key(), make()))
            .into_mut()
            .1
    }

    /// Hands out the series and their values.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (SeriesKey, V)> {
        self.entries.into_iter()
    }
}

/// A tenant's series of one processor.
pub(crate) struct Series<V> {
    key: SeriesKey,
    value: V,
    last_update: Instant,
    /// Metric families written at least once, one bit each.
    written: u8,
}

/// What a tenant may still add, in Prometheus series (each `_bucket` counts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeriesBudget {
    pub(crate) used: usize,
    pub(crate) limit: usize,
}

/// A key that is either borrowed from a span or already owned.
pub(crate) enum AnyKey<'k, 'a, 'b> {
    Borrowed(&'k KeyRef<'a, 'b>),
    Owned(SeriesKey),
}

impl AnyKey<'_, '_, '_> {
    fn hash(&self) -> u64 {
        match self {
            AnyKey::Borrowed(key) => key.hash,
            AnyKey::Owned(key) => key.hash,
        }
    }

    fn matches(&self, own: &SeriesKey) -> bool {
        match self {
            AnyKey::Borrowed(key) => own.hash == key.hash && own.matches(key.values),
            AnyKey::Owned(key) => own.same_as(key),
        }
    }

    fn into_owned(self) -> SeriesKey {
        match self {
            AnyKey::Borrowed(key) => key.to_owned_key(),
            AnyKey::Owned(key) => key,
        }
    }
}

/// A tenant's series of one processor, each with its running value.
pub(crate) struct SeriesTable<V> {
    entries: HashTable<Series<V>>,
}

impl<V> Default for SeriesTable<V> {
    fn default() -> Self {
        Self {
            entries: HashTable::new(),
        }
    }
}

/// One series as a flush sees it.
pub(crate) struct FlushedSeries<S> {
    pub(crate) values: LabelValues,
    pub(crate) snapshot: S,
    /// Families written for the first time now: they get a zero sample first.
    pub(crate) new_families: u8,
    /// Families to write now.
    pub(crate) families: u8,
    /// Families that get a staleness marker (the series went idle and is forgotten).
    pub(crate) stale_families: u8,
}

impl<V> SeriesTable<V> {
    /// Returns the value of `key`, updated now. A new series costs `cost` series of the
    /// budget; without room it is refused (`None`).
    pub(crate) fn upsert(
        &mut self,
        key: AnyKey<'_, '_, '_>,
        now: Instant,
        budget: &mut SeriesBudget,
        cost: usize,
        make: impl FnOnce() -> V,
    ) -> Option<&mut V> {
        let hash = key.hash();
        let entry = self.entries.entry(
            hash,
            |series| key.matches(&series.key),
            |series| series.key.hash,
        );
        let series = match entry {
            hashbrown::hash_table::Entry::Occupied(occupied) => occupied.into_mut(),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                if budget.used + cost > budget.limit {
                    return None;
                }
                budget.used += cost;
                vacant
                    .insert(Series {
                        key: key.into_owned(),
                        value: make(),
                        last_update: now,
                        written: 0,
                    })
                    .into_mut()
            }
        };
        series.last_update = now;
        Some(&mut series.value)
    }

    /// Returns the number of series.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Takes a snapshot of every series for a flush: `snapshot` copies a value and says which
    /// families to write. Series not updated for `idle` are forgotten after a last snapshot
    /// that carries staleness markers.
    pub(crate) fn flush<S>(
        &mut self,
        now: Instant,
        idle: Duration,
        mut snapshot: impl FnMut(&mut V) -> (S, u8),
    ) -> Vec<FlushedSeries<S>> {
        let mut flushed = Vec::with_capacity(self.entries.len());
        let mut stale = Vec::new();
        for series in self.entries.iter_mut() {
            let went_idle = now.saturating_duration_since(series.last_update) >= idle;
            if went_idle && series.written != 0 {
                stale.push(series.key.clone());
                continue;
            }
            let (state, families) = snapshot(&mut series.value);
            flushed.push(FlushedSeries {
                values: series.key.values.clone(),
                snapshot: state,
                new_families: families & !series.written,
                families,
                stale_families: 0,
            });
            series.written |= families;
        }
        for key in stale {
            if let Ok(entry) = self
                .entries
                .find_entry(key.hash, |series| series.key.same_as(&key))
            {
                let (mut series, _) = entry.remove();
                let (state, _) = snapshot(&mut series.value);
                flushed.push(FlushedSeries {
                    values: series.key.values,
                    snapshot: state,
                    new_families: 0,
                    families: 0,
                    stale_families: series.written,
                });
            }
        }
        flushed
    }
}

/// Builds the [`MetricBatch`] of one tenant's flush.
pub(crate) struct SampleWriter {
    batch: MetricBatch,
    now_ms: i64,
    /// When a family's zero sample goes: the previous flush, so that the first increase
    /// counts in the interval it happened in.
    zero_ms: i64,
}

/// Which samples a family gets in this flush.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Emit {
    pub(crate) value: bool,
    pub(crate) zero_first: bool,
    pub(crate) stale: bool,
}

impl Emit {
    /// Reads bit `family` of a flushed series.
    pub(crate) fn of<S>(series: &FlushedSeries<S>, family: u8) -> Self {
        Self {
            value: series.families & family != 0,
            zero_first: series.new_families & family != 0,
            stale: series.stale_families & family != 0,
        }
    }

    fn any(self) -> bool {
        self.value || self.stale
    }
}

impl SampleWriter {
    /// Starts a batch stamped `now_ms`, zero samples at `zero_ms` (before `now_ms`).
    pub(crate) fn new(now_ms: i64, zero_ms: i64) -> Self {
        Self {
            batch: MetricBatch::default(),
            now_ms,
            zero_ms: zero_ms.min(now_ms - 1),
        }
    }

    /// Returns the batch.
    pub(crate) fn finish(self) -> MetricBatch {
        self.batch
    }

    /// Adds metadata of the families written.
    pub(crate) fn metadata(&mut self, metadata: sightline_model::MetricMetadata) {
        self.batch.metadata.push(metadata);
    }

    fn samples(&self, value: f64, emit: Emit) -> Vec<MetricSample> {
        if emit.stale {
            return vec![MetricSample {
                timestamp_ms: self.now_ms,
                value: f64::from_bits(STALE_NAN_BITS),
            }];
        }
        let mut samples = Vec::with_capacity(2);
        if emit.zero_first {
            samples.push(MetricSample {
                timestamp_ms: self.zero_ms,
                value: 0.0,
            });
        }
        samples.push(MetricSample {
            timestamp_ms: self.now_ms,
            value,
        });
        samples
    }

    fn push(
        &mut self,
        base: &Labels,
        name: &str,
        extra: Option<(&str, &str)>,
        samples: Vec<MetricSample>,
        exemplars: Vec<Exemplar>,
    ) {
        let mut labels = base.clone();
        labels.set(METRIC_NAME_LABEL, name.to_string());
        if let Some((label, value)) = extra {
            labels.set(label, value.to_string());
        }
        self.batch.series.push(SeriesSamples {
            labels,
            samples,
            exemplars,
        });
    }

    /// Writes a counter.
    pub(crate) fn counter(&mut self, base: &Labels, name: &str, value: u64, emit: Emit) {
        if emit.any() {
            let samples = self.samples(value as f64, emit);
            self.push(base, name, None, samples, Vec::new());
        }
    }

    /// Writes a histogram as `{name}_bucket{le}` (cumulative, with `+Inf`), `{name}_sum` and
    /// `{name}_count`; exemplars go on the buckets they fell in.
    pub(crate) fn histogram(
        &mut self,
        base: &Labels,
        name: &str,
        bucket_names: &[String],
        histogram: &Histogram,
        emit: Emit,
    ) {
        if !emit.any() {
            return;
        }
        let bucket_series = format!("{name}_bucket");
        let mut cumulative = 0;
        for (le, bucket) in bucket_names.iter().zip(histogram.buckets.iter()) {
            cumulative += bucket.count;
            let exemplars = match &bucket.exemplar {
                Some(slot) if !emit.stale => vec![exemplar_of(slot)],
                _ => Vec::new(),
            };
            let samples = self.samples(cumulative as f64, emit);
            self.push(base, &bucket_series, Some(("le", le)), samples, exemplars);
        }
        let samples = self.samples(histogram.sum, emit);
        self.push(base, &format!("{name}_sum"), None, samples, Vec::new());
        let samples = self.samples(histogram.count as f64, emit);
        self.push(base, &format!("{name}_count"), None, samples, Vec::new());
    }
}

/// The `le` values of `bounds`, then `+Inf`.
pub(crate) fn bucket_names(bounds: &[f64]) -> Vec<String> {
    bounds
        .iter()
        .map(|bound| format_float(*bound))
        .chain(std::iter::once("+Inf".to_string()))
        .collect()
}

/// Builds the label set of a series from its processor's label names and its values.
pub(crate) fn base_labels(names: &[String], values: &LabelValues) -> Labels {
    Labels::new(
        names
            .iter()
            .zip(values.iter())
            .map(|(name, value)| (name.as_str(), value)),
    )
}

fn exemplar_of(slot: &ExemplarSlot) -> Exemplar {
    Exemplar {
        labels: Labels::new([
            ("trace_id", slot.trace_id.to_hex()),
            ("span_id", slot.span_id.to_hex()),
        ]),
        timestamp_ms: slot.timestamp_ms,
        value: slot.value,
        trace_id: Some(slot.trace_id),
        span_id: Some(slot.span_id),
    }
}
