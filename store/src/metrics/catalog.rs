//! The metric part catalog: every tenant's parts with their time ranges and footers; each
//! part's series table is loaded on first use and kept.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;
use sightline_model::{MetricMetadata, TenantId};

use super::part::{
    metadata_keys, parse_series_path, part_paths, SeriesTable, READABLE_FORMAT_VERSIONS,
};
use crate::error::Error;
use crate::part::io::PartReader;

/// One metric part and what the catalog knows about it.
pub struct MetricPart {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Day partition, `yyyy-mm-dd`.
    pub day: String,
    /// The samples object.
    pub samples_path: Path,
    /// The series object (the part's commit marker).
    pub series_path: Path,
    /// Size of both objects.
    pub size_bytes: u64,
    /// Earliest sample, ms.
    pub min_time_ms: i64,
    /// Latest sample, ms.
    pub max_time_ms: i64,
    /// Samples held.
    pub samples: u64,
    /// The metric families' metadata.
    pub metric_metadata: Vec<MetricMetadata>,
    /// The samples object's footer with its page index.
    pub samples_metadata: ArrowReaderMetadata,
    samples_size: u64,
    series_bytes: Bytes,
    series: tokio::sync::OnceCell<Arc<SeriesTable>>,
}

fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional)
}

impl MetricPart {
    /// Builds the entry of a part from its series object's bytes and its samples object's
    /// footer.
    ///
    /// # Errors
    /// [`Error::Parquet`] or [`Error::Corrupt`] when either footer is unreadable.
    pub fn new(
        tenant: TenantId,
        day: String,
        id: &str,
        series_bytes: Bytes,
        samples_metadata: ArrowReaderMetadata,
        samples_size: u64,
    ) -> Result<Self, Error> {
        let (samples_path, series_path) = part_paths(&tenant, &day, id);
        let corrupt = |reason: String| Error::Corrupt {
            what: "metric part metadata",
            path: series_path.to_string(),
            reason,
        };
        let series_metadata = ArrowReaderMetadata::load(&series_bytes, reader_options())
            .map_err(|source| Error::parquet(series_path.to_string(), source))?;
        let file = series_metadata.metadata().file_metadata();
        let value_of = |key: &str| {
            file.key_value_metadata()
                .and_then(|pairs| pairs.iter().find(|pair| pair.key == key))
                .and_then(|pair| pair.value.clone())
                .unwrap_or_default()
        };
        let version = value_of(metadata_keys::FORMAT_VERSION);
        if !READABLE_FORMAT_VERSIONS.contains(&version.as_str()) {
            return Err(corrupt(format!("unknown format version {version:?}")));
        }
        let number = |key: &str| {
            value_of(key)
                .parse::<i64>()
                .map_err(|_| corrupt(format!("{key} is not a number")))
        };
        let metric_metadata = serde_json::from_str(&value_of(metadata_keys::METRIC_METADATA))
            .map_err(|error| corrupt(format!("metric metadata: {error}")))?;
        Ok(Self {
            min_time_ms: number(metadata_keys::MIN_TIME)?,
            max_time_ms: number(metadata_keys::MAX_TIME)?,
            samples: number(metadata_keys::SAMPLES)?.max(0) as u64,
            size_bytes: samples_size + series_bytes.len() as u64,
            tenant,
            day,
            samples_path,
            series_path,
            metric_metadata,
            samples_metadata,
            samples_size,
            series_bytes,
            series: tokio::sync::OnceCell::new(),
        })
    }

    /// Builds the entry of a part just encoded.
    ///
    /// # Errors
    /// As [`MetricPart::new`].
    pub fn from_encoded(
        tenant: TenantId,
        day: String,
        id: &str,
        samples: &Bytes,
        series: Bytes,
    ) -> Result<Self, Error> {
        let (samples_path, _) = part_paths(&tenant, &day, id);
        let samples_metadata = ArrowReaderMetadata::load(samples, reader_options())
            .map_err(|source| Error::parquet(samples_path.to_string(), source))?;
        Self::new(
            tenant,
            day,
            id,
            series,
            samples_metadata,
            samples.len() as u64,
        )
    }

    /// Reads a committed part's objects' footers (and its small series object).
    ///
    /// # Errors
    /// Object store, Parquet or metadata failures.
    pub async fn load(
        objects: &Arc<dyn ObjectStore>,
        tenant: TenantId,
        day: String,
        id: &str,
        samples_size: u64,
    ) -> Result<Self, Error> {
        let (samples_path, series_path) = part_paths(&tenant, &day, id);
        let series_bytes = get_object(objects, &series_path).await?;
        let mut reader = PartReader::new(objects.clone(), samples_path.clone(), samples_size);
        let samples_metadata = ArrowReaderMetadata::load_async(&mut reader, reader_options())
            .await
            .map_err(|source| Error::parquet(samples_path.to_string(), source))?;
        Self::new(
            tenant,
            day,
            id,
            series_bytes,
            samples_metadata,
            samples_size,
        )
    }

    /// Returns a reader of the samples object.
    pub fn samples_reader(&self, objects: &Arc<dyn ObjectStore>) -> PartReader {
        PartReader::new(
            objects.clone(),
            self.samples_path.clone(),
            self.samples_size,
        )
    }

    /// Returns the decoded series table, decoding it on first use.
    ///
    /// # Errors
    /// [`Error::Parquet`] or [`Error::Corrupt`] when the series object is unreadable.
    pub async fn series_table(&self) -> Result<Arc<SeriesTable>, Error> {
        self.series
            .get_or_try_init(|| async {
                let bytes = self.series_bytes.clone();
                let path = self.series_path.to_string();
                tokio::task::spawn_blocking(move || decode_series(&path, bytes))
                    .await
                    .map_err(|error| Error::Task {
                        what: "series table decoding",
                        reason: error.to_string(),
                    })?
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// Says whether the part may hold samples in `start_ms..=end_ms`.
    pub fn overlaps(&self, start_ms: i64, end_ms: i64) -> bool {
        self.min_time_ms <= end_ms && self.max_time_ms >= start_ms
    }
}

fn decode_series(path: &str, bytes: Bytes) -> Result<SeriesTable, Error> {
    let parquet_error = |source| Error::parquet(path.to_string(), source);
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(parquet_error)?
        .build()
        .map_err(parquet_error)?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Arrow {
            what: format!("series table {path}"),
            source,
        })?;
    SeriesTable::from_batches(path, &batches)
}

async fn get_object(objects: &Arc<dyn ObjectStore>, path: &Path) -> Result<Bytes, Error> {
    let object_error = |source| Error::Object {
        operation: "get",
        path: path.to_string(),
        source,
    };
    objects
        .get(path)
        .await
        .map_err(object_error)?
        .bytes()
        .await
        .map_err(object_error)
}

/// Every tenant's metric parts.
#[derive(Default)]
pub struct MetricCatalog {
    parts: RwLock<HashMap<TenantId, Vec<Arc<MetricPart>>>>,
}

impl MetricCatalog {
    /// Lists and loads every committed part under `metrics/`, deletes samples objects whose
    /// part was never committed, and quarantines corrupt parts (see
    /// [`crate::part::quarantine`]).
    ///
    /// # Errors
    /// Failures listing the object store.
    pub async fn load(objects: &Arc<dyn ObjectStore>) -> Result<Self, Error> {
        let catalog = Self::default();
        let prefix = Path::from("metrics");
        let listed: Vec<_> = objects
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| Error::Object {
                operation: "list",
                path: prefix.to_string(),
                source,
            })?;
        let sizes: BTreeMap<String, u64> = listed
            .iter()
            .map(|meta| (meta.location.to_string(), meta.size))
            .collect();
        let mut committed = HashSet::new();
        let mut total_bytes = 0u64;
        for meta in &listed {
            let Some((tenant, day, id)) = parse_series_path(&meta.location) else {
                continue;
            };
            let (samples_path, _) = part_paths(&tenant, &day, &id);
            committed.insert(samples_path.to_string());
            let Some(samples_size) = sizes.get(samples_path.as_ref()).copied() else {
                tracing::error!(part = %meta.location, "metric part without its samples object; skipped");
                continue;
            };
            match MetricPart::load(objects, tenant, day, &id, samples_size).await {
                Ok(part) => {
                    total_bytes += part.size_bytes;
                    catalog.add(Arc::new(part));
                }
                Err(error) => {
                    // Samples first: a crash between the two leaves a series object without
                    // samples, which is skipped, never an uncommitted-looking samples object.
                    let paths = [samples_path.clone(), meta.location.clone()];
                    crate::part::quarantine::quarantine_or_skip(objects, &paths, "metrics", &error)
                        .await;
                }
            }
        }
        for meta in &listed {
            let path = meta.location.as_ref();
            if path.ends_with(".samples.parquet") && !committed.contains(path) {
                tracing::warn!(object = path, "deleting uncommitted metric samples object");
                if let Err(error) = objects.delete(&meta.location).await {
                    tracing::warn!(%error, object = path, "could not delete uncommitted object");
                }
            }
        }
        tracing::info!(
            parts = catalog.all().len(),
            total_bytes,
            "loaded metric part catalog"
        );
        Ok(catalog)
    }

    /// Adds a part.
    pub fn add(&self, part: Arc<MetricPart>) {
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        parts.entry(part.tenant.clone()).or_default().push(part);
        metrics::gauge!("sightline_metric_parts").increment(1.0);
    }

    /// Removes parts (by their series path).
    pub fn remove(&self, tenant: &TenantId, series_paths: &[Path]) {
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = parts.get_mut(tenant) {
            let before = list.len();
            list.retain(|part| !series_paths.contains(&part.series_path));
            metrics::gauge!("sightline_metric_parts").decrement((before - list.len()) as f64);
        }
    }

    /// Returns a tenant's parts.
    pub fn parts(&self, tenant: &TenantId) -> Vec<Arc<MetricPart>> {
        let parts = self.parts.read().unwrap_or_else(|p| p.into_inner());
        parts.get(tenant).cloned().unwrap_or_default()
    }

    /// Returns every part of every tenant.
    pub fn all(&self) -> Vec<Arc<MetricPart>> {
        let parts = self.parts.read().unwrap_or_else(|p| p.into_inner());
        parts.values().flatten().cloned().collect()
    }
}
