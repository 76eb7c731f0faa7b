//! File formats lakeshift reads and writes: typed CSV for imports, Avro and Parquet for
//! backups. A data file is written through a [`BatchEncoder`] (bytes out per batch, so the
//! caller streams them to storage) and read back as a stream of batches.

pub mod avro;
pub mod csv;
pub mod parquet;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::execution::SendableRecordBatchStream;

use crate::error::Result;
use crate::options::Choice;
use crate::storage::Location;
use crate::storage::encryption::FileCipher;

/// Rows per batch when data files are read back.
pub const READ_BATCH_ROWS: usize = 64 * 1024;

/// The format of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Avro object container files (deflate by default: every Avro reader has it).
    #[default]
    Avro,
    /// Parquet (zstd by default).
    Parquet,
}

impl Choice for FileFormat {
    const NAMES: &'static [&'static str] = &["avro", "parquet"];
}

impl FileFormat {
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Avro => "avro",
            FileFormat::Parquet => "parquet",
        }
    }

    /// The format a file name's extension names.
    pub fn of_path(path: &str) -> Option<FileFormat> {
        let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "avro" => Some(FileFormat::Avro),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// The codec used when none is asked for.
    pub fn default_compression(self) -> Compression {
        match self {
            FileFormat::Avro => Compression::Deflate,
            FileFormat::Parquet => Compression::Zstd,
        }
    }

    /// An encoder for files of this format holding batches of `schema`.
    pub fn encoder(
        self,
        schema: &SchemaRef,
        record_name: &str,
        compression: Compression,
    ) -> Result<Box<dyn BatchEncoder>> {
        match self {
            FileFormat::Avro => avro::encoder(schema, record_name, compression),
            FileFormat::Parquet => parquet::encoder(schema, compression),
        }
    }

    /// Stream the batches of `relative` under `location`, as the file's own schema has them
    /// (opened with `cipher` when the file is sealed).
    pub async fn read(
        self,
        location: &Location,
        relative: &str,
        batch_size: usize,
        cipher: Option<&FileCipher>,
    ) -> Result<SendableRecordBatchStream> {
        match self {
            FileFormat::Avro => avro::read(location, relative, batch_size, cipher).await,
            FileFormat::Parquet => parquet::read(location, relative, batch_size, cipher).await,
        }
    }
}

/// Compression codecs of data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Deflate,
    Snappy,
    Zstd,
}

impl Choice for Compression {
    const NAMES: &'static [&'static str] = &["none", "deflate", "snappy", "zstd"];
}

/// Turns batches into the bytes of one file, a piece at a time.
pub trait BatchEncoder: Send {
    /// Encode `batch`; returns the bytes that are final now (possibly none while the format
    /// buffers, e.g. a Parquet row group).
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes>;

    /// End the file; returns its last bytes.
    fn finish(self: Box<Self>) -> Result<Bytes>;
}
