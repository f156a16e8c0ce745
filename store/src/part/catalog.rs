//! The part catalog: every tenant's parts with their footers, time ranges, operations and
//! cached bloom filters, so queries prune without touching the object store.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::PageIndexPolicy;
use sightline_model::{SpanKind, TenantId};

use crate::error::Error;

/// Keys of the part's Parquet key/value metadata.
pub mod metadata_keys {
    /// The part layout version.
    pub const FORMAT_VERSION: &str = "sightline.format_version";
    /// Earliest span start, unix nanoseconds.
    pub const MIN_START: &str = "sightline.min_start_unix_nano";
    /// Latest span start, unix nanoseconds.
    pub const MAX_START: &str = "sightline.max_start_unix_nano";
    /// JSON list of `[service, span name, kind number]`.
    pub const OPERATIONS: &str = "sightline.operations";
    /// Most distinct trace ids in one row group (format 2).
    pub const TRACE_IDS_PER_ROW_GROUP: &str = "sightline.trace_ids_per_row_group";
}

/// One part and what the catalog knows about it.
pub struct PartInfo {
    /// Object path.
    pub path: Path,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Day partition, `yyyy-mm-dd`.
    pub day: String,
    /// Object size.
    pub size_bytes: u64,
    /// Rows (spans).
    pub rows: u64,
    /// Earliest span start.
    pub min_start_unix_nano: u64,
    /// Latest span start.
    pub max_start_unix_nano: u64,
    /// Distinct (service, span name, kind) in the part.
    pub operations: Vec<(String, String, SpanKind)>,
    /// Most distinct trace ids in one of its row groups, which sizes the bloom filters of a
    /// part merged from it; `None` for a part that does not say (format 1).
    pub trace_ids_per_row_group: Option<usize>,
    /// Its attribute columns (see [`super::attributes`]).
    pub attribute_columns: Vec<super::attributes::AttributeColumn>,
    /// Each row group's earliest and latest span start (from its statistics; the part's range
    /// where they are missing).
    pub row_group_starts: Vec<(u64, u64)>,
    /// The footer with page indexes, loaded once.
    pub metadata: ArrowReaderMetadata,
    /// Each row group's trace id bloom filter once loaded (`None` inside: it has none).
    blooms: Vec<OnceLock<Option<Arc<Sbbf>>>>,
}

/// Reads each row group's start range from its statistics of the start column.
fn row_group_starts(metadata: &ArrowReaderMetadata, part_range: (u64, u64)) -> Vec<(u64, u64)> {
    let column = metadata
        .parquet_schema()
        .columns()
        .iter()
        .position(|column| column.name() == super::schema::columns::START);
    let as_u64 = |bytes: Option<&[u8]>| {
        bytes
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(u64::from_le_bytes)
    };
    metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|row_group| {
            let stats = column.and_then(|column| row_group.column(column).statistics());
            match stats {
                Some(stats) => (
                    as_u64(stats.min_bytes_opt()).unwrap_or(part_range.0),
                    as_u64(stats.max_bytes_opt()).unwrap_or(part_range.1),
                ),
                None => part_range,
            }
        })
        .collect()
}

fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional)
}

impl PartInfo {
    fn from_metadata(
        path: Path,
        tenant: TenantId,
        day: String,
        size_bytes: u64,
        metadata: ArrowReaderMetadata,
    ) -> Result<Self, Error> {
        let file = metadata.metadata().file_metadata();
        let value_of = |key: &str| {
            file.key_value_metadata()
                .and_then(|pairs| pairs.iter().find(|pair| pair.key == key))
                .and_then(|pair| pair.value.clone())
        };
        let corrupt = |reason: String| Error::Corrupt {
            what: "part metadata",
            path: path.to_string(),
            reason,
        };
        let version = value_of(metadata_keys::FORMAT_VERSION).unwrap_or_default();
        let known = [
            super::schema::FORMAT_VERSION,
            super::schema::FORMAT_ATTRIBUTE_COLUMNS,
            super::schema::FORMAT_TIME_SLICES,
            super::schema::FORMAT_SORTED_BY_TRACE,
        ];
        if !known.contains(&version.as_str()) {
            return Err(corrupt(format!("unknown part format version {version:?}")));
        }
        let number = |key: &str| {
            value_of(key)
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| corrupt(format!("missing {key}")))
        };
        let operations: Vec<(String, String, i32)> =
            serde_json::from_str(&value_of(metadata_keys::OPERATIONS).unwrap_or_default())
                .map_err(|error| corrupt(format!("operations: {error}")))?;
        let row_groups = metadata.metadata().num_row_groups();
        let (min_start_unix_nano, max_start_unix_nano) = (
            number(metadata_keys::MIN_START)?,
            number(metadata_keys::MAX_START)?,
        );
        Ok(Self {
            tenant,
            day,
            size_bytes,
            rows: u64::try_from(file.num_rows()).unwrap_or(0),
            min_start_unix_nano,
            max_start_unix_nano,
            trace_ids_per_row_group: value_of(metadata_keys::TRACE_IDS_PER_ROW_GROUP)
                .and_then(|text| text.parse().ok()),
            attribute_columns: super::attributes::columns_of(metadata.schema()),
            row_group_starts: row_group_starts(
                &metadata,
                (min_start_unix_nano, max_start_unix_nano),
            ),
            operations: operations
                .into_iter()
                .map(|(service, name, kind)| (service, name, SpanKind::from_otlp(kind)))
                .collect(),
            metadata,
            blooms: (0..row_groups).map(|_| OnceLock::new()).collect(),
            path,
        })
    }

    /// Builds the entry of a part just written, from its bytes.
    ///
    /// # Errors
    /// [`Error::Parquet`] or [`Error::Corrupt`] if the footer is unreadable.
    pub fn from_bytes(
        path: Path,
        tenant: TenantId,
        day: String,
        bytes: Bytes,
    ) -> Result<Self, Error> {
        let metadata = ArrowReaderMetadata::load(&bytes, reader_options())
            .map_err(|source| Error::parquet(path.to_string(), source))?;
        let part = Self::from_metadata(path, tenant, day, bytes.len() as u64, metadata)?;
        part.cache_blooms_from(&bytes)?;
        Ok(part)
    }

    /// Caches every row group's trace id bloom filter from the part's bytes at hand, so the
    /// first lookups after a part is written do not fetch them one by one.
    fn cache_blooms_from(&self, bytes: &Bytes) -> Result<(), Error> {
        let Some(column) = self
            .metadata
            .parquet_schema()
            .columns()
            .iter()
            .position(|column| column.name() == super::schema::columns::TRACE_ID)
        else {
            return Ok(());
        };
        for (index, row_group) in self.metadata.metadata().row_groups().iter().enumerate() {
            let bloom = Sbbf::read_from_column_chunk(row_group.column(column), bytes)
                .map_err(|source| Error::parquet(self.path.to_string(), source))?;
            self.cache_bloom(index, bloom.map(Arc::new));
        }
        Ok(())
    }

    /// Reads a part's footer from the object store.
    ///
    /// # Errors
    /// Object store, Parquet or metadata failures.
    pub async fn load(
        objects: &Arc<dyn ObjectStore>,
        path: Path,
        size_bytes: u64,
    ) -> Result<Self, Error> {
        let (tenant, day) = parse_part_path(&path).ok_or_else(|| Error::Corrupt {
            what: "part path",
            path: path.to_string(),
            reason: "not spans/{tenant}/{day}/{id}.parquet".to_string(),
        })?;
        let mut reader = super::io::PartReader::new(objects.clone(), path.clone(), size_bytes);
        let metadata = ArrowReaderMetadata::load_async(&mut reader, reader_options())
            .await
            .map_err(|source| Error::parquet(path.to_string(), source))?;
        Self::from_metadata(path, tenant, day, size_bytes, metadata)
    }

    /// Returns how the part's compressed columns are written (as its first row group has
    /// them; see [`super::writer::ColumnCoding`]).
    pub fn column_codings(
        &self,
    ) -> std::collections::BTreeMap<String, super::writer::ColumnCoding> {
        use parquet::basic::{Compression, Encoding};
        let metadata = self.metadata.metadata();
        if metadata.num_row_groups() == 0 {
            return std::collections::BTreeMap::new();
        }
        metadata
            .row_group(0)
            .columns()
            .iter()
            .filter(|column| column.compression() != Compression::UNCOMPRESSED)
            .map(|column| {
                let dictionary = column.encodings().any(|encoding| {
                    matches!(
                        encoding,
                        Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
                    )
                });
                let coding = if dictionary {
                    super::writer::ColumnCoding::CompressedDictionary
                } else {
                    super::writer::ColumnCoding::CompressedPlain
                };
                (column.column_descr().name().to_string(), coding)
            })
            .collect()
    }

    /// Returns the cached bloom filter of the trace id column in a row group, if loaded.
    pub fn cached_bloom(&self, row_group: usize) -> Option<Option<Arc<Sbbf>>> {
        self.blooms
            .get(row_group)
            .and_then(|bloom| bloom.get().cloned())
    }

    /// Caches the bloom filter of a row group.
    pub fn cache_bloom(&self, row_group: usize, bloom: Option<Arc<Sbbf>>) {
        if let Some(cell) = self.blooms.get(row_group) {
            // A bloom filter loaded twice at once is the same filter: either copy will do.
            let _ = cell.set(bloom);
        }
    }

    /// Says whether the part may hold spans starting in `[start, end]`.
    pub fn overlaps(&self, start_unix_nano: u64, end_unix_nano: u64) -> bool {
        self.min_start_unix_nano <= end_unix_nano && self.max_start_unix_nano >= start_unix_nano
    }
}

/// Splits `spans/{tenant}/{day}/{id}.parquet` into tenant and day.
pub fn parse_part_path(path: &Path) -> Option<(TenantId, String)> {
    let parts: Vec<_> = path.parts().collect();
    match parts.as_slice() {
        [root, tenant, day, file]
            if root.as_ref() == "spans" && file.as_ref().ends_with(".parquet") =>
        {
            Some((
                TenantId::new(tenant.as_ref()).ok()?,
                day.as_ref().to_string(),
            ))
        }
        _ => None,
    }
}

/// All parts, by tenant.
#[derive(Default)]
pub struct PartCatalog {
    parts: RwLock<HashMap<TenantId, Vec<Arc<PartInfo>>>>,
}

impl PartCatalog {
    /// Lists and loads every part under `spans/`. Unreadable parts are reported and skipped so
    /// the rest keeps serving.
    ///
    /// # Errors
    /// Failures listing the object store.
    pub async fn load(objects: &Arc<dyn ObjectStore>) -> Result<Self, Error> {
        let catalog = Self::default();
        let prefix = Path::from("spans");
        let listed: Vec<_> = objects
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| Error::Object {
                operation: "list",
                path: prefix.to_string(),
                source,
            })?;
        let mut total_bytes = 0u64;
        for meta in listed
            .into_iter()
            .filter(|meta| meta.location.as_ref().ends_with(".parquet"))
        {
            match PartInfo::load(objects, meta.location.clone(), meta.size).await {
                Ok(part) => {
                    total_bytes += part.size_bytes;
                    catalog.add(Arc::new(part));
                }
                Err(error) => {
                    let paths = [meta.location.clone()];
                    super::quarantine::quarantine_or_skip(objects, &paths, "traces", &error).await;
                }
            }
        }
        tracing::info!(
            parts = catalog.all().len(),
            total_bytes,
            "loaded part catalog"
        );
        Ok(catalog)
    }

    /// Adds a part.
    pub fn add(&self, part: Arc<PartInfo>) {
        let mut parts = self
            .parts
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        parts.entry(part.tenant.clone()).or_default().push(part);
        metrics::gauge!("sightline_parts").increment(1.0);
    }

    /// Removes parts by path.
    pub fn remove(&self, tenant: &TenantId, paths: &[Path]) {
        let mut parts = self
            .parts
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(list) = parts.get_mut(tenant) {
            let before = list.len();
            list.retain(|part| !paths.contains(&part.path));
            metrics::gauge!("sightline_parts").decrement((before - list.len()) as f64);
        }
    }

    /// Returns a tenant's parts.
    pub fn parts(&self, tenant: &TenantId) -> Vec<Arc<PartInfo>> {
        let parts = self
            .parts
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        parts.get(tenant).cloned().unwrap_or_default()
    }

    /// Returns every part of every tenant.
    pub fn all(&self) -> Vec<Arc<PartInfo>> {
        let parts = self
            .parts
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        parts.values().flatten().cloned().collect()
    }
}
