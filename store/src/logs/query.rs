//! What a log search asks for ([`LogQuery`]) and what it returns ([`LogPage`] of
//! [`LogHit`]s, [`LogHistogram`]), with the cursor that makes paging stable.

use std::fmt;
use std::str::FromStr;

use sightline_model::{LogRow, TraceId};

use super::filter::LogFilter;

/// Which end of the time range a search starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogDirection {
    /// Newest first.
    #[default]
    Backward,
    /// Oldest first.
    Forward,
}

/// The position after which the next page starts: the (time, sequence) of the last hit
/// returned. Records are ordered by time, then by sequence number, which is unique, so a page
/// boundary is exact: records arriving later never shift the pages already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogCursor {
    /// The last hit's time, unix nanoseconds.
    pub timestamp_unix_nano: u64,
    /// The last hit's sequence number.
    pub sequence: u64,
}

impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.timestamp_unix_nano, self.sequence)
    }
}

/// Why a cursor's text is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor {0:?}: expected TIME-SEQUENCE as returned in next_cursor")]
pub struct CursorParseError(pub String);

impl FromStr for LogCursor {
    type Err = CursorParseError;

    fn from_str(text: &str) -> Result<Self, CursorParseError> {
        let invalid = || CursorParseError(text.to_string());
        let (time, sequence) = text.split_once('-').ok_or_else(invalid)?;
        Ok(Self {
            timestamp_unix_nano: time.parse().map_err(|_| invalid())?,
            sequence: sequence.parse().map_err(|_| invalid())?,
        })
    }
}

/// A log search.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    /// Earliest record time, unix nanoseconds, inclusive.
    pub start_unix_nano: u64,
    /// Latest record time, unix nanoseconds, inclusive.
    pub end_unix_nano: u64,
    /// Only records of this `service.name` (case-insensitive).
    pub service: Option<String>,
    /// Only records with at least this OTLP severity number.
    pub min_severity_number: Option<i32>,
    /// Only records of this trace.
    pub trace_id: Option<TraceId>,
    /// The parsed query string.
    pub filter: LogFilter,
    /// Newest or oldest first.
    pub direction: LogDirection,
    /// Most hits to return.
    pub limit: usize,
    /// Continue after this position (from a previous page's `next_cursor`).
    pub cursor: Option<LogCursor>,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            start_unix_nano: 0,
            end_unix_nano: u64::MAX,
            service: None,
            min_severity_number: None,
            trace_id: None,
            filter: LogFilter::All,
            direction: LogDirection::Backward,
            limit: 100,
            cursor: None,
        }
    }
}

impl LogQuery {
    /// Says whether a position is after the cursor, in the query's direction (always true
    /// without a cursor).
    pub fn after_cursor(&self, timestamp_unix_nano: u64, sequence: u64) -> bool {
        let Some(cursor) = self.cursor else {
            return true;
        };
        let key = (timestamp_unix_nano, sequence);
        let cursor = (cursor.timestamp_unix_nano, cursor.sequence);
        match self.direction {
            LogDirection::Backward => key < cursor,
            LogDirection::Forward => key > cursor,
        }
    }

    /// The time range still to search: the query's range, cut at the cursor.
    pub fn effective_range(&self) -> (u64, u64) {
        let (mut start, mut end) = (self.start_unix_nano, self.end_unix_nano);
        if let Some(cursor) = self.cursor {
            match self.direction {
                LogDirection::Backward => end = end.min(cursor.timestamp_unix_nano),
                LogDirection::Forward => start = start.max(cursor.timestamp_unix_nano),
            }
        }
        (start, end)
    }

    /// Says whether a record (with its effective time and sequence number) passes every
    /// condition of the query, the cursor included.
    pub fn matches(&self, timestamp_unix_nano: u64, sequence: u64, row: &LogRow) -> bool {
        let (start, end) = self.effective_range();
        (start..=end).contains(&timestamp_unix_nano)
            && self.after_cursor(timestamp_unix_nano, sequence)
            && self
                .min_severity_number
                .is_none_or(|min| row.record.severity_number >= min)
            && self
                .service
                .as_ref()
                .is_none_or(|service| row.service_name().eq_ignore_ascii_case(service))
            && self
                .trace_id
                .is_none_or(|trace_id| row.record.trace_id == Some(trace_id))
            && self.filter.matches(row)
    }

    /// Orders two positions as the query returns them (first = returned first).
    pub fn order(&self, a: (u64, u64), b: (u64, u64)) -> std::cmp::Ordering {
        match self.direction {
            LogDirection::Backward => b.cmp(&a),
            LogDirection::Forward => a.cmp(&b),
        }
    }
}

/// One record found, with the position it sorts by.
#[derive(Debug, Clone, PartialEq)]
pub struct LogHit {
    /// The record's effective time (event time, else observed time, else arrival time).
    pub timestamp_unix_nano: u64,
    /// The record's sequence number, unique in the store.
    pub sequence: u64,
    /// The record with its resource and scope, as received.
    pub row: LogRow,
}

impl LogHit {
    /// The cursor that continues after this hit.
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            timestamp_unix_nano: self.timestamp_unix_nano,
            sequence: self.sequence,
        }
    }
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogPage {
    /// Hits in the query's order.
    pub hits: Vec<LogHit>,
    /// Where the next page starts; `None` when this page holds the last hits.
    pub next_cursor: Option<LogCursor>,
}

/// Counts of matching records per time bucket.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogHistogram {
    /// The first bucket's start, unix nanoseconds.
    pub start_unix_nano: u64,
    /// Bucket width, nanoseconds.
    pub step_nanos: u64,
    /// Matches per bucket, oldest first.
    pub counts: Vec<u64>,
}

impl LogHistogram {
    /// An empty histogram of `buckets` buckets.
    pub fn new(start_unix_nano: u64, step_nanos: u64, buckets: usize) -> Self {
        Self {
            start_unix_nano,
            step_nanos: step_nanos.max(1),
            counts: vec![0; buckets],
        }
    }

    /// Counts a match at `timestamp_unix_nano` (ignored outside the buckets).
    pub fn add(&mut self, timestamp_unix_nano: u64) {
        if let Some(offset) = timestamp_unix_nano.checked_sub(self.start_unix_nano) {
            if let Some(count) = usize::try_from(offset / self.step_nanos)
                .ok()
                .and_then(|bucket| self.counts.get_mut(bucket))
            {
                *count += 1;
            }
        }
    }
}
