//! Parquet parts: immutable files of spans, one day partition each, sorted by trace id.
//!
//! - [`schema`]: the Arrow schema and conversion between rows and record batches.
//! - [`writer`]: encodes rows into a part (zstd, page statistics, bloom filter on trace id).
//! - [`reader`]: trace lookup (statistics, then bloom filter, then a row filter) and scans.
//! - [`io`]: Parquet's async reader over an object store object.
//! - [`scan`]: columnar span filtering, shared with the head.
//! - [`catalog`]: the parts of every tenant, their metadata and cached bloom filters.
//!
//! Object layout: `spans/{tenant}/{yyyy-mm-dd}/{ulid}.parquet`.

pub mod catalog;
pub mod io;
pub mod reader;
pub mod scan;
pub mod schema;
pub mod writer;

pub use catalog::{PartCatalog, PartInfo};

/// Returns the civil date (`yyyy-mm-dd`, UTC) of a unix time in nanoseconds.
pub fn day_of_unix_nanos(unix_nanos: u64) -> String {
    let days = (unix_nanos / 1_000_000_000 / 86_400) as i64;
    // Howard Hinnant's civil-from-days algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
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
