//! Replay: reads segments back in order, stopping cleanly at a torn tail.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sightline_model::SpanBatch;

use super::{decode_frame, DecodedFrame, WalRecord};
use crate::error::Error;

/// What one segment gave back on replay.
pub struct ReplayedSegment<B = SpanBatch> {
    /// Records in write order.
    pub records: Vec<(WalRecord<B>, usize)>,
    /// Bytes of valid frames.
    pub valid_bytes: u64,
    /// Why reading stopped before the end of the file, if it did.
    pub damage: Option<String>,
}

/// Lists the segments in `dir` with their sequence numbers, oldest first.
///
/// # Errors
/// I/O errors reading the directory.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        operation: "list wal directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            operation: "list wal directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let sequence = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".wal"))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(sequence) = sequence {
            segments.push((sequence, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// Reads every valid record of a segment. A torn or corrupt frame ends the segment: what
/// follows it cannot be trusted, and the caller reports it.
///
/// # Errors
/// I/O errors reading the file.
pub fn read_segment<B: DeserializeOwned>(path: &Path) -> Result<ReplayedSegment<B>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        operation: "read wal segment",
        path: path.to_path_buf(),
        source,
    })?;
    let mut offset = 0usize;
    let mut records = Vec::new();
    let mut damage = None;
    while offset < bytes.len() {
        match decode_frame(&bytes[offset..]) {
            DecodedFrame::Record(record, len) => {
                records.push((*record, len));
                offset += len;
            }
            DecodedFrame::Incomplete => {
                damage = Some(format!(
                    "torn record at byte {offset} ({} bytes cut off)",
                    bytes.len() - offset
                ));
                break;
            }
            DecodedFrame::Corrupt(reason) => {
                damage = Some(format!("corrupt record at byte {offset}: {reason}"));
                break;
            }
        }
    }
    Ok(ReplayedSegment {
        records,
        valid_bytes: offset as u64,
        damage,
    })
}
