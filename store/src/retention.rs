//! Retention: deletes parts whose newest span is older than the retention period.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::Error;
use crate::part::PartCatalog;

/// Deletes every part whose newest span started before now minus `retention`.
///
/// # Errors
/// Object store failures deleting a part; parts deleted before the failure stay deleted.
pub async fn delete_expired_parts(
    objects: &Arc<dyn ObjectStore>,
    catalog: &PartCatalog,
    retention: Duration,
) -> Result<usize, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let cutoff = now.saturating_sub(retention).as_nanos() as u64;
    let mut deleted = 0;
    for part in catalog
        .all()
        .into_iter()
        .filter(|part| part.max_start_unix_nano < cutoff)
    {
        catalog.remove(&part.tenant, std::slice::from_ref(&part.path));
        objects
            .delete(&part.path)
            .await
            .map_err(|source| Error::Object {
                operation: "delete",
                path: part.path.to_string(),
                source,
            })?;
        deleted += 1;
        metrics::counter!("sightline_parts_expired_total").increment(1);
        tracing::info!(part = %part.path, tenant = %part.tenant, day = part.day, rows = part.rows, "deleted expired part");
    }
    Ok(deleted)
}
