//! Recent metric samples in memory: an active [`HeadBlock`] the WAL writer applies durable
//! batches to, and frozen blocks waiting to be written as parts (still queryable).
//!
//! A block holds, per tenant, a series index (labels → series ref), an inverted index (label
//! name → value → refs, ascending) for matchers, and each series' samples sorted by time.
//! Exemplars and metadata outlive blocks: they live in [`MetricHeads`] itself, bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use promql_parser::label::{MatchOp, Matcher};
use sightline_model::{Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, TenantId};

use super::labels_match;
use crate::wal::WalHead;

/// Exemplars kept per tenant (the newest), as Prometheus' circular exemplar buffer does.
pub const EXEMPLARS_PER_TENANT: usize = 100_000;

/// One durable batch for the head: the samples an append accepted.
pub(crate) struct MetricEntry {
    pub(crate) tenant: TenantId,
    pub(crate) batch: MetricBatch,
}

/// The active block, frozen blocks, and the exemplars and metadata of every tenant.
pub(crate) struct MetricHeads {
    active: RwLock<HeadBlock>,
    frozen: RwLock<Vec<Arc<HeadBlock>>>,
    exemplars: RwLock<HashMap<TenantId, VecDeque<(Labels, Exemplar)>>>,
    metadata: RwLock<HashMap<TenantId, BTreeMap<String, MetricMetadata>>>,
    /// Samples in the active block.
    active_samples: AtomicUsize,
    /// Samples in the active and frozen blocks.
    unflushed_samples: AtomicUsize,
}

/// Samples of every tenant between two rotations.
#[derive(Debug, Default)]
pub(crate) struct HeadBlock {
    pub(crate) tenants: HashMap<TenantId, TenantHead>,
    pub(crate) samples: usize,
}

/// One series held in memory.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub(crate) labels: Labels,
    /// Sorted by time, timestamps unique.
    pub(crate) samples: Vec<MetricSample>,
}

/// One tenant's series in a block.
#[derive(Debug, Default)]
pub(crate) struct TenantHead {
    refs: HashMap<Labels, u32>,
    pub(crate) series: Vec<MemSeries>,
    /// label name → label value → series refs, ascending.
    postings: HashMap<String, HashMap<String, Vec<u32>>>,
    series_per_metric: HashMap<String, usize>,
    /// Every ref in the order of its series' labels, once a selection asked for it.
    label_order: OnceLock<Vec<u32>>,
}

impl WalHead for MetricHeads {
    type Entry = MetricEntry;
    type Frozen = HeadBlock;

    fn apply(&self, entries: Vec<MetricEntry>) {
        let mut added = 0;
        {
            let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
            for entry in &entries {
                let head = active.tenants.entry(entry.tenant.clone()).or_default();
                for series in &entry.batch.series {
                    if series.samples.is_empty() {
                        continue;
                    }
                    let series_ref = head.series_ref(&series.labels);
                    added += head.add_samples(series_ref, &series.samples);
                }
            }
            active.samples += added;
        }
        self.active_samples.fetch_add(added, Ordering::Relaxed);
        self.unflushed_samples.fetch_add(added, Ordering::Relaxed);
        for entry in entries {
            self.keep_exemplars_and_metadata(entry);
        }
    }

    fn freeze(&self) -> Arc<HeadBlock> {
        let block = {
            let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
            Arc::new(std::mem::take(&mut *active))
        };
        self.active_samples.store(0, Ordering::Relaxed);
        self.frozen
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(block.clone());
        block
    }
}

impl MetricHeads {
    /// Creates empty heads.
    pub(crate) fn new() -> Self {
        Self {
            active: RwLock::new(HeadBlock::default()),
            frozen: RwLock::new(Vec::new()),
            exemplars: RwLock::new(HashMap::new()),
            metadata: RwLock::new(HashMap::new()),
            active_samples: AtomicUsize::new(0),
            unflushed_samples: AtomicUsize::new(0),
        }
    }

    /// Samples in the active block.
    pub(crate) fn active_samples(&self) -> usize {
        self.active_samples.load(Ordering::Relaxed)
    }

    /// Samples not yet written to parts.
    pub(crate) fn unflushed_samples(&self) -> usize {
        self.unflushed_samples.load(Ordering::Relaxed)
    }

    /// Drops a frozen block once its parts are written.
    pub(crate) fn release(&self, block: &Arc<HeadBlock>) {
        let mut frozen = self.frozen.write().unwrap_or_else(|p| p.into_inner());
        frozen.retain(|held| !Arc::ptr_eq(held, block));
        self.unflushed_samples
            .fetch_sub(block.samples, Ordering::Relaxed);
    }

    /// Removes from `batch` the series that would take a metric of `tenant` over `limit`
    /// series in the active block (0: no limit), returning why the first was refused and
    /// how many samples were refused. Concurrent appends may overshoot the limit slightly.
    pub(crate) fn enforce_series_limit(
        &self,
        tenant: &TenantId,
        batch: &mut MetricBatch,
        limit: usize,
    ) -> (usize, Option<String>) {
        if limit == 0 {
            return (0, None);
        }
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        let head = active.tenants.get(tenant);
        let mut new_series: HashMap<String, usize> = HashMap::new();
        let mut refused_samples = 0;
        let mut first = None;
        batch.series.retain(|series| {
            if head.is_some_and(|head| head.refs.contains_key(&series.labels)) {
                return true;
            }
            let metric = series.labels.metric_name().unwrap_or_default();
            let existing = head
                .and_then(|head| head.series_per_metric.get(metric))
                .copied()
                .unwrap_or(0);
            let added = new_series.entry(metric.to_string()).or_default();
            if existing + *added < limit {
                *added += 1;
                return true;
            }
            refused_samples += series.samples.len();
            metrics::counter!("sightline_metric_series_rejected_total", "reason" => "series_limit")
                .increment(1);
            if first.is_none() {
                first = Some(format!(
                    "series limit of {limit} per metric reached for metric \"{metric}\"; new series {} refused",
                    series.labels
                ));
            }
            false
        });
        (refused_samples, first)
    }

    fn keep_exemplars_and_metadata(&self, entry: MetricEntry) {
        if !entry.batch.metadata.is_empty() {
            let mut metadata = self.metadata.write().unwrap_or_else(|p| p.into_inner());
            let families = metadata.entry(entry.tenant.clone()).or_default();
            for family in entry.batch.metadata {
                families.insert(family.metric_family.clone(), family);
            }
        }
        let mut exemplars = None;
        for series in entry.batch.series {
            if series.exemplars.is_empty() {
                continue;
            }
            let ring = exemplars
                .get_or_insert_with(|| self.exemplars.write().unwrap_or_else(|p| p.into_inner()));
            let ring = ring.entry(entry.tenant.clone()).or_default();
            for exemplar in series.exemplars {
                if ring.len() >= EXEMPLARS_PER_TENANT {
                    ring.pop_front();
                }
                ring.push_back((series.labels.clone(), exemplar));
            }
        }
    }

    /// Runs `visit` on the tenant's series in every block, active first.
    fn for_each_block(&self, tenant: &TenantId, mut visit: impl FnMut(&TenantHead)) {
        let frozen: Vec<Arc<HeadBlock>> = self
            .frozen
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        {
            let active = self.active.read().unwrap_or_else(|p| p.into_inner());
            if let Some(head) = active.tenants.get(tenant) {
                visit(head);
            }
        }
        for block in frozen {
            if let Some(head) = block.tenants.get(tenant) {
                visit(head);
            }
        }
    }

    /// Each matching series with its samples in `start_ms..=end_ms` (those of every block
    /// that holds it, active block first), in label order.
    pub(crate) fn select(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<(Labels, Vec<MetricSample>)> {
        let mut selected = Vec::new();
        self.for_each_block(tenant, |head| {
            let block: Vec<(Labels, Vec<MetricSample>)> = head
                .in_label_order(head.matching(matchers))
                .into_iter()
                .filter_map(|series_ref| {
                    let series = &head.series[series_ref as usize];
                    let window = samples_in(&series.samples, start_ms, end_ms);
                    (!window.is_empty()).then(|| (series.labels.clone(), window.to_vec()))
                })
                .collect();
            selected = if selected.is_empty() {
                block
            } else {
                merge_by_labels(std::mem::take(&mut selected), block)
            };
        });
        selected
    }

    /// Adds the labels of series that match any matcher set (every series when there is
    /// none) and have samples in the range.
    pub(crate) fn series(
        &self,
        tenant: &TenantId,
        matcher_sets: &[Vec<Matcher>],
        start_ms: i64,
        end_ms: i64,
        out: &mut BTreeSet<Labels>,
    ) {
        self.for_each_block(tenant, |head| {
            let mut add = |series_ref: u32| {
                let series = &head.series[series_ref as usize];
                if !samples_in(&series.samples, start_ms, end_ms).is_empty() {
                    out.insert(series.labels.clone());
                }
            };
            if matcher_sets.is_empty() {
                (0..head.series.len() as u32).for_each(&mut add);
            }
            for matchers in matcher_sets {
                head.matching(matchers).into_iter().for_each(&mut add);
            }
        });
    }

    /// Returns metadata by family name, all or one, at most `limit` families.
    pub(crate) fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: usize,
    ) -> Vec<MetricMetadata> {
        let metadata = self.metadata.read().unwrap_or_else(|p| p.into_inner());
        let Some(families) = metadata.get(tenant) else {
            return Vec::new();
        };
        families
            .values()
            .filter(|family| metric.is_none_or(|name| family.metric_family == name))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Adds the metadata of `families` (from parts) that the heads do not know yet.
    pub(crate) fn remember_metadata(&self, tenant: &TenantId, families: Vec<MetricMetadata>) {
        let mut metadata = self.metadata.write().unwrap_or_else(|p| p.into_inner());
        let known = metadata.entry(tenant.clone()).or_default();
        for family in families {
            known.entry(family.metric_family.clone()).or_insert(family);
        }
    }

    /// Returns the metadata of every family of `tenant` known in memory.
    pub(crate) fn all_metadata(&self, tenant: &TenantId) -> Vec<MetricMetadata> {
        self.metadata(tenant, None, usize::MAX)
    }

    /// Returns the exemplars in the range of every matching series, grouped by series.
    pub(crate) fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<(Labels, Vec<Exemplar>)> {
        let exemplars = self.exemplars.read().unwrap_or_else(|p| p.into_inner());
        let Some(ring) = exemplars.get(tenant) else {
            return Vec::new();
        };
        let mut found: BTreeMap<&Labels, Vec<Exemplar>> = BTreeMap::new();
        for (labels, exemplar) in ring {
            if (start_ms..=end_ms).contains(&exemplar.timestamp_ms)
                && labels_match(labels, matchers)
            {
                found.entry(labels).or_default().push(exemplar.clone());
            }
        }
        found
            .into_iter()
            .map(|(labels, mut exemplars)| {
                exemplars.sort_by_key(|e| e.timestamp_ms);
                (labels.clone(), exemplars)
            })
            .collect()
    }
}

impl TenantHead {
    /// Returns the ref of `labels`, creating the series if new.
    fn series_ref(&mut self, labels: &Labels) -> u32 {
        if let Some(series_ref) = self.refs.get(labels) {
            return *series_ref;
        }
        let series_ref = self.series.len() as u32;
        for (name, value) in labels.iter() {
            self.postings
                .entry(name.to_string())
                .or_default()
                .entry(value.to_string())
                .or_default()
                .push(series_ref);
        }
        let metric = labels.metric_name().unwrap_or_default().to_string();
        *self.series_per_metric.entry(metric).or_default() += 1;
        self.refs.insert(labels.clone(), series_ref);
        self.label_order = OnceLock::new();
        self.series.push(MemSeries {
            labels: labels.clone(),
            samples: Vec::new(),
        });
        series_ref
    }

    /// Adds samples in any order; a sample at a held timestamp replaces the value. Returns
    /// how many samples were new.
    fn add_samples(&mut self, series_ref: u32, samples: &[MetricSample]) -> usize {
        let series = &mut self.series[series_ref as usize];
        let mut added = 0;
        for sample in samples {
            match series.samples.last() {
                Some(last) if last.timestamp_ms >= sample.timestamp_ms => {
                    let at = series
                        .samples
                        .partition_point(|s| s.timestamp_ms < sample.timestamp_ms);
                    match series.samples.get_mut(at) {
                        Some(held) if held.timestamp_ms == sample.timestamp_ms => {
                            held.value = sample.value;
                        }
                        _ => {
                            series.samples.insert(at, *sample);
                            added += 1;
                        }
                    }
                }
                _ => {
                    series.samples.push(*sample);
                    added += 1;
                }
            }
        }
        added
    }

    /// `refs` (ascending) in the order of their series' labels: a few are sorted, many are
    /// picked from the block's label order, sorted once (until a series is added).
    fn in_label_order(&self, mut refs: Vec<u32>) -> Vec<u32> {
        let by_labels = |a: &u32, b: &u32| {
            self.series[*a as usize]
                .labels
                .cmp(&self.series[*b as usize].labels)
        };
        if refs.len().saturating_mul(16) < self.series.len() {
            refs.sort_unstable_by(by_labels);
            return refs;
        }
        let order = self.label_order.get_or_init(|| {
            let mut order: Vec<u32> = (0..self.series.len() as u32).collect();
            order.sort_unstable_by(by_labels);
            order
        });
        let mut wanted = vec![false; self.series.len()];
        for &series_ref in &refs {
            wanted[series_ref as usize] = true;
        }
        order
            .iter()
            .copied()
            .filter(|&series_ref| wanted[series_ref as usize])
            .collect()
    }

    /// Returns the refs of the series matching every matcher, ascending.
    pub(crate) fn matching(&self, matchers: &[Matcher]) -> Vec<u32> {
        // Intersect the postings of matchers that cannot match an absent label; the others
        // are checked on each candidate.
        let mut candidates: Option<Vec<u32>> = None;
        for matcher in matchers {
            if matcher.is_match("") {
                continue;
            }
            let refs = self.postings_for(matcher);
            candidates = Some(match candidates {
                None => refs,
                Some(current) => intersect(&current, &refs),
            });
            if candidates.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        let candidates = candidates.unwrap_or_else(|| (0..self.series.len() as u32).collect());
        candidates
            .into_iter()
            .filter(|series_ref| labels_match(&self.series[*series_ref as usize].labels, matchers))
            .collect()
    }

    /// Returns the refs of series whose label `matcher.name` has a value the matcher accepts.
    fn postings_for(&self, matcher: &Matcher) -> Vec<u32> {
        let Some(values) = self.postings.get(&matcher.name) else {
            return Vec::new();
        };
        if matcher.op == MatchOp::Equal {
            return values.get(&matcher.value).cloned().unwrap_or_default();
        }
        let mut refs: Vec<u32> = values
            .iter()
            .filter(|(value, _)| matcher.is_match(value))
            .flat_map(|(_, refs)| refs.iter().copied())
            .collect();
        refs.sort_unstable();
        refs
    }
}

/// The samples of a sorted slice within `start_ms..=end_ms`.
pub(crate) fn samples_in(samples: &[MetricSample], start_ms: i64, end_ms: i64) -> &[MetricSample] {
    // Most series of a query over recent data lie wholly inside it: two loads, where the
    // binary searches would wait on a cache miss at each step.
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        if first.timestamp_ms >= start_ms && last.timestamp_ms <= end_ms {
            return samples;
        }
    }
    let from = samples.partition_point(|s| s.timestamp_ms < start_ms);
    let to = samples.partition_point(|s| s.timestamp_ms <= end_ms);
    &samples[from..to.max(from)]
}

/// Merges two lists of series in label order, labels unique, into one: a series in both
/// gets the samples of `first`, then those of `second`.
fn merge_by_labels(
    first: Vec<(Labels, Vec<MetricSample>)>,
    second: Vec<(Labels, Vec<MetricSample>)>,
) -> Vec<(Labels, Vec<MetricSample>)> {
    let mut merged = Vec::with_capacity(first.len().max(second.len()));
    let mut first = first.into_iter().peekable();
    let mut second = second.into_iter().peekable();
    loop {
        let order = match (first.peek(), second.peek()) {
            (Some((a, _)), Some((b, _))) => a.cmp(b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return merged,
        };
        match order {
            std::cmp::Ordering::Less => merged.extend(first.next()),
            std::cmp::Ordering::Greater => merged.extend(second.next()),
            std::cmp::Ordering::Equal => {
                if let (Some((labels, mut samples)), Some((_, more))) =
                    (first.next(), second.next())
                {
                    samples.extend(more);
                    merged.push((labels, samples));
                }
            }
        }
    }
}

/// Intersects two ascending lists.
fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use sightline_model::SeriesSamples;

    use super::*;

    /// `pods`' `up` series, with a sample at each of `times` (value = time).
    fn entry(pods: &[&str], times: std::ops::Range<i64>) -> MetricEntry {
        let series = pods
            .iter()
            .map(|pod| SeriesSamples {
                labels: Labels::new([("__name__", "up"), ("pod", *pod)]),
                samples: times
                    .clone()
                    .map(|t| MetricSample {
                        timestamp_ms: t,
                        value: t as f64,
                    })
                    .collect(),
                ..SeriesSamples::default()
            })
            .collect();
        MetricEntry {
            tenant: TenantId::default_tenant(),
            batch: MetricBatch {
                series,
                ..MetricBatch::default()
            },
        }
    }

    fn selected(heads: &MetricHeads, matchers: &[Matcher]) -> Vec<(String, Vec<i64>)> {
        heads
            .select(&TenantId::default_tenant(), matchers, 0, 100)
            .into_iter()
            .map(|(labels, samples)| {
                let pod = labels.get("pod").unwrap_or_default().to_string();
                (pod, samples.iter().map(|s| s.timestamp_ms).collect())
            })
            .collect()
    }

    #[test]
    fn selections_come_in_label_order_with_every_block_s_samples() {
        let heads = MetricHeads::new();
        heads.apply(vec![entry(&["c", "a", "d"], 0..3)]);
        heads.freeze();
        // The active block adds series before, between and after the frozen block's.
        heads.apply(vec![entry(&["e", "b", "a", "0"], 3..5)]);
        let up = Matcher::new(MatchOp::Equal, "__name__", "up");
        let all = selected(&heads, std::slice::from_ref(&up));
        let pods: Vec<&str> = all.iter().map(|(pod, _)| pod.as_str()).collect();
        assert_eq!(pods, ["0", "a", "b", "c", "d", "e"]);
        // Active block first: a series in both blocks needs sorting by its reader.
        assert_eq!(all[1].1, [3, 4, 0, 1, 2]);
        assert_eq!(all[3].1, [0, 1, 2]);
        // A series added to a block after a selection sorted it is sorted in.
        heads.apply(vec![entry(&["ab"], 5..6)]);
        let pods: Vec<String> = selected(&heads, std::slice::from_ref(&up))
            .into_iter()
            .map(|(pod, _)| pod)
            .collect();
        assert_eq!(pods, ["0", "a", "ab", "b", "c", "d", "e"]);
        // A few series of many (4 of 85) are sorted without the block's order.
        let many: Vec<String> = (0..80).rev().map(|pod| format!("p{pod:02}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        heads.apply(vec![entry(&many, 6..7)]);
        let few = Matcher::new_matcher(
            promql_parser::parser::token::T_EQL_REGEX,
            "pod".into(),
            "p3[0-2]|p07".into(),
        )
        .unwrap();
        let pods: Vec<String> = selected(&heads, &[up, few])
            .into_iter()
            .map(|(pod, _)| pod)
            .collect();
        assert_eq!(pods, ["p07", "p30", "p31", "p32"]);
    }
}
