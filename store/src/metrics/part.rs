//! Metric parts: one tenant's samples of one day, as two Parquet objects under
//! `metrics/{tenant}/{yyyy-mm-dd}/`:
//!
//! - `{id}.samples.parquet`: one row per sample, `series_ref` (u32), `timestamp_ms` (i64,
//!   delta encoded), and the value in one of two columns, chosen per series (see
//!   `value_codec`): `value_scaled` (i64, delta encoded) for series whose values are all
//!   short decimals, as `value × 10^exponent`; `value` (f64, byte-stream-split) for the rest;
//!   the other column is null. Sorted by series then time, zstd. Regular scrape intervals make
//!   the timestamp column nearly free; counters take under a byte a sample.
//! - `{id}.series.parquet`: one row per series, sorted by labels: `series_ref`,
//!   `metric_name`, `labels` (a map of the other labels), `first_row` and `row_count` (where
//!   its samples are), `min_time_ms`, `max_time_ms`, `value_exponent` (the decimal exponent of
//!   a delta-coded series, null for a float one), and the series' [`CounterRollup`]
//!   (`first_value`, `last_value`, `counter_increase`; NaN when no sample is a number), so
//!   that counting a counter over a window that holds the whole part reads no samples. Its
//!   key/value metadata holds the part's time range and the metric families' metadata (JSON).
//!   Parts written before the rollup columns existed have none; readers then read samples.
//!   Parts written before `value_delta` existed (format 1) hold every value in `value`;
//!   format 2 held decimal series in `value_delta` (i64, byte-stream-split) as the change of
//!   the scaled value since the previous row, with the scaled value itself every
//!   [`value_codec::KEY_INTERVAL`] rows of a series: a third larger to decode than format 3's
//!   delta-binary-packed scaled values, for about the same bytes.
//!
//! The samples object is written first; the series object commits the part (a samples
//! object without one is debris from a crash and is deleted at start-up). Readers load the
//! series table once per part, match labels on it, and read only the selected series' rows
//! through the page index.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int64Builder, MapBuilder, StringBuilder, StringDictionaryBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, MapArray, RecordBatch, StringArray, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use sightline_model::{
    CounterRollup, Labels, MetricMetadata, MetricSample, TenantId, METRIC_NAME_LABEL,
};

use super::value_codec;
use crate::error::Error;

/// The part layout version written, in both objects' key/value metadata.
pub const FORMAT_VERSION: &str = "3";
/// The layout versions read: 1 held every value in `value` (no `value_exponent`), 2 held
/// decimal series in `value_delta`.
pub const READABLE_FORMAT_VERSIONS: [&str; 3] = ["1", "2", FORMAT_VERSION];
/// Samples per row group of the samples object.
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;
/// Samples per data page: the granularity at which a read skips unselected series.
pub const PAGE_ROWS: usize = 8 * 1024;
/// zstd level of both objects.
pub const ZSTD_LEVEL: i32 = 3;

/// Keys of the series object's key/value metadata.
pub mod metadata_keys {
    /// The layout version.
    pub const FORMAT_VERSION: &str = "sightline.format_version";
    /// Earliest sample, ms since the epoch.
    pub const MIN_TIME: &str = "sightline.min_time_ms";
    /// Latest sample, ms since the epoch.
    pub const MAX_TIME: &str = "sightline.max_time_ms";
    /// Samples in the part.
    pub const SAMPLES: &str = "sightline.samples";
    /// JSON list of the metric families' metadata.
    pub const METRIC_METADATA: &str = "sightline.metric_metadata";
}

/// Column names.
pub mod columns {
    /// Series ref, dense from 0 in label order, in both objects.
    pub const SERIES_REF: &str = "series_ref";
    /// Sample time, ms.
    pub const TIMESTAMP: &str = "timestamp_ms";
    /// Sample value, for series stored as floats.
    pub const VALUE: &str = "value";
    /// Sample value scaled to an integer, for series stored as decimals.
    pub const VALUE_SCALED: &str = "value_scaled";
    /// Sample value as a scaled delta (format 2), for series stored as decimals.
    pub const VALUE_DELTA: &str = "value_delta";
    /// `__name__`.
    pub const METRIC_NAME: &str = "metric_name";
    /// The labels other than `__name__`.
    pub const LABELS: &str = "labels";
    /// First sample row of the series.
    pub const FIRST_ROW: &str = "first_row";
    /// Sample rows of the series.
    pub const ROW_COUNT: &str = "row_count";
    /// The series' earliest sample.
    pub const MIN_TIME: &str = "min_time_ms";
    /// The series' latest sample.
    pub const MAX_TIME: &str = "max_time_ms";
    /// The decimal exponent of a delta-coded series; null for a float one.
    pub const VALUE_EXPONENT: &str = "value_exponent";
    /// The series' first value that is a number ([`super::CounterRollup::first`]).
    pub const FIRST_VALUE: &str = "first_value";
    /// Its last value that is a number.
    pub const LAST_VALUE: &str = "last_value";
    /// What it counted as a counter within the part.
    pub const COUNTER_INCREASE: &str = "counter_increase";
}

/// The schema of the samples object.
pub fn samples_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(columns::SERIES_REF, DataType::UInt32, false),
        Field::new(columns::TIMESTAMP, DataType::Int64, false),
        Field::new(columns::VALUE, DataType::Float64, true),
        Field::new(columns::VALUE_SCALED, DataType::Int64, true),
    ]))
}

fn labels_field() -> Field {
    let entries = Field::new(
        "entries",
        DataType::Struct(
            vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
            ]
            .into(),
        ),
        false,
    );
    Field::new(
        columns::LABELS,
        DataType::Map(Arc::new(entries), false),
        false,
    )
}

/// The schema of the series object.
pub fn series_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(columns::SERIES_REF, DataType::UInt32, false),
        Field::new(
            columns::METRIC_NAME,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        labels_field(),
        Field::new(columns::FIRST_ROW, DataType::UInt64, false),
        Field::new(columns::ROW_COUNT, DataType::UInt32, false),
        Field::new(columns::MIN_TIME, DataType::Int64, false),
        Field::new(columns::MAX_TIME, DataType::Int64, false),
        Field::new(columns::VALUE_EXPONENT, DataType::UInt8, true),
        Field::new(columns::FIRST_VALUE, DataType::Float64, false),
        Field::new(columns::LAST_VALUE, DataType::Float64, false),
        Field::new(columns::COUNTER_INCREASE, DataType::Float64, false),
    ]))
}

/// The object paths of a part: `(samples, series)`.
pub fn part_paths(tenant: &TenantId, day: &str, id: &str) -> (Path, Path) {
    (
        Path::from(format!("metrics/{tenant}/{day}/{id}.samples.parquet")),
        Path::from(format!("metrics/{tenant}/{day}/{id}.series.parquet")),
    )
}

/// Splits `metrics/{tenant}/{day}/{id}.series.parquet` into tenant, day and id.
pub fn parse_series_path(path: &Path) -> Option<(TenantId, String, String)> {
    let parts: Vec<_> = path.parts().collect();
    match parts.as_slice() {
        [root, tenant, day, file] if root.as_ref() == "metrics" => {
            let id = file.as_ref().strip_suffix(".series.parquet")?;
            Some((
                TenantId::new(tenant.as_ref()).ok()?,
                day.as_ref().to_string(),
                id.to_string(),
            ))
        }
        _ => None,
    }
}

/// Both objects of a part, encoded.
pub struct EncodedPart {
    /// The samples object.
    pub samples: Bytes,
    /// The series object.
    pub series: Bytes,
    /// Series in the part.
    pub series_count: usize,
    /// Samples in the part.
    pub sample_count: usize,
}

/// Encodes series (sorted by labels, each with samples sorted by time, none empty) into a
/// part's two objects.
///
/// # Errors
/// Parquet and Arrow failures.
pub fn encode_part<'a>(
    path: &str,
    series: impl ExactSizeIterator<Item = (&'a Labels, &'a [MetricSample])>,
    metadata: &[MetricMetadata],
) -> Result<EncodedPart, Error> {
    let parquet_error = |source| Error::parquet(path.to_string(), source);
    let arrow_error = |source| Error::Arrow {
        what: format!("metric part {path}"),
        source,
    };
    let series_count = series.len();
    let mut samples_writer = ArrowWriter::try_new(
        Vec::new(),
        samples_schema(),
        Some(samples_properties().map_err(parquet_error)?),
    )
    .map_err(parquet_error)?;
    let mut names = StringDictionaryBuilder::<Int32Type>::new();
    let mut labels_builder = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let mut first_rows = Vec::with_capacity(series_count);
    let mut row_counts = Vec::with_capacity(series_count);
    let mut min_times = Vec::with_capacity(series_count);
    let mut max_times = Vec::with_capacity(series_count);
    let mut rollups = Vec::with_capacity(series_count);
    let mut exponents = Vec::with_capacity(series_count);
    let mut pending = PendingSamples::default();
    let mut scaled = Vec::new();
    let mut rows = 0u64;
    let (mut min_time, mut max_time) = (i64::MAX, i64::MIN);
    for (series_ref, (labels, samples)) in series.enumerate() {
        names.append_value(labels.metric_name().unwrap_or_default());
        for (name, value) in labels.iter().filter(|(name, _)| *name != METRIC_NAME_LABEL) {
            labels_builder.keys().append_value(name);
            labels_builder.values().append_value(value);
        }
        labels_builder.append(true).map_err(arrow_error)?;
        first_rows.push(rows);
        row_counts.push(samples.len() as u32);
        let (first, last) = match (samples.first(), samples.last()) {
            (Some(first), Some(last)) => (first.timestamp_ms, last.timestamp_ms),
            _ => (0, 0),
        };
        min_times.push(first);
        max_times.push(last);
        rollups.push(CounterRollup::of(samples.iter().map(|sample| sample.value)));
        min_time = min_time.min(first);
        max_time = max_time.max(last);
        let exponent = value_codec::encode(samples.iter().map(|s| s.value), &mut scaled);
        exponents.push(exponent);
        pending
            .refs
            .extend(std::iter::repeat_n(series_ref as u32, samples.len()));
        pending
            .timestamps
            .extend(samples.iter().map(|s| s.timestamp_ms));
        if exponent.is_some() {
            pending.values.append_nulls(samples.len());
            pending.scaled.append_slice(&scaled);
        } else {
            pending.values.extend(samples.iter().map(|s| Some(s.value)));
            pending.scaled.append_nulls(samples.len());
        }
        rows += samples.len() as u64;
        if pending.refs.len() >= ROW_GROUP_ROWS {
            pending.write(&mut samples_writer).map_err(parquet_error)?;
        }
    }
    pending.write(&mut samples_writer).map_err(parquet_error)?;
    samples_writer.append_key_value_metadata(KeyValue::new(
        metadata_keys::FORMAT_VERSION.to_string(),
        FORMAT_VERSION.to_string(),
    ));
    let samples = Bytes::from(samples_writer.into_inner().map_err(parquet_error)?);

    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(0..series_count as u32)),
        Arc::new(names.finish()),
        Arc::new(labels_builder.finish()),
        Arc::new(UInt64Array::from(first_rows)),
        Arc::new(UInt32Array::from(row_counts)),
        Arc::new(Int64Array::from(min_times)),
        Arc::new(Int64Array::from(max_times)),
        Arc::new(UInt8Array::from(exponents)),
        Arc::new(Float64Array::from_iter_values(
            rollups.iter().map(|r| r.map_or(f64::NAN, |r| r.first)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rollups.iter().map(|r| r.map_or(f64::NAN, |r| r.last)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rollups.iter().map(|r| r.map_or(f64::NAN, |r| r.increase)),
        )),
    ];
    let batch = RecordBatch::try_new(series_schema(), columns).map_err(arrow_error)?;
    let metadata_json = serde_json::to_string(metadata).map_err(|error| Error::Corrupt {
        what: "metric metadata",
        path: path.to_string(),
        reason: error.to_string(),
    })?;
    let key_values = vec![
        KeyValue::new(
            metadata_keys::FORMAT_VERSION.to_string(),
            FORMAT_VERSION.to_string(),
        ),
        KeyValue::new(metadata_keys::MIN_TIME.to_string(), min_time.to_string()),
        KeyValue::new(metadata_keys::MAX_TIME.to_string(), max_time.to_string()),
        KeyValue::new(metadata_keys::SAMPLES.to_string(), rows.to_string()),
        KeyValue::new(metadata_keys::METRIC_METADATA.to_string(), metadata_json),
    ];
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).map_err(parquet_error)?,
        ))
        .set_key_value_metadata(Some(key_values))
        .build();
    let mut series_writer = ArrowWriter::try_new(Vec::new(), series_schema(), Some(properties))
        .map_err(parquet_error)?;
    series_writer.write(&batch).map_err(parquet_error)?;
    let series = Bytes::from(series_writer.into_inner().map_err(parquet_error)?);
    Ok(EncodedPart {
        samples,
        series,
        series_count,
        sample_count: rows as usize,
    })
}

fn samples_properties() -> Result<WriterProperties, parquet::errors::ParquetError> {
    let timestamp = ColumnPath::from(columns::TIMESTAMP);
    let value = ColumnPath::from(columns::VALUE);
    let value_scaled = ColumnPath::from(columns::VALUE_SCALED);
    let series_ref = ColumnPath::from(columns::SERIES_REF);
    Ok(WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_column_dictionary_enabled(timestamp.clone(), false)
        .set_column_encoding(timestamp, Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(value.clone(), false)
        .set_column_encoding(value, Encoding::BYTE_STREAM_SPLIT)
        .set_column_dictionary_enabled(value_scaled.clone(), false)
        .set_column_encoding(value_scaled, Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(series_ref.clone(), false)
        .set_column_encoding(series_ref, Encoding::DELTA_BINARY_PACKED)
        .build())
}

/// Sample rows encoded but not yet handed to the writer.
#[derive(Default)]
struct PendingSamples {
    refs: Vec<u32>,
    timestamps: Vec<i64>,
    values: Float64Builder,
    scaled: Int64Builder,
}

impl PendingSamples {
    /// Writes the pending rows as one batch and clears them.
    fn write(
        &mut self,
        writer: &mut ArrowWriter<Vec<u8>>,
    ) -> Result<(), parquet::errors::ParquetError> {
        if self.refs.is_empty() {
            return Ok(());
        }
        let batch = RecordBatch::try_new(
            samples_schema(),
            vec![
                Arc::new(UInt32Array::from(std::mem::take(&mut self.refs))),
                Arc::new(Int64Array::from(std::mem::take(&mut self.timestamps))),
                Arc::new(self.values.finish()),
                Arc::new(self.scaled.finish()),
            ],
        )?;
        writer.write(&batch)
    }
}

/// A part's series table, decoded: what matching and reading need.
#[derive(Debug, Default)]
pub struct SeriesTable {
    /// Labels by series ref.
    pub labels: Vec<Labels>,
    /// First sample row by series ref.
    pub first_row: Vec<u64>,
    /// Sample rows by series ref.
    pub row_count: Vec<u32>,
    /// Earliest sample by series ref.
    pub min_time_ms: Vec<i64>,
    /// Latest sample by series ref.
    pub max_time_ms: Vec<i64>,
    /// Counter rollups by series ref (`None`: no sample is a number); empty for parts
    /// written before rollups were kept.
    pub rollups: Vec<Option<CounterRollup>>,
    /// The decimal exponent of each delta-coded series by series ref (`None`: stored as
    /// floats); empty for parts written before values were delta-coded.
    pub value_exponents: Vec<Option<u8>>,
    /// Series refs by metric name, ascending.
    pub by_metric: BTreeMap<String, Vec<u32>>,
}

impl SeriesTable {
    /// Decodes the series object's record batches.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a column is missing or of the wrong type.
    pub fn from_batches(path: &str, batches: &[RecordBatch]) -> Result<Self, Error> {
        let corrupt = |reason: &str| Error::Corrupt {
            what: "metric series table",
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let mut table = SeriesTable::default();
        for batch in batches {
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| corrupt(&format!("no column {name}")))
            };
            let names = text_column(column(columns::METRIC_NAME)?)
                .ok_or_else(|| corrupt("metric_name is not text"))?;
            let labels = column(columns::LABELS)?
                .as_any()
                .downcast_ref::<MapArray>()
                .ok_or_else(|| corrupt("labels is not a map"))?;
            let first_row = column(columns::FIRST_ROW)?
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| corrupt("first_row is not u64"))?;
            let row_count = column(columns::ROW_COUNT)?
                .as_any()
                .downcast_ref::<UInt32Array>()
                .ok_or_else(|| corrupt("row_count is not u32"))?;
            let min_time = column(columns::MIN_TIME)?
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| corrupt("min_time_ms is not i64"))?;
            let max_time = column(columns::MAX_TIME)?
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| corrupt("max_time_ms is not i64"))?;
            let exponents = batch
                .column_by_name(columns::VALUE_EXPONENT)
                .map(|column| {
                    column
                        .as_any()
                        .downcast_ref::<UInt8Array>()
                        .ok_or_else(|| corrupt("value_exponent is not u8"))
                })
                .transpose()?;
            let float_column = |name: &str| -> Option<&Float64Array> {
                batch
                    .column_by_name(name)
                    .and_then(|column| column.as_any().downcast_ref::<Float64Array>())
            };
            let rollup_columns = match (
                float_column(columns::FIRST_VALUE),
                float_column(columns::LAST_VALUE),
                float_column(columns::COUNTER_INCREASE),
            ) {
                (Some(first), Some(last), Some(increase)) => Some((first, last, increase)),
                _ => None,
            };
            let keys = labels
                .keys()
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| corrupt("label names are not text"))?;
            let values = labels
                .values()
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| corrupt("label values are not text"))?;
            let offsets = labels.value_offsets();
            for row in 0..batch.num_rows() {
                let name = names[row].as_str();
                let mut pairs = Vec::new();
                pairs.push((METRIC_NAME_LABEL.to_string(), name.to_string()));
                for entry in offsets[row] as usize..offsets[row + 1] as usize {
                    pairs.push((
                        keys.value(entry).to_string(),
                        values.value(entry).to_string(),
                    ));
                }
                let series_ref = table.labels.len() as u32;
                table
                    .by_metric
                    .entry(name.to_string())
                    .or_default()
                    .push(series_ref);
                table.labels.push(Labels::new(pairs));
                table.first_row.push(first_row.value(row));
                table.row_count.push(row_count.value(row));
                table.min_time_ms.push(min_time.value(row));
                table.max_time_ms.push(max_time.value(row));
                if let Some(exponents) = exponents {
                    let exponent = exponents.is_valid(row).then(|| exponents.value(row));
                    if exponent.is_some_and(|e| e > value_codec::MAX_EXPONENT) {
                        return Err(corrupt("value_exponent out of range"));
                    }
                    table.value_exponents.push(exponent);
                }
                if let Some((first, last, increase)) = rollup_columns {
                    let first = first.value(row);
                    table.rollups.push((!first.is_nan()).then(|| CounterRollup {
                        first,
                        last: last.value(row),
                        increase: increase.value(row),
                    }));
                }
            }
        }
        if table.rollups.len() != table.labels.len() {
            // Some batch (or the whole part) predates the rollup columns.
            table.rollups.clear();
        }
        if !table.value_exponents.is_empty() && table.value_exponents.len() != table.labels.len() {
            return Err(corrupt("value_exponent in some batches only"));
        }
        Ok(table)
    }
}

/// Reads a text column that may be dictionary encoded.
fn text_column(array: &ArrayRef) -> Option<Vec<String>> {
    if let Some(strings) = array.as_any().downcast_ref::<StringArray>() {
        return Some(
            (0..strings.len())
                .map(|i| strings.value(i).to_string())
                .collect(),
        );
    }
    let dictionary = array.as_dictionary_opt::<Int32Type>()?;
    let values = dictionary.values().as_any().downcast_ref::<StringArray>()?;
    dictionary
        .keys()
        .iter()
        .map(|key| key.map(|key| values.value(key as usize).to_string()))
        .collect()
}
