//! Parquet parts: immutable files of spans, one day partition each. A part's row groups are
//! time slices (earliest first), each sorted by trace id: a search for the latest matches reads
//! the latest slices only, and a trace lookup finds its trace in a slice by the slice's bloom
//! filter and then in about one page by the page index.
//!
//! - [`schema`]: the Arrow schema and conversion between rows and record batches.
//! - [`attributes`]: common span attributes in typed columns of their own, the rest encoded.
//! - [`parents`]: parents within a row group stored as row offsets.
//! - [`writer`]: encodes rows into a part (zstd, page statistics, bloom filter on trace id).
//! - [`reader`]: trace lookup (statistics, then bloom filter, then a row filter) and scans.
//! - [`io`]: Parquet's async reader over an object store object.
//! - [`scan`]: columnar span filtering, shared with the head.
//! - [`catalog`]: the parts of every tenant, their metadata, row groups' time ranges and cached
//!   bloom filters.
//! - [`quarantine`]: corrupt parts moved out of service, so the rest keeps serving.
//!
//! Object layout: `spans/{tenant}/{yyyy-mm-dd}/{ulid}.parquet`.

pub mod attributes;
pub mod catalog;
pub mod io;
pub mod parents;
pub mod quarantine;
pub mod reader;
pub mod scan;
pub mod schema;
pub mod writer;

pub use catalog::{PartCatalog, PartInfo};

/// Returns the civil date (`yyyy-mm-dd`, UTC) of a unix time in nanoseconds.
pub fn day_of_unix_nanos(unix_nanos: u64) -> String {
    let days = (unix_nanos / 1_000_000_000 / 86_400) as i64;
    let (year, month, day) = sightline_model::time::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::day_of_unix_nanos;

    #[test]
    fn civil_dates() {
        assert_eq!(day_of_unix_nanos(0), "1970-01-01");
        assert_eq!(day_of_unix_nanos(1_544_712_660_000_000_000), "2018-12-13");
        assert_eq!(day_of_unix_nanos(951_782_400_000_000_000), "2000-02-29");
        assert_eq!(day_of_unix_nanos(1_798_761_599_000_000_000), "2026-12-31");
    }
}
