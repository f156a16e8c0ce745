//! The store's error type.

use std::path::PathBuf;

use sightline_model::ErrorClass;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done, e.g. "fsync wal segment".
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A WAL record could not be encoded or decoded.
    #[error("wal record in {path} at byte {offset}: {reason}")]
    WalRecord {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// Why it is unreadable.
        reason: String,
    },
    /// The WAL writer has stopped (shutdown or a failed fsync); nothing more is accepted.
    #[error("write-ahead log is not accepting writes: {0}")]
    WalClosed(String),
    /// An object store operation failed.
    #[error("object store {operation} {path}: {source}")]
    Object {
        /// What was being done.
        operation: &'static str,
        /// The object path.
        path: String,
        /// The underlying error.
        source: object_store::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("parquet part {path}: {source}")]
    Parquet {
        /// The part's object path.
        path: String,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow conversion failed.
    #[error("arrow batch for {what}: {source}")]
    Arrow {
        /// What was being converted.
        what: String,
        /// The underlying error.
        source: arrow_schema::ArrowError,
    },
    /// A stored value could not be decoded.
    #[error("corrupt {what} in {path}: {reason}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Where it was read from.
        path: String,
        /// Why it is unreadable.
        reason: String,
    },
    /// Background work (an encoder on the blocking pool) failed or panicked: a bug.
    #[error("{what} failed: {reason}")]
    Task {
        /// What was running, e.g. "part encoder".
        what: &'static str,
        /// The join or encoding error.
        reason: String,
    },
    /// The query's scan budget is spent (see [`crate::scan`]).
    #[error(transparent)]
    ScanLimit(#[from] crate::scan::ScanLimitExceeded),
    /// The store's memory budget for unflushed data is exhausted; retry later.
    #[error("store is over its memory budget ({used_bytes} of {limit_bytes} bytes); retry later")]
    Overloaded {
        /// Bytes held.
        used_bytes: u64,
        /// The budget.
        limit_bytes: u64,
    },
}

impl Error {
    /// A Parquet failure reading or writing the part at `path`; a read refused by the query's
    /// scan budget becomes [`Error::ScanLimit`] instead (it says nothing about the part).
    pub fn parquet(path: impl Into<String>, source: parquet::errors::ParquetError) -> Self {
        if let parquet::errors::ParquetError::External(inner) = &source {
            if let Some(exceeded) = inner.downcast_ref::<crate::scan::ScanLimitExceeded>() {
                return Error::ScanLimit(*exceeded);
            }
        }
        Error::Parquet {
            path: path.into(),
            source,
        }
    }

    /// Returns the class of this error, for the wire mappings.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::ScanLimit(_) => ErrorClass::InvalidInput,
            Error::WalClosed(_) | Error::Overloaded { .. } => ErrorClass::Unavailable,
            Error::Io { source, .. } if is_out_of_space(source) => ErrorClass::Unavailable,
            _ => ErrorClass::Internal,
        }
    }

    /// Says whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }
}

fn is_out_of_space(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::StorageFull || error.raw_os_error() == Some(28)
}
