//! Corrupt parts out of service: a part that cannot be decoded (its footer at start-up, or a
//! page when a query reads it) is moved under `quarantine/` (same path below it), dropped from
//! the catalog, counted in `sightline_parts_quarantined_total{signal}` and logged with the
//! error; the query that found it goes on without it, so the rest keeps serving. An operator can
//! inspect, repair or delete the file; nothing reads under `quarantine/`.
//!
//! Only decoding failures quarantine: an object store error (a read that failed, a part
//! compaction just deleted) may be transient and leaves the part where it is.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::Error;

/// Where quarantined parts go, below the store's root.
pub const QUARANTINE_PREFIX: &str = "quarantine";

/// Whether `error` says a part's bytes are corrupt (not that reading them failed).
pub fn is_corruption(error: &Error) -> bool {
    matches!(
        error,
        Error::Parquet { .. } | Error::Arrow { .. } | Error::Corrupt { .. }
    )
}

/// The path a part is moved to.
pub fn quarantine_path(path: &Path) -> Path {
    Path::from(format!("{QUARANTINE_PREFIX}/{path}"))
}

/// Takes a part that could not be loaded at start-up out of service: quarantined (every one of
/// its `objects`) when it is corrupt, only skipped (and reported) otherwise.
pub async fn quarantine_or_skip(
    objects: &Arc<dyn ObjectStore>,
    paths: &[Path],
    signal: &'static str,
    error: &Error,
) {
    metrics::counter!("sightline_parts_unreadable_total").increment(1);
    if !is_corruption(error) {
        tracing::error!(part = %paths.first().map(ToString::to_string).unwrap_or_default(), %error, "skipping unreadable part");
        return;
    }
    for path in paths {
        quarantine(objects, path, signal, error).await;
    }
}

/// Moves the part at `path` under [`QUARANTINE_PREFIX`] and reports it; the caller drops it
/// from its catalog.
pub async fn quarantine(
    objects: &Arc<dyn ObjectStore>,
    path: &Path,
    signal: &'static str,
    error: &(dyn std::fmt::Display + Sync),
) {
    let target = quarantine_path(path);
    let moved = objects.rename(path, &target).await;
    metrics::counter!("sightline_parts_quarantined_total", "signal" => signal).increment(1);
    match moved {
        Ok(()) => tracing::error!(
            part = %path,
            quarantined_to = %target,
            %error,
            "corrupt part quarantined; queries go on without it"
        ),
        Err(move_error) => tracing::error!(
            part = %path,
            %error,
            %move_error,
            "corrupt part taken out of service but could not be moved to quarantine"
        ),
    }
}
