//! Compaction of metric parts: size-tiered merges within a tenant's day, so a day ends up in
//! a few large parts (fewer objects to open per query, better compression) without
//! rewriting a large part every time a small one arrives.
//!
//! Tier of a part: 0 below [`TIER_BASE_SAMPLES`], then one more per factor of
//! [`TIER_FACTOR`]. When a tier of a day holds `min_parts` parts, they are merged (up to
//! [`MAX_COMPACTED_SAMPLES`]): series unioned by labels, samples sorted with repeated
//! timestamps dropped. The merged part is added to the catalog before the old ones leave it,
//! so a query always sees every sample (at worst twice, which reads deduplicate).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use object_store::ObjectStore;
use sightline_model::{MetricMetadata, TenantId};

use super::catalog::{MetricCatalog, MetricPart};
use super::{delete_part, quarantine_part, read, write_part};
use crate::error::Error;
use crate::part::quarantine;

/// Parts below this many samples are tier 0.
pub const TIER_BASE_SAMPLES: u64 = 1_000_000;
/// Each tier holds parts this many times larger than the one below.
pub const TIER_FACTOR: u64 = 4;
/// A merge stops adding parts at this many samples (they are merged in memory, about 16
/// bytes per sample).
pub const MAX_COMPACTED_SAMPLES: u64 = 64_000_000;

fn tier(samples: u64) -> u32 {
    let mut tier = 0;
    let mut bound = TIER_BASE_SAMPLES;
    while samples >= bound {
        tier += 1;
        bound = bound.saturating_mul(TIER_FACTOR);
    }
    tier
}

/// Merges the parts of every tier that holds at least `min_parts` parts of a tenant's day.
///
/// A corrupt input is quarantined (see [`crate::part::quarantine`]) and its group merged on the
/// next pass without it.
///
/// # Errors
/// Object store, Parquet or encoding failures; the inputs then stay as they were.
pub(crate) async fn compact_partitions(
    objects: &Arc<dyn ObjectStore>,
    catalog: &MetricCatalog,
    min_parts: usize,
) -> Result<(), Error> {
    let min_parts = min_parts.max(2);
    let mut groups: HashMap<(TenantId, String, u32), Vec<Arc<MetricPart>>> = HashMap::new();
    for part in catalog.all() {
        groups
            .entry((part.tenant.clone(), part.day.clone(), tier(part.samples)))
            .or_default()
            .push(part);
    }
    for ((tenant, day, tier), mut parts) in groups {
        if parts.len() < min_parts {
            continue;
        }
        parts.sort_by_key(|part| part.samples);
        let mut chosen = Vec::new();
        let mut samples = 0;
        for part in parts {
            if !chosen.is_empty() && samples + part.samples > MAX_COMPACTED_SAMPLES {
                break;
            }
            samples += part.samples;
            chosen.push(part);
        }
        if chosen.len() < 2 {
            continue;
        }
        merge(objects, catalog, &tenant, &day, tier, chosen).await?;
    }
    Ok(())
}

async fn merge(
    objects: &Arc<dyn ObjectStore>,
    catalog: &MetricCatalog,
    tenant: &TenantId,
    day: &str,
    tier: u32,
    parts: Vec<Arc<MetricPart>>,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    metrics::gauge!("sightline_compactions_running").increment(1.0);
    let mut merged = BTreeMap::new();
    let mut metadata: BTreeMap<String, MetricMetadata> = BTreeMap::new();
    let mut result = Ok(());
    for part in &parts {
        let read = async {
            let table = part.series_table().await?;
            let all: Vec<u32> = (0..table.labels.len() as u32).collect();
            read::read_series(
                objects,
                part,
                &table,
                &all,
                i64::MIN..=i64::MAX,
                &mut merged,
            )
            .await
        };
        if let Err(error) = read.await {
            if quarantine::is_corruption(&error) {
                // The other inputs are merged on the next pass, without it.
                quarantine_part(objects, catalog, part, &error).await;
                metrics::gauge!("sightline_compactions_running").decrement(1.0);
                return Ok(());
            }
            result = Err(error);
            break;
        }
        for family in &part.metric_metadata {
            metadata
                .entry(family.metric_family.clone())
                .or_insert_with(|| family.clone());
        }
    }
    let written = match result {
        Ok(()) => {
            read::normalise(&mut merged);
            write_part(
                objects,
                tenant,
                day,
                merged.into_iter().collect(),
                metadata.into_values().collect(),
            )
            .await
        }
        Err(error) => Err(error),
    };
    metrics::gauge!("sightline_compactions_running").decrement(1.0);
    let part = written?;
    let input_bytes: u64 = parts.iter().map(|part| part.size_bytes).sum();
    tracing::info!(
        %tenant,
        day,
        tier,
        inputs = parts.len(),
        samples = part.samples,
        input_bytes,
        output_bytes = part.size_bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "compacted metric parts"
    );
    metrics::counter!("sightline_metric_compactions_total").increment(1);
    catalog.add(part);
    let old: Vec<_> = parts.iter().map(|part| part.series_path.clone()).collect();
    catalog.remove(tenant, &old);
    for part in &parts {
        delete_part(objects, part).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tier;

    #[test]
    fn tiers_grow_by_the_factor() {
        assert_eq!(tier(0), 0);
        assert_eq!(tier(999_999), 0);
        assert_eq!(tier(1_000_000), 1);
        assert_eq!(tier(3_999_999), 1);
        assert_eq!(tier(4_000_000), 2);
    }
}
