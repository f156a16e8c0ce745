//! Compaction: merges the parts of a day partition into one once there are enough of them, so
//! lookups open fewer files and the trace-id sort spans the whole partition.
//!
//! The merge streams: each input part is already sorted by trace id and start, so a k-way
//! merge reads one batch per input at a time and writes one row group at a time. Memory stays
//! at a few batches plus the encoded output, whatever the partition's size.

mod merge;

use std::collections::BTreeMap;
use std::sync::Arc;

use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::Error;
use crate::part::{PartCatalog, PartInfo};

/// Largest part compaction produces, in rows; bigger partitions keep several parts.
pub const MAX_COMPACTED_ROWS: u64 = 4_000_000;

/// Merges small parts of each (tenant, day) partition holding at least `min_parts` of them.
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
    for ((_, day), mut parts) in partitions {
        parts.retain(|part| part.rows < MAX_COMPACTED_ROWS / 2);
        parts.sort_by_key(|part| part.rows);
        let mut group = Vec::new();
        let mut group_rows = 0;
        for part in parts {
            if group_rows + part.rows > MAX_COMPACTED_ROWS {
                break;
            }
            group_rows += part.rows;
            group.push(part);
        }
        if group.len() >= min_parts.max(2) {
            merge_parts(objects, catalog, &day, group).await?;
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
    let input_bytes: u64 = parts.iter().map(|part| part.size_bytes).sum();
    let merged = merge::merge_sorted_parts(objects, &tenant, day, &parts).await?;
    let (row_count, output_bytes) = (merged.rows, merged.size_bytes);
    catalog.add(merged);
    let paths: Vec<_> = parts.iter().map(|part| part.path.clone()).collect();
    catalog.remove(&tenant, &paths);
    for path in &paths {
        if let Err(source) = objects.delete(path).await {
            tracing::warn!(error = %source, part = %path, "could not delete compacted part");
        }
    }
    metrics::counter!("sightline_compactions_total").increment(1);
    tracing::info!(%tenant, day, parts = paths.len(), rows = row_count, input_bytes, output_bytes, elapsed_ms = started.elapsed().as_millis() as u64, "compacted parts");
    Ok(())
}
