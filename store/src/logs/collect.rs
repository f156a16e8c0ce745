//! Tantivy collectors over the `ts` and `seq` fast fields: the first hits in time order after
//! a cursor ([`TopByTime`]), and counts per time bucket ([`TimeBuckets`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::query::{LogHistogram, LogQuery};

/// A hit's position and where its document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHit {
    /// Effective time.
    pub timestamp_unix_nano: u64,
    /// Sequence number.
    pub sequence: u64,
    /// The document.
    pub address: DocAddress,
}

/// Keeps the first `limit` matching documents in the query's order that are after its
/// cursor.
pub struct TopByTime {
    /// The search (direction, cursor and limit are read from it).
    pub query: Arc<LogQuery>,
}

/// Heap entry ordered so that the heap's top is the entry returned *last*.
struct Ranked {
    hit: IndexHit,
    query: Arc<LogQuery>,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.query.order(
            (self.hit.timestamp_unix_nano, self.hit.sequence),
            (other.hit.timestamp_unix_nano, other.hit.sequence),
        )
    }
}

/// The per-segment side of [`TopByTime`].
pub struct TopByTimeSegment {
    query: Arc<LogQuery>,
    segment: SegmentOrdinal,
    ts: Arc<dyn ColumnValues<u64>>,
    seq: Arc<dyn ColumnValues<u64>>,
    heap: BinaryHeap<Ranked>,
}

/// A segment's fast-field column of one u64 field.
type U64Column = Arc<dyn ColumnValues<u64>>;

/// The segment's time and sequence columns.
fn columns(segment: &SegmentReader) -> tantivy::Result<(U64Column, U64Column)> {
    let fast = segment.fast_fields();
    Ok((
        fast.u64("ts")?.first_or_default_col(0),
        fast.u64("seq")?.first_or_default_col(0),
    ))
}

impl Collector for TopByTime {
    type Fruit = Vec<IndexHit>;
    type Child = TopByTimeSegment;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<TopByTimeSegment> {
        let (ts, seq) = columns(segment)?;
        Ok(TopByTimeSegment {
            query: self.query.clone(),
            segment: segment_ord,
            ts,
            seq,
            heap: BinaryHeap::with_capacity(self.query.limit.min(4096) + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<IndexHit>>) -> tantivy::Result<Vec<IndexHit>> {
        let mut hits: Vec<IndexHit> = fruits.into_iter().flatten().collect();
        hits.sort_by(|a, b| {
            self.query.order(
                (a.timestamp_unix_nano, a.sequence),
                (b.timestamp_unix_nano, b.sequence),
            )
        });
        hits.truncate(self.query.limit);
        Ok(hits)
    }
}

impl SegmentCollector for TopByTimeSegment {
    type Fruit = Vec<IndexHit>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let hit = IndexHit {
            timestamp_unix_nano: self.ts.get_val(doc),
            sequence: self.seq.get_val(doc),
            address: DocAddress::new(self.segment, doc),
        };
        if self.query.limit == 0
            || !self
                .query
                .after_cursor(hit.timestamp_unix_nano, hit.sequence)
        {
            return;
        }
        let ranked = Ranked {
            hit,
            query: self.query.clone(),
        };
        if self.heap.len() < self.query.limit {
            self.heap.push(ranked);
        } else if self.heap.peek().is_some_and(|last| ranked < *last) {
            self.heap.pop();
            self.heap.push(ranked);
        }
    }

    fn harvest(self) -> Vec<IndexHit> {
        self.heap.into_iter().map(|ranked| ranked.hit).collect()
    }
}

/// Counts matching documents per bucket, skipping sequence numbers already counted (records
/// still in the head as well as committed).
pub struct TimeBuckets {
    /// The bucket layout.
    pub template: LogHistogram,
    /// Sorted sequence numbers not to count.
    pub skip: Arc<Vec<u64>>,
}

/// The per-segment side of [`TimeBuckets`].
pub struct TimeBucketsSegment {
    histogram: LogHistogram,
    skip: Arc<Vec<u64>>,
    ts: Arc<dyn ColumnValues<u64>>,
    seq: Arc<dyn ColumnValues<u64>>,
}

impl Collector for TimeBuckets {
    type Fruit = LogHistogram;
    type Child = TimeBucketsSegment;

    fn for_segment(
        &self,
        _segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<TimeBucketsSegment> {
        let (ts, seq) = columns(segment)?;
        Ok(TimeBucketsSegment {
            histogram: self.template.clone(),
            skip: self.skip.clone(),
            ts,
            seq,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<LogHistogram>) -> tantivy::Result<LogHistogram> {
        let mut total = self.template.clone();
        for fruit in fruits {
            for (sum, count) in total.counts.iter_mut().zip(fruit.counts) {
                *sum += count;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for TimeBucketsSegment {
    type Fruit = LogHistogram;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if !self.skip.is_empty() && self.skip.binary_search(&self.seq.get_val(doc)).is_ok() {
            return;
        }
        self.histogram.add(self.ts.get_val(doc));
    }

    fn harvest(self) -> LogHistogram {
        self.histogram
    }
}
