//! PromQL: arbitrary UTF-8 → `promql::engine::parse_query` (operator/bracket budget, the
//! promql-parser crate, then the expression depth check).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_query::promql::engine::parse_query;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_query(text);
    }
});
