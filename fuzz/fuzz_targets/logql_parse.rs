//! LogQL: arbitrary UTF-8 → `logql::parse` (lexer, parser, regex compilation) and
//! `logql::parse_selector`, plus the lexer's duration and byte-size literals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_query::logql::{parse, parse_bytes, parse_duration_nanos, parse_selector};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse(text);
    let _ = parse_selector(text);
    let _ = parse_duration_nanos(text);
    let _ = parse_bytes(text);
});
