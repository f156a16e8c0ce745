//! Compaction: merges the parts of a day partition into one once there are enough of them, so
//! lookups open fewer files and a part's time slices (row groups) do not overlap.
//!
//! A corrupt input found by a merge is quarantined, and its partition merged without it on the
//! next pass; the other partitions go on.
//!
//! The merge streams (`compact/merge.rs`): it reads the inputs' row groups in time order and
//! writes one time slice at a time. Memory stays at a few row groups plus the encoded output,
//! whatever the partition's size.

pub(crate) mod merge;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::Error;
use crate::part::{quarantine, reader, PartCatalog, PartInfo};

/// Largest part compaction produces, in rows; bigger partitions keep several parts.
pub const MAX_COMPACTED_ROWS: u64 = 4_000_000;
/// Parts below this many rows form the lowest size tier.
const TIER_BASE_ROWS: u64 = 100_000;
/// Each size tier holds parts up to this factor larger than the one below.
const TIER_FACTOR: u64 = 4;

/// Size tier of a part: parts within a factor of [`TIER_FACTOR`] in rows share a tier.
fn tier(rows: u64) -> u32 {
    let mut tier = 0;
    let mut bound = TIER_BASE_ROWS;
    while rows >= bound && bound < u64::MAX / TIER_FACTOR {
        bound *= TIER_FACTOR;
        tier += 1;
    }
    tier
}

/// Picks the groups to merge in one partition, size-tiered as in an LSM tree: parts of the same
/// tier merge once `min_parts` of them exist, so each row is rewritten about once per tier
/// rather than every time a small part arrives. Groups stop at [`MAX_COMPACTED_ROWS`].
fn mergeable_groups(parts: Vec<Arc<PartInfo>>, min_parts: usize) -> Vec<Vec<Arc<PartInfo>>> {
    let mut by_tier: BTreeMap<u32, Vec<Arc<PartInfo>>> = BTreeMap::new();
    for part in parts
        .into_iter()
        .filter(|part| part.rows < MAX_COMPACTED_ROWS / 2)
    {
        by_tier.entry(tier(part.rows)).or_default().push(part);
    }
    let mut groups = Vec::new();
    for (_, mut tier_parts) in by_tier {
        tier_parts.sort_by_key(|part| part.rows);
        let mut group = Vec::new();
        let mut group_rows = 0;
        for part in tier_parts {
            if group_rows + part.rows > MAX_COMPACTED_ROWS {
                break;
            }
            group_rows += part.rows;
            group.push(part);
        }
        if group.len() >= min_parts {
            groups.push(group);
        }
    }
    groups
}

/// Merges the parts of each (tenant, day) partition, size tier by size tier.
///
/// # Errors
/// Object store, Parquet or encoding failures; the old parts stay until their replacement is
/// written, so a failure loses nothing.
pub async fn compact_partitions(
    objects: &Arc<dyn ObjectStore>,
    catalog: &PartCatalog,
    min_parts: usize,
) -> Result<(), Error> {
    let mut partitions: BTreeMap<(String, String), Vec<Arc<PartInfo>>> = BTreeMap::new();
    for part in catalog.all() {
        partitions
            .entry((part.tenant.to_string(), part.day.clone()))
            .or_default()
            .push(part);
    }
    for ((_, day), parts) in partitions {
        for group in mergeable_groups(parts, min_parts.max(2)) {
            match merge_parts(objects, catalog, &day, group.clone()).await {
                Err(error) if quarantine::is_corruption(&error) => {
                    quarantine_corrupt_inputs(objects, catalog, &group).await?;
                }
                other => other?,
            }
        }
    }
    Ok(())
}

/// After a merge met a corrupt page: reads each input whole and quarantines those that fail
/// (see [`crate::part::quarantine`]); the others are merged on the next pass.
///
/// # Errors
/// A read failure that is not corruption (the object store failing).
async fn quarantine_corrupt_inputs(
    objects: &Arc<dyn ObjectStore>,
    catalog: &PartCatalog,
    parts: &[Arc<PartInfo>],
) -> Result<(), Error> {
    for part in parts {
        let read = async {
            let mut batches = reader::stream_part(objects, part)?;
            while let Some(batch) = batches.next().await {
                batch.map_err(|source| Error::parquet(part.path.to_string(), source))?;
            }
            Ok::<(), Error>(())
        };
        match read.await {
            Err(error) if quarantine::is_corruption(&error) => {
                catalog.remove(&part.tenant, std::slice::from_ref(&part.path));
                quarantine::quarantine(objects, &part.path, "traces", &error).await;
            }
            other => other?,
        }
    }
    Ok(())
}

async fn merge_parts(
    objects: &Arc<dyn ObjectStore>,
    catalog: &PartCatalog,
    day: &str,
    parts: Vec<Arc<PartInfo>>,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let tenant = parts[0].tenant.clone();
    metrics::gauge!("sightline_compactions_running").increment(1.0);
    let merged = merge_and_swap(objects, catalog, day, &parts).await;
    metrics::gauge!("sightline_compactions_running").decrement(1.0);
    let (row_count, input_bytes, output_bytes, paths) = merged?;
    metrics::counter!("sightline_compactions_total").increment(1);
    tracing::info!(%tenant, day, parts = paths, rows = row_count, input_bytes, output_bytes, elapsed_ms = started.elapsed().as_millis() as u64, "compacted parts");
    Ok(())
}

/// Writes the merged part, swaps it into the catalog and deletes the inputs. Returns rows,
/// input bytes, output bytes and the number of parts merged.
async fn merge_and_swap(
    objects: &Arc<dyn ObjectStore>,
    catalog: &PartCatalog,
    day: &str,
    parts: &[Arc<PartInfo>],
) -> Result<(u64, u64, u64, usize), Error> {
    let tenant = parts[0].tenant.clone();
    let input_bytes: u64 = parts.iter().map(|part| part.size_bytes).sum();
    let merged =
        merge::merge_into_time_slices(objects, &tenant, day, parts, merge::MAX_BUFFERED_ROWS)
            .await?;
    let (row_count, output_bytes) = (merged.rows, merged.size_bytes);
    catalog.add(merged);
    let paths: Vec<_> = parts.iter().map(|part| part.path.clone()).collect();
    catalog.remove(&tenant, &paths);
    for path in &paths {
        if let Err(source) = objects.delete(path).await {
            tracing::warn!(error = %source, part = %path, "could not delete compacted part");
        }
    }
    Ok((row_count, input_bytes, output_bytes, paths.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_grow_by_the_factor() {
        assert_eq!(tier(0), 0);
        assert_eq!(tier(99_999), 0);
        assert_eq!(tier(100_000), 1);
        assert_eq!(tier(399_999), 1);
        assert_eq!(tier(400_000), 2);
    }
}
