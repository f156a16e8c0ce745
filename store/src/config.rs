//! [`StoreConfig`]: where data lives and when it moves between WAL, head and parts.

use std::path::PathBuf;

use serde::Deserialize;

/// Storage settings. Every field has a default; the binary layers file, env and flags on top.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory for the WAL and, with the embedded object store, the Parquet parts.
    pub data_dir: PathBuf,
    /// Flush the in-memory head to a Parquet part once it holds this many spans.
    pub flush_max_spans: usize,
    /// Flush the head at least this often (seconds), so the WAL stays short.
    pub flush_interval_seconds: u64,
    /// Refuse appends (retryable) while unflushed data in memory exceeds this many bytes.
    pub head_max_bytes: u64,
    /// Most appends written together under one fsync (group commit).
    pub wal_group_commit_max_batch: usize,
    /// Delete spans, metric samples and log day indexes older than this many hours.
    pub retention_hours: u64,
    /// Merge a day partition's parts once it has this many.
    pub compaction_min_parts: usize,
    /// Seconds between compaction and retention passes.
    pub maintenance_interval_seconds: u64,
    /// Most series one metric name may have per tenant; samples of further series are
    /// refused (0: no limit).
    pub metric_series_limit_per_metric: usize,
    /// Flush the metric head to parts once it holds this many samples.
    pub metric_flush_max_samples: usize,
    /// Flush the metric head at least this often (seconds).
    pub metric_flush_interval_seconds: u64,
    /// Refuse metric appends (retryable) while this many samples are not yet in parts.
    pub metric_head_max_samples: usize,
    /// Milliseconds between commits of the log indexes; records are searchable from the
    /// in-memory head before that, and their WAL segments are deleted after it.
    pub log_commit_interval_millis: u64,
    /// Refuse log appends (retryable) while records not yet committed to the index take more
    /// than this many bytes of memory.
    pub log_head_max_bytes: u64,
    /// Indexing memory of each open log index writer, in bytes, shared by its threads (at
    /// least 15 MB each: a smaller heap gets fewer threads); a writer is open only for the
    /// days written to in the last minute.
    pub log_index_writer_heap_bytes: u64,
    /// Indexing threads of each open log index writer. Each takes whole batches of records
    /// (as they arrived), so two threads keep the one-thread index size; on two cores they
    /// index about a fifth more records per second than one (benches/README.md, logs).
    pub log_index_writer_threads: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            flush_max_spans: 250_000,
            flush_interval_seconds: 300,
            head_max_bytes: 1024 * 1024 * 1024,
            wal_group_commit_max_batch: 1024,
            retention_hours: 7 * 24,
            compaction_min_parts: 4,
            maintenance_interval_seconds: 60,
            metric_series_limit_per_metric: 100_000,
            metric_flush_max_samples: 8_000_000,
            metric_flush_interval_seconds: 1800,
            metric_head_max_samples: 40_000_000,
            log_commit_interval_millis: 1000,
            log_head_max_bytes: 256 * 1024 * 1024,
            log_index_writer_heap_bytes: 128 * 1024 * 1024,
            log_index_writer_threads: 2,
        }
    }
}
