//! WAL replay: the first byte picks the record type (span, metric or log WAL) and the mode.
//!
//! - Raw mode: the rest is a whole segment file, written to a temp file and read back with
//!   `wal::read_segment` (framing, torn tails, bad lengths, checksums, versions, postcard).
//! - Framed mode: the rest is a record payload (after the version byte), framed with a correct
//!   length and CRC so the fuzzer gets past the checksum, then `wal::decode_frame`. A record
//!   that decodes is encoded again with `wal::encode_frame` and must decode again.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sightline_model::{MetricBatch, SpanBatch};
use sightline_store::logs::LogWalBatch;
use sightline_store::wal::{
    decode_frame, encode_frame, read_segment, DecodedFrame, FORMAT_VERSION, FRAME_HEADER_BYTES,
};

/// One segment file per fuzzing process, rewritten for every input.
fn segment_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("sightline-fuzz-wal-{}.wal", std::process::id()))
    })
}

fn read_raw_segment<B: DeserializeOwned>(bytes: &[u8]) {
    let path = segment_path();
    std::fs::write(path, bytes).expect("the fuzz temp dir is writable");
    if let Ok(segment) = read_segment::<B>(path) {
        let framed: usize = segment.records.iter().map(|(_, len)| len).sum();
        assert_eq!(framed as u64, segment.valid_bytes, "valid_bytes counts the records");
        assert!(segment.valid_bytes <= bytes.len() as u64);
    }
}

fn decode_checksummed_frame<B: DeserializeOwned + Serialize>(payload_after_version: &[u8]) {
    let payload_len = payload_after_version.len() + 1;
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload_len);
    frame.extend_from_slice(&(payload_len as u32).to_le_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.push(FORMAT_VERSION);
    frame.extend_from_slice(payload_after_version);
    let checksum = crc32fast::hash(&frame[FRAME_HEADER_BYTES..]);
    frame[4..8].copy_from_slice(&checksum.to_le_bytes());
    if let DecodedFrame::Record(record, len) = decode_frame::<B>(&frame) {
        assert!(len <= frame.len());
        let again = encode_frame(&*record).expect("encoding a decoded record succeeds");
        assert!(
            matches!(decode_frame::<B>(&again), DecodedFrame::Record(..)),
            "a re-encoded record decodes"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let framed = selector & 0b100 != 0;
    match (selector % 3, framed) {
        (0, false) => read_raw_segment::<SpanBatch>(rest),
        (1, false) => read_raw_segment::<MetricBatch>(rest),
        (_, false) => read_raw_segment::<LogWalBatch>(rest),
        (0, true) => decode_checksummed_frame::<SpanBatch>(rest),
        (1, true) => decode_checksummed_frame::<MetricBatch>(rest),
        (_, true) => decode_checksummed_frame::<LogWalBatch>(rest),
    }
});
