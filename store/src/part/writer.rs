//! Encodes spans into a Parquet part and puts it on the object store.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sightline_model::TenantId;

use super::attributes::{self, part_schema, AttributeColumn};
use super::catalog::{metadata_keys, PartInfo};
use super::schema::{batch_operations, columns, start_range, time_slices, FORMAT_VERSION};
use crate::error::Error;

/// Rows per row group (a time slice): small enough that a search for the latest matches reads
/// little past them, large enough that each column's dictionary, statistics and bloom filter
/// stay a small share of the file. Measured at 10 M load-generator spans: 32 K rows, 47.8
/// bytes per span and search p99 25–39 ms; 64 K, 45.3 and 24–66 ms; 128 K, 43.7 and
/// 41–100 ms (search by duration reads the most slices).
pub const ROW_GROUP_ROWS: usize = 64 * 1024;
/// The trace id bloom filters' false positive rate at their sized number of distinct ids: each
/// false positive costs a lookup one page of trace ids.
const BLOOM_FPP: f64 = 0.01;
/// Fewest distinct trace ids a row group's bloom filter is sized for.
const MIN_BLOOM_TRACE_IDS: usize = 1024;
/// Rows per data page: the granularity of the page index.
pub const PAGE_ROWS: usize = 2048;
/// zstd level: 3 is zstd's default balance of speed and size.
pub const ZSTD_LEVEL: i32 = 3;
/// zstd level of the encoded attribute columns (most of a part's bytes) in large compacted
/// parts: level 9 makes them about a fifth smaller than level 3 (measured on the load
/// generator's spans: 39.5 → 31.1 bytes per span) for about 2 s of one core per million spans.
/// Flushes and small merges, whose output is rewritten again soon, stay at [`ZSTD_LEVEL`]:
/// level 9 everywhere cost a fifth of the server's CPU under load.
pub const ZSTD_LEVEL_ATTRIBUTES_DENSE: i32 = 9;
/// Parts of at least this many rows (the second compaction tier and up) get
/// [`ZSTD_LEVEL_ATTRIBUTES_DENSE`].
pub const DENSE_PART_ROWS: usize = 500_000;

/// Returns the object path of a new part for `tenant` and `day`.
pub fn new_part_path(tenant: &TenantId, day: &str) -> Path {
    Path::from(format!(
        "spans/{tenant}/{day}/{}.parquet",
        ulid::Ulid::new()
    ))
}

/// Encodes row groups (time slices, each sorted by trace id and start, see
/// [`time_slices`]) into one part, tracking the metadata (time range, operations, most
/// distinct trace ids in a row group) as it goes.
pub struct PartEncoder {
    path: String,
    writer: ArrowWriter<Vec<u8>>,
    min_start: u64,
    max_start: u64,
    operations: std::collections::BTreeSet<(String, String, sightline_model::SpanKind)>,
    trace_ids_per_row_group: usize,
}

impl PartEncoder {
    /// Starts a part of about `rows_hint` rows, which picks the attribute columns' zstd level,
    /// with trace id bloom filters sized for `trace_ids_per_row_group` distinct ids in a row
    /// group (see [`PartInfo::trace_ids_per_row_group`]) and the given attribute columns
    /// (batches written must have [`part_schema`] of them). Of the columns whose values vary
    /// in number ([`ADAPTIVE_COLUMNS`] and the attribute columns), those in `codings` are
    /// written as it says and the others as uncompressed dictionaries (see
    /// [`column_codings`]).
    ///
    /// # Errors
    /// Parquet failures creating the writer.
    pub fn new(
        path: &str,
        rows_hint: usize,
        trace_ids_per_row_group: usize,
        attribute_columns: &[AttributeColumn],
        codings: &BTreeMap<String, ColumnCoding>,
    ) -> Result<Self, Error> {
        let parquet_error = |source| Error::Parquet {
            path: path.to_string(),
            source,
        };
        let trace_id_column = ColumnPath::from(columns::TRACE_ID);
        let attributes_level = if rows_hint >= DENSE_PART_ROWS {
            ZSTD_LEVEL_ATTRIBUTES_DENSE
        } else {
            ZSTD_LEVEL
        };
        let dense = Compression::ZSTD(ZstdLevel::try_new(attributes_level).map_err(parquet_error)?);
        let zstd = Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).map_err(parquet_error)?);
        // Columns of few distinct values are dictionary-encoded and left uncompressed: zstd
        // takes little off their dictionary indices, and reading a compressed column chunk
        // costs a codec set-up (a quarter of a search's CPU when every column was compressed).
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_column_bloom_filter_enabled(trace_id_column.clone(), true)
            .set_column_bloom_filter_fpp(trace_id_column.clone(), BLOOM_FPP)
            .set_column_bloom_filter_max_ndv(
                trace_id_column,
                trace_ids_per_row_group.clamp(MIN_BLOOM_TRACE_IDS, ROW_GROUP_ROWS) as u64,
            );
        for (column, compression) in plain_columns(zstd) {
            properties = properties
                .set_column_dictionary_enabled(ColumnPath::from(column), false)
                .set_column_compression(ColumnPath::from(column), compression);
        }
        // Attribute columns and the layout: no page statistics (a search reads them only for
        // rows its other filters kept).
        let attribute_names = attribute_columns
            .iter()
            .map(AttributeColumn::name)
            .chain([attributes::LAYOUT.to_string()]);
        for name in attribute_names {
            properties = properties
                .set_column_statistics_enabled(ColumnPath::from(name), EnabledStatistics::None);
        }
        for (name, coding) in codings.iter().filter(|(name, _)| is_adaptive(name)) {
            properties = properties
                .set_column_compression(ColumnPath::from(name.as_str()), dense)
                .set_column_dictionary_enabled(
                    ColumnPath::from(name.as_str()),
                    *coding == ColumnCoding::CompressedDictionary,
                );
        }
        let properties = properties.build();
        let writer =
            ArrowWriter::try_new(Vec::new(), part_schema(attribute_columns), Some(properties))
                .map_err(parquet_error)?;
        Ok(Self {
            path: path.to_string(),
            writer,
            min_start: u64::MAX,
            max_start: 0,
            operations: std::collections::BTreeSet::new(),
            trace_ids_per_row_group: 0,
        })
    }

    /// Writes one row group: a time slice of at most [`ROW_GROUP_ROWS`] rows sorted by trace
    /// id and start.
    ///
    /// # Errors
    /// Parquet encoding failures; [`Error::Corrupt`] on a batch without the span schema.
    pub fn write_row_group(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (min, max) = start_range(batch)?;
        self.min_start = self.min_start.min(min);
        self.max_start = self.max_start.max(max);
        self.operations.extend(batch_operations(batch)?);
        self.trace_ids_per_row_group = self
            .trace_ids_per_row_group
            .max(distinct_sorted_trace_ids(batch)?);
        let batch = &super::parents::encode_offsets(batch, &self.path)?;
        let parquet_error = |source| Error::Parquet {
            path: self.path.clone(),
            source,
        };
        self.writer.write(batch).map_err(parquet_error)?;
        self.writer.flush().map_err(parquet_error)
    }

    /// Writes the metadata and footer and returns the part's bytes.
    ///
    /// # Errors
    /// Parquet encoding failures.
    pub fn finish(mut self) -> Result<Bytes, Error> {
        let operations: Vec<(String, String, i32)> = std::mem::take(&mut self.operations)
            .into_iter()
            .map(|(service, name, kind)| (service, name, kind.to_otlp()))
            .collect();
        let operations_json =
            serde_json::to_string(&operations).unwrap_or_else(|_| "[]".to_string());
        let min_start = if self.min_start == u64::MAX {
            0
        } else {
            self.min_start
        };
        for (key, value) in [
            (metadata_keys::FORMAT_VERSION, FORMAT_VERSION.to_string()),
            (metadata_keys::MIN_START, min_start.to_string()),
            (metadata_keys::MAX_START, self.max_start.to_string()),
            (metadata_keys::OPERATIONS, operations_json),
            (
                metadata_keys::TRACE_IDS_PER_ROW_GROUP,
                self.trace_ids_per_row_group.to_string(),
            ),
        ] {
            self.writer
                .append_key_value_metadata(KeyValue::new(key.to_string(), value));
        }
        let path = self.path;
        let bytes = self
            .writer
            .into_inner()
            .map_err(|source| Error::Parquet { path, source })?;
        Ok(Bytes::from(bytes))
    }
}

/// The columns of many distinct values, written without a dictionary (measured on the load
/// generator's spans, a dictionary made start and duration half as large again, span ids a
/// fifth), with the compression each gets: none for random span ids, zstd for the rest.
fn plain_columns(zstd: Compression) -> [(&'static str, Compression); 5] {
    [
        (columns::TRACE_ID, zstd),
        ("span_id", Compression::UNCOMPRESSED),
        ("parent_span_id", zstd),
        (columns::START, zstd),
        (columns::DURATION, zstd),
    ]
}

/// Columns besides the attribute columns whose values may be few (and then are dictionary
/// indices that zstd takes little off) or many (and compress well): how they are written is
/// chosen part by part, by [`column_codings`].
pub const ADAPTIVE_COLUMNS: [&str; 4] = [attributes::REST, attributes::LAYOUT, "events", "links"];

/// Says whether a column is written as [`column_codings`] chooses.
fn is_adaptive(name: &str) -> bool {
    ADAPTIVE_COLUMNS.contains(&name) || name.starts_with(attributes::COLUMN_PREFIX)
}

/// How a compressed adaptive column is written, from fewer distinct values to more (an
/// adaptive column with no coding is an uncompressed dictionary). Reading a compressed column
/// chunk costs a codec set-up (most of what reading a page costs on some machines), so only
/// columns whose dictionary or values are worth it are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnCoding {
    /// A dictionary, compressed: the dictionary is large enough to matter (a thousand
    /// distinct numbers take 8 KB per row group), the indices are not.
    CompressedDictionary,
    /// Plain values, compressed: a dictionary would hold most values, and a lookup would
    /// decompress all of it (hundreds of kilobytes of client addresses) to read one page.
    CompressedPlain,
}

/// Distinct bytes per row above which a column's dictionary is compressed.
const COMPRESS_DICTIONARY_BYTES_PER_ROW: f64 = 0.1;
/// Distinct bytes per row above which a column has no dictionary (the layout always keeps
/// its dictionary: few values, each long).
const PLAIN_BYTES_PER_ROW: f64 = 2.0;

/// Chooses how each adaptive column of a batch ([`ADAPTIVE_COLUMNS`] and attribute columns)
/// is written, by the bytes of its distinct values per row in the first [`ROW_GROUP_ROWS`]
/// rows; columns left out stay uncompressed dictionaries.
pub fn column_codings(batch: &RecordBatch) -> BTreeMap<String, ColumnCoding> {
    let sample = batch.slice(0, batch.num_rows().min(ROW_GROUP_ROWS));
    let rows = sample.num_rows().max(1) as f64;
    sample
        .schema_ref()
        .fields()
        .iter()
        .zip(sample.columns())
        .filter(|(field, _)| is_adaptive(field.name()))
        .filter_map(|(field, column)| {
            let per_row = distinct_bytes(column) as f64 / rows;
            let coding = if per_row > PLAIN_BYTES_PER_ROW && field.name() != attributes::LAYOUT {
                ColumnCoding::CompressedPlain
            } else if per_row > COMPRESS_DICTIONARY_BYTES_PER_ROW {
                ColumnCoding::CompressedDictionary
            } else {
                return None;
            };
            Some((field.name().clone(), coding))
        })
        .collect()
}

/// The bytes of an array's distinct non-null values (eight per number or flag).
fn distinct_bytes(column: &arrow_array::ArrayRef) -> usize {
    use arrow_array::cast::AsArray;
    if let Some(values) = column.as_binary_opt::<i32>() {
        let distinct: HashSet<&[u8]> = values.iter().flatten().collect();
        return distinct.iter().map(|value| value.len()).sum();
    }
    if let Some(values) = column.as_string_opt::<i32>() {
        let distinct: HashSet<&str> = values.iter().flatten().collect();
        return distinct.iter().map(|value| value.len()).sum();
    }
    if let Some(values) = column.as_primitive_opt::<arrow_array::types::Int64Type>() {
        return 8 * values.iter().flatten().collect::<HashSet<i64>>().len();
    }
    if let Some(values) = column.as_primitive_opt::<arrow_array::types::Float64Type>() {
        let distinct: HashSet<u64> = values.iter().flatten().map(f64::to_bits).collect();
        return 8 * distinct.len();
    }
    8 * usize::from(column.len() > column.null_count())
}

/// Counts the distinct trace ids of rows sorted by trace id.
fn distinct_sorted_trace_ids(batch: &RecordBatch) -> Result<usize, Error> {
    let trace_ids =
        super::schema::SpanColumns::new(batch, "span batch").fixed(columns::TRACE_ID)?;
    let key = |row: usize| super::schema::trace_key(trace_ids.value(row));
    Ok((0..trace_ids.len())
        .filter(|row| *row == 0 || key(*row) != key(row - 1))
        .count())
}

/// Cuts a batch of the part schema (see [`attributes::part_schema`]) into time slices (see
/// [`time_slices`]) and encodes them into Parquet bytes.
///
/// # Errors
/// Arrow or Parquet encoding failures.
pub fn encode_part(batch: &RecordBatch, path: &str) -> Result<Bytes, Error> {
    let attribute_columns = attributes::columns_of(batch.schema_ref());
    let codings = column_codings(batch);
    let slices = time_slices(batch, ROW_GROUP_ROWS)?;
    let trace_ids_per_row_group = slices
        .iter()
        .map(distinct_sorted_trace_ids)
        .try_fold(0, |most, count| count.map(|count| most.max(count)))?;
    let mut encoder = PartEncoder::new(
        path,
        batch.num_rows(),
        trace_ids_per_row_group,
        &attribute_columns,
        &codings,
    )?;
    for slice in &slices {
        encoder.write_row_group(slice)?;
    }
    encoder.finish()
}

/// Puts encoded part bytes on the object store and returns the part's catalog entry.
///
/// # Errors
/// Object store failures; [`Error::Parquet`] if the footer is unreadable.
pub async fn put_part(
    objects: &Arc<dyn ObjectStore>,
    path: Path,
    tenant: &TenantId,
    day: &str,
    bytes: Bytes,
) -> Result<Arc<PartInfo>, Error> {
    let size_bytes = bytes.len() as u64;
    objects
        .put(&path, PutPayload::from_bytes(bytes.clone()))
        .await
        .map_err(|source| Error::Object {
            operation: "put",
            path: path.to_string(),
            source,
        })?;
    let part = PartInfo::from_bytes(path, tenant.clone(), day.to_string(), bytes)?;
    metrics::counter!("sightline_parts_written_total").increment(1);
    metrics::counter!("sightline_parts_written_bytes_total").increment(size_bytes);
    tracing::debug!(part = %part.path, rows = part.rows, size_bytes, "wrote span part");
    Ok(Arc::new(part))
}

/// Writes a batch as one part of `tenant`'s `day` partition and returns its catalog entry.
///
/// # Errors
/// Encoding failures and object store failures.
pub async fn write_part(
    objects: &Arc<dyn ObjectStore>,
    tenant: &TenantId,
    day: &str,
    batch: RecordBatch,
) -> Result<Arc<PartInfo>, Error> {
    let path = new_part_path(tenant, day);
    let path_text = path.to_string();
    let bytes = tokio::task::spawn_blocking(move || encode_part(&batch, &path_text))
        .await
        .map_err(|error| Error::Task {
            what: "part encoder",
            reason: error.to_string(),
        })??;
    put_part(objects, path, tenant, day, bytes).await
}
