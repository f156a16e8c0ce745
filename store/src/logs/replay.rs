//! Opening the log store: the day indexes, then the log WAL replayed into the head, skipping
//! the records a day index already holds (its commit payload names the newest WAL segment it
//! covers), so a crash between an index commit and the deletion of its segments duplicates
//! nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::head::{LogEntry, LogHeads};
use super::index::{day_of, LogIndexes};
use super::{LogWalBatch, HEAD_BYTES_PER_RECORD};
use crate::error::Error;
use crate::wal::{self, WalHead};

/// The opened indexes and head, the WAL directory, the next segment number and the replayed
/// segments.
pub(super) type Opened = (Arc<LogIndexes>, Arc<LogHeads>, PathBuf, u64, Vec<PathBuf>);

/// Opens the indexes and replays the WAL (blocking).
///
/// # Errors
/// I/O and index failures.
pub(super) fn open_blocking(data_dir: &Path) -> Result<Opened, Error> {
    let wal_dir = data_dir.join("wal-logs");
    std::fs::create_dir_all(&wal_dir).map_err(|source| Error::Io {
        operation: "create log wal directory",
        path: wal_dir.clone(),
        source,
    })?;
    let indexes = Arc::new(LogIndexes::open(&data_dir.join("logs"))?);
    let next_sequence = indexes.max_committed_sequence().map_or(0, |max| max + 1);
    let heads = Arc::new(LogHeads::new(next_sequence));
    let started = std::time::Instant::now();
    let segments = wal::list_segments(&wal_dir)?;
    let next_segment = segments.last().map_or(0, |(sequence, _)| sequence + 1);
    let (mut replayed_records, mut skipped_records) = (0usize, 0usize);
    let mut replayed = Vec::new();
    for (segment_sequence, path) in segments {
        let segment = wal::read_segment::<LogWalBatch>(&path)?;
        if let Some(damage) = &segment.damage {
            metrics::counter!("sightline_wal_damaged_segments_total").increment(1);
            tracing::warn!(segment = %path.display(), damage, valid_bytes = segment.valid_bytes, "log wal segment ends in a damaged record; replayed what precedes it");
        }
        let mut entries = Vec::new();
        for (record, frame_len) in segment.records {
            let arrival = record.batch.arrival_unix_nano;
            let rows: Vec<_> = record
                .batch
                .batch
                .into_rows()
                .into_iter()
                .filter(|row| {
                    let time = row.record.effective_time_unix_nano();
                    let day = day_of(if time == 0 { arrival } else { time });
                    let committed = indexes
                        .get(&record.tenant, day)
                        .and_then(|index| index.committed())
                        .is_some_and(|payload| payload.wal_segment >= segment_sequence);
                    skipped_records += usize::from(committed);
                    !committed
                })
                .collect();
            replayed_records += rows.len();
            if !rows.is_empty() {
                entries.push(LogEntry {
                    tenant: record.tenant,
                    approx_bytes: frame_len as u64 * 2 + rows.len() as u64 * HEAD_BYTES_PER_RECORD,
                    rows,
                    arrival_unix_nano: arrival,
                });
            }
        }
        heads.apply(entries);
        replayed.push(path);
    }
    tracing::info!(
        segments = replayed.len(),
        replayed_records,
        skipped_records,
        indexes = indexes.all().len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "replayed log write-ahead log"
    );
    Ok((indexes, heads, wal_dir, next_segment, replayed))
}
