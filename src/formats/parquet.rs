//! Parquet files through the parquet crate (zstd by default), read back with its async
//! reader over ranged requests (footer first, then the row groups), sealed files too.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::basic::{Compression as ParquetCodec, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;

use super::{BatchEncoder, Compression};
use crate::error::{Error, Result};
use crate::storage::encryption::FileCipher;
use crate::storage::{Location, RangedFile};

/// Rows per row group: large enough to compress well, small enough that the row group the
/// writer holds in memory stays bounded.
const ROW_GROUP_ROWS: usize = 256 * 1024;

struct ParquetEncoder {
    writer: ArrowWriter<SharedBuffer>,
    sink: SharedBuffer,
}

/// A Parquet encoder for batches of `schema`.
pub fn encoder(schema: &SchemaRef, compression: Compression) -> Result<Box<dyn BatchEncoder>> {
    let codec = match compression {
        Compression::None => ParquetCodec::UNCOMPRESSED,
        Compression::Deflate => ParquetCodec::GZIP(Default::default()),
        Compression::Snappy => ParquetCodec::SNAPPY,
        Compression::Zstd => ParquetCodec::ZSTD(ZstdLevel::default()),
    };
    let properties = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let sink = SharedBuffer::default();
    let writer = ArrowWriter::try_new(sink.clone(), schema.clone(), Some(properties))
        .map_err(|e| Error::Invalid(format!("cannot write Parquet: {e}")))?;
    Ok(Box::new(ParquetEncoder { writer, sink }))
}

impl BatchEncoder for ParquetEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes> {
        self.writer
            .write(batch)
            .map_err(|e| Error::Invalid(format!("encoding Parquet: {e}")))?;
        Ok(self.sink.take())
    }

    fn finish(self: Box<Self>) -> Result<Bytes> {
        self.writer
            .close()
            .map_err(|e| Error::Invalid(format!("encoding Parquet: {e}")))?;
        Ok(self.sink.take())
    }
}

/// Stream the batches of the Parquet file `relative` (opened with `cipher` when sealed).
pub async fn read(
    location: &Location,
    relative: &str,
    batch_size: usize,
    cipher: Option<&FileCipher>,
) -> Result<SendableRecordBatchStream> {
    let url = location.describe(relative);
    let bad = move |e: &dyn std::fmt::Display| Error::Storage {
        url: url.clone(),
        reason: format!("not a readable Parquet file: {e}"),
    };
    let reader = StoreReader(Arc::new(location.ranged(relative, cipher).await?));
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| bad(&e))?;
    let schema = builder.schema().clone();
    let stream = builder
        .with_batch_size(batch_size)
        .build()
        .map_err(|e| bad(&e))?;
    let stream = stream.map(move |r| {
        r.map_err(|e| datafusion::error::DataFusionError::External(Box::new(bad(&e))))
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// Ranged reads of one file, as the Parquet reader asks for them.
struct StoreReader(Arc<RangedFile>);

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let file = self.0.clone();
        async move {
            file.get_range(range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let file = self.0.clone();
        async move {
            file.get_ranges(&ranges)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.0.size();
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// A `Write` sink whose content the encoder takes piece by piece while the Parquet writer
/// holds the sink.
#[derive(Debug, Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Bytes {
        let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Bytes::from(std::mem::take(&mut *buffer))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
