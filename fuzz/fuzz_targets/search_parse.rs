//! Trace search parameters: arbitrary UTF-8, read as a decoded query string (`&`-separated
//! `name=value` pairs, repeats kept) → `search::parse_native_search` and
//! `search::parse_jaeger_search` with the default `QueryConfig`; the whole text also goes to
//! `search::parse_logfmt_pairs`, `parse_duration_nanos` and `parse_timestamp_unix_nano`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_query::search::{
    parse_duration_nanos, parse_jaeger_search, parse_logfmt_pairs, parse_native_search,
    parse_timestamp_unix_nano, QueryParams,
};
use sightline_query::QueryConfig;

/// A fixed "now" (2026-01-01T00:00:00Z) so a crash reproduces whatever the clock says.
const NOW_UNIX_NANO: u64 = 1_767_225_600_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_logfmt_pairs(text);
    let _ = parse_duration_nanos(text);
    let _ = parse_timestamp_unix_nano(text, 1);
    let _ = parse_timestamp_unix_nano(text, 1_000);
    let pairs = text
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (pair.to_string(), String::new()),
        })
        .collect();
    let params = QueryParams::new(pairs);
    let config = QueryConfig::default();
    let _ = parse_native_search(&params, &config, NOW_UNIX_NANO);
    let _ = parse_jaeger_search(&params, &config, NOW_UNIX_NANO);
});
