//! [`PartReader`]: Parquet's async reader interface over an `object_store` object of known size.
//! Every range it fetches is first charged to the reading query's scan budget
//! ([`crate::scan`]).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

/// Reads byte ranges of one part from the object store.
#[derive(Clone, Debug)]
pub struct PartReader {
    objects: Arc<dyn ObjectStore>,
    path: Path,
    size_bytes: u64,
}

impl PartReader {
    /// Reads `path`, whose size is `size_bytes`, from `objects`.
    pub fn new(objects: Arc<dyn ObjectStore>, path: Path, size_bytes: u64) -> Self {
        Self {
            objects,
            path,
            size_bytes,
        }
    }
}

fn to_parquet_error(error: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(error))
}

/// Charges `bytes` to the query's scan budget; [`crate::Error::parquet`] recognises the refusal.
fn charge(bytes: u64) -> parquet::errors::Result<()> {
    crate::scan::charge(bytes).map_err(|exceeded| ParquetError::External(Box::new(exceeded)))
}

impl AsyncFileReader for PartReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        if let Err(error) = charge(range.end.saturating_sub(range.start)) {
            return futures::future::ready(Err(error)).boxed();
        }
        self.objects
            .get_range(&self.path, range)
            .map_err(to_parquet_error)
            .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            charge(
                ranges
                    .iter()
                    .map(|range| range.end.saturating_sub(range.start))
                    .sum(),
            )?;
            self.objects
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(to_parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size_bytes;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
