//! The write-ahead log: every accepted batch is framed, checksummed, appended to the current
//! segment and fsynced before its append is acknowledged.
//!
//! Frame: `u32 LE payload length | u32 LE crc32 of payload | payload`, where the payload is
//! `FORMAT_VERSION` followed by a postcard-encoded [`WalRecord`]. Segments are files named
//! `{sequence:020}.wal`; a flush rotates to a new segment and deletes the older ones once their
//! spans are in a Parquet part.

mod reader;
mod writer;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sightline_model::{SpanBatch, TenantId};

pub use reader::{list_segments, read_segment, ReplayedSegment};
pub use writer::{AppendRequest, Rotation, WalCommand, WalHead, WalWriter};

/// Version byte at the start of every record payload.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of a frame header (length and checksum).
pub const FRAME_HEADER_BYTES: usize = 8;
/// Largest payload a frame may carry; anything claiming more is corruption.
pub const MAX_RECORD_BYTES: usize = 512 * 1024 * 1024;

/// One appended batch as persisted: spans ([`SpanBatch`], the default) in the span WAL,
/// samples ([`sightline_model::MetricBatch`]) in the metric WAL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalRecord<B = SpanBatch> {
    /// The tenant the batch belongs to.
    pub tenant: TenantId,
    /// The accepted data.
    pub batch: B,
}

/// Encodes a record into a complete frame (header and payload).
///
/// # Errors
/// Postcard failures, which only happen on allocation failure.
pub fn encode_frame<B: Serialize>(record: &WalRecord<B>) -> Result<Vec<u8>, postcard::Error> {
    let mut frame = vec![0u8; FRAME_HEADER_BYTES];
    frame.push(FORMAT_VERSION);
    let mut frame = postcard::to_extend(record, frame)?;
    let payload_len = frame.len() - FRAME_HEADER_BYTES;
    let checksum = crc32fast::hash(&frame[FRAME_HEADER_BYTES..]);
    frame[0..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    frame[4..8].copy_from_slice(&checksum.to_le_bytes());
    Ok(frame)
}

/// What decoding the frame at the start of `bytes` found.
#[derive(Debug, PartialEq)]
pub enum DecodedFrame<B = SpanBatch> {
    /// A valid record and the frame's total length.
    Record(Box<WalRecord<B>>, usize),
    /// The bytes end before the frame does (a torn write at the tail).
    Incomplete,
    /// The frame is damaged: bad checksum, length or version.
    Corrupt(String),
}

/// Decodes the frame at the start of `bytes`.
pub fn decode_frame<B: DeserializeOwned>(bytes: &[u8]) -> DecodedFrame<B> {
    if bytes.len() < FRAME_HEADER_BYTES {
        return DecodedFrame::Incomplete;
    }
    let payload_len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let checksum = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if payload_len == 0 || payload_len > MAX_RECORD_BYTES {
        return DecodedFrame::Corrupt(format!("invalid record length {payload_len}"));
    }
    let Some(payload) = bytes.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + payload_len) else {
        return DecodedFrame::Incomplete;
    };
    if crc32fast::hash(payload) != checksum {
        return DecodedFrame::Corrupt("checksum mismatch".to_string());
    }
    if payload[0] != FORMAT_VERSION {
        return DecodedFrame::Corrupt(format!("unknown record format version {}", payload[0]));
    }
    match postcard::from_bytes::<WalRecord<B>>(&payload[1..]) {
        Ok(record) => DecodedFrame::Record(Box::new(record), FRAME_HEADER_BYTES + payload_len),
        Err(error) => DecodedFrame::Corrupt(format!("undecodable record: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sightline_model::{Resource, ResourceSpans, ScopeSpans, Span, SpanId, TraceId};

    use super::*;

    fn record(spans: usize) -> WalRecord {
        let spans = (0..spans)
            .map(|index| Span {
                trace_id: TraceId([7; 16]),
                span_id: SpanId([index as u8 + 1; 8]),
                name: format!("op-{index}"),
                ..Span::default()
            })
            .collect();
        WalRecord {
            tenant: TenantId::default_tenant(),
            batch: SpanBatch {
                resources: vec![ResourceSpans {
                    resource: Resource::default(),
                    scopes: vec![ScopeSpans {
                        spans,
                        ..ScopeSpans::default()
                    }],
                }],
            },
        }
    }

    #[test]
    fn frame_round_trip() {
        let record = record(3);
        let frame = encode_frame(&record).unwrap();
        assert_eq!(
            decode_frame(&frame),
            DecodedFrame::Record(Box::new(record), frame.len())
        );
    }

    #[test]
    fn flipped_bit_is_corrupt() {
        let mut frame = encode_frame(&record(2)).unwrap();
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert!(matches!(
            decode_frame::<SpanBatch>(&frame),
            DecodedFrame::Corrupt(_)
        ));
    }

    proptest! {
        /// A frame cut at any byte is never mistaken for a record.
        #[test]
        fn truncation_at_every_byte_is_incomplete(spans in 1usize..4, cut_fraction in 0.0f64..1.0) {
            let frame = encode_frame(&record(spans)).unwrap();
            let cut = ((frame.len() as f64) * cut_fraction) as usize;
            prop_assert_eq!(decode_frame::<SpanBatch>(&frame[..cut]), DecodedFrame::Incomplete);
        }
    }
}
