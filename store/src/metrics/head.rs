//! Recent metric samples in memory, per tenant: a series index (labels → series ref), an
//! inverted index (label name → value → refs, refs ascending) for matchers, and each series'
//! samples sorted by time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use promql_parser::label::{MatchOp, Matcher};
use sightline_model::{Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, TenantId};

use super::{labels_match, AppendOutcome};

/// Exemplars kept per series (the newest); Prometheus keeps a bounded ring too.
pub const EXEMPLARS_PER_SERIES: usize = 16;

/// The heads of every tenant.
pub(crate) struct MetricHeads {
    tenants: RwLock<HashMap<TenantId, Arc<RwLock<TenantHead>>>>,
    series_limit_per_metric: usize,
}

/// One series held in memory.
#[derive(Debug)]
struct MemSeries {
    labels: Labels,
    /// `(timestamp ms, value)` sorted by time, timestamps unique.
    samples: Vec<MetricSample>,
    /// The newest exemplars, oldest first.
    exemplars: Vec<Exemplar>,
}

/// One tenant's head.
#[derive(Debug, Default)]
struct TenantHead {
    refs: HashMap<Labels, u32>,
    series: Vec<MemSeries>,
    /// label name → label value → series refs, ascending.
    postings: HashMap<String, HashMap<String, Vec<u32>>>,
    series_per_metric: HashMap<String, usize>,
    metadata: BTreeMap<String, MetricMetadata>,
    sample_count: usize,
}

impl MetricHeads {
    /// Creates empty heads that admit at most `series_limit_per_metric` series per metric
    /// name and tenant (0 means no limit).
    pub(crate) fn new(series_limit_per_metric: usize) -> Self {
        Self {
            tenants: RwLock::new(HashMap::new()),
            series_limit_per_metric,
        }
    }

    fn tenant(&self, tenant: &TenantId) -> Option<Arc<RwLock<TenantHead>>> {
        self.tenants
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(tenant)
            .cloned()
    }

    fn tenant_or_create(&self, tenant: &TenantId) -> Arc<RwLock<TenantHead>> {
        if let Some(head) = self.tenant(tenant) {
            return head;
        }
        self.tenants
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .entry(tenant.clone())
            .or_default()
            .clone()
    }

    /// Adds a batch's samples, exemplars and metadata; refuses series over the limit.
    pub(crate) fn append(&self, tenant: &TenantId, batch: MetricBatch) -> AppendOutcome {
        let head = self.tenant_or_create(tenant);
        let mut head = head.write().unwrap_or_else(|poison| poison.into_inner());
        let mut outcome = AppendOutcome::default();
        for metadata in batch.metadata {
            head.metadata
                .insert(metadata.metric_family.clone(), metadata);
        }
        for series in batch.series {
            let samples = series.samples.len();
            match head.series_ref(series.labels, self.series_limit_per_metric) {
                Ok(series_ref) => {
                    head.add_samples(series_ref, &series.samples);
                    head.add_exemplars(series_ref, series.exemplars);
                    outcome.accepted_samples += samples;
                }
                Err(reason) => {
                    outcome.rejected_samples += samples;
                    metrics::counter!("sightline_metric_series_rejected_total", "reason" => "series_limit")
                        .increment(1);
                    if outcome.first_rejection.is_none() {
                        outcome.first_rejection = Some(reason);
                    }
                }
            }
        }
        outcome
    }

    /// Adds each matching series' samples in `start_ms..=end_ms` to `out`.
    pub(crate) fn select(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        out: &mut BTreeMap<Labels, Vec<MetricSample>>,
    ) {
        let Some(head) = self.tenant(tenant) else {
            return;
        };
        let head = head.read().unwrap_or_else(|poison| poison.into_inner());
        for series_ref in head.matching(matchers) {
            let series = &head.series[series_ref as usize];
            let window = samples_in(&series.samples, start_ms, end_ms);
            if window.is_empty() {
                continue;
            }
            out.entry(series.labels.clone())
                .or_default()
                .extend_from_slice(window);
        }
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
        let Some(head) = self.tenant(tenant) else {
            return;
        };
        let head = head.read().unwrap_or_else(|poison| poison.into_inner());
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
    }

    /// Returns metadata by family name, all or one, at most `limit` families.
    pub(crate) fn metadata(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        limit: usize,
    ) -> Vec<MetricMetadata> {
        let Some(head) = self.tenant(tenant) else {
            return Vec::new();
        };
        let head = head.read().unwrap_or_else(|poison| poison.into_inner());
        head.metadata
            .values()
            .filter(|metadata| metric.is_none_or(|name| metadata.metric_family == name))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Returns the exemplars in the range of every matching series.
    pub(crate) fn exemplars(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<(Labels, Vec<Exemplar>)> {
        let Some(head) = self.tenant(tenant) else {
            return Vec::new();
        };
        let head = head.read().unwrap_or_else(|poison| poison.into_inner());
        let mut found = Vec::new();
        for series_ref in head.matching(matchers) {
            let series = &head.series[series_ref as usize];
            let exemplars: Vec<Exemplar> = series
                .exemplars
                .iter()
                .filter(|e| (start_ms..=end_ms).contains(&e.timestamp_ms))
                .cloned()
                .collect();
            if !exemplars.is_empty() {
                found.push((series.labels.clone(), exemplars));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }
}

impl TenantHead {
    /// Returns the ref of `labels`, creating the series unless its metric is at `limit`.
    fn series_ref(&mut self, labels: Labels, limit: usize) -> Result<u32, String> {
        if let Some(series_ref) = self.refs.get(&labels) {
            return Ok(*series_ref);
        }
        let metric = labels.metric_name().unwrap_or_default().to_string();
        let count = self.series_per_metric.get(&metric).copied().unwrap_or(0);
        if limit > 0 && count >= limit {
            return Err(format!(
                "series limit of {limit} per metric reached for metric \"{metric}\"; new series {labels} refused"
            ));
        }
        let series_ref = u32::try_from(self.series.len())
            .map_err(|_| "too many series in memory".to_string())?;
        for (name, value) in labels.iter() {
            self.postings
                .entry(name.to_string())
                .or_default()
                .entry(value.to_string())
                .or_default()
                .push(series_ref);
        }
        *self.series_per_metric.entry(metric).or_default() += 1;
        self.refs.insert(labels.clone(), series_ref);
        self.series.push(MemSeries {
            labels,
            samples: Vec::new(),
            exemplars: Vec::new(),
        });
        Ok(series_ref)
    }

    fn add_samples(&mut self, series_ref: u32, samples: &[MetricSample]) {
        let series = &mut self.series[series_ref as usize];
        for sample in samples {
            match series.samples.last() {
                Some(last) if last.timestamp_ms < sample.timestamp_ms => {
                    series.samples.push(*sample);
                    self.sample_count += 1;
                }
                None => {
                    series.samples.push(*sample);
                    self.sample_count += 1;
                }
                Some(_) => {
                    let at = series
                        .samples
                        .partition_point(|s| s.timestamp_ms < sample.timestamp_ms);
                    match series.samples.get_mut(at) {
                        Some(existing) if existing.timestamp_ms == sample.timestamp_ms => {
                            existing.value = sample.value;
                        }
                        _ => {
                            series.samples.insert(at, *sample);
                            self.sample_count += 1;
                        }
                    }
                }
            }
        }
    }

    fn add_exemplars(&mut self, series_ref: u32, exemplars: Vec<Exemplar>) {
        if exemplars.is_empty() {
            return;
        }
        let series = &mut self.series[series_ref as usize];
        series.exemplars.extend(exemplars);
        series.exemplars.sort_by_key(|e| e.timestamp_ms);
        series
            .exemplars
            .dedup_by(|a, b| a.timestamp_ms == b.timestamp_ms && a.labels == b.labels);
        let excess = series.exemplars.len().saturating_sub(EXEMPLARS_PER_SERIES);
        series.exemplars.drain(..excess);
    }

    /// Returns the refs of the series matching every matcher, ascending.
    fn matching(&self, matchers: &[Matcher]) -> Vec<u32> {
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
fn samples_in(samples: &[MetricSample], start_ms: i64, end_ms: i64) -> &[MetricSample] {
    let from = samples.partition_point(|s| s.timestamp_ms < start_ms);
    let to = samples.partition_point(|s| s.timestamp_ms <= end_ms);
    &samples[from..to.max(from)]
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
