//! Avro object container files: arrow-avro encodes the rows (nullable columns become
//! `["null", T]` unions; timestamps, dates, times, decimals and uuids carry their logical
//! types, so any Avro reader gets typed values back) and [`container`] frames them, one
//! block per batch. Reading is arrow-avro's.

use std::collections::HashMap;
use std::io::{BufReader, Read};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow_avro::reader::ReaderBuilder;
use arrow_avro::schema::SCHEMA_METADATA_KEY;
use arrow_avro::writer::format::AvroBinaryFormat;
use arrow_avro::writer::{Encoder, WriterBuilder};
use bytes::Bytes;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use sha2::Digest;

mod container;

use super::{BatchEncoder, Compression};
use crate::blocking::{receiver_stream, spawn_blocking};
use crate::error::{Error, Result};
use crate::postgres::types::PG_TYPE_KEY;
use crate::storage::Location;
use crate::storage::encryption::FileCipher;

struct AvroEncoder {
    encoder: Encoder,
    /// The encoder's schema: batches are re-labelled with it (same columns, Avro metadata).
    schema: SchemaRef,
    compression: Compression,
    sync: [u8; 16],
    /// The header, until it is written with the first block.
    header: Option<Vec<u8>>,
}

/// An OCF encoder for batches of `schema`; the record is named after `record_name`.
pub fn encoder(
    schema: &SchemaRef,
    record_name: &str,
    compression: Compression,
) -> Result<Box<dyn BatchEncoder>> {
    let encoder = WriterBuilder::new(avro_schema(schema, record_name))
        .with_capacity(1 << 20)
        .build_encoder::<AvroBinaryFormat>()
        .map_err(|e| Error::Invalid(format!("cannot write {record_name} as Avro: {e}")))?;
    let schema = encoder.schema();
    let json = schema
        .metadata()
        .get(SCHEMA_METADATA_KEY)
        .cloned()
        .ok_or_else(|| Error::Internal {
            task: "writing Avro".into(),
            reason: "the encoder has no Avro schema".into(),
        })?;
    let sync = sync_marker(record_name);
    Ok(Box::new(AvroEncoder {
        header: Some(container::header(&json, compression, &sync)),
        encoder,
        schema,
        compression,
        sync,
    }))
}

/// 16 bytes that differ from file to file (they delimit blocks; not a secret).
fn sync_marker(record_name: &str) -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = sha2::Sha256::digest(format!("{nanos}/{}/{record_name}", std::process::id()));
    let mut sync = [0u8; 16];
    sync.copy_from_slice(&digest[..16]);
    sync
}

/// `schema` as the Avro writer wants it: uuids marked with their logical type, the record
/// named after the table. The Postgres type of each column stays in the field's attributes.
fn avro_schema(schema: &SchemaRef, record_name: &str) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut metadata = f.metadata().clone();
            let is_uuid = metadata.get(PG_TYPE_KEY).is_some_and(|t| t == "uuid");
            if is_uuid && f.data_type() == &DataType::FixedSizeBinary(16) {
                metadata.insert("logicalType".into(), "uuid".into());
            }
            f.as_ref().clone().with_metadata(metadata)
        })
        .collect();
    Schema::new_with_metadata(
        fields,
        HashMap::from([("avro.name".to_string(), record_name.to_string())]),
    )
}

impl BatchEncoder for AvroEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes> {
        let batch = RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())?;
        self.encoder
            .encode(&batch)
            .map_err(|e| Error::Invalid(format!("encoding Avro: {e}")))?;
        let rows = self.encoder.flush();
        let block = container::block(rows.len(), rows.bytes(), self.compression, &self.sync)?;
        let mut out = self.header.take().unwrap_or_default();
        out.extend_from_slice(&block);
        Ok(Bytes::from(out))
    }

    fn finish(mut self: Box<Self>) -> Result<Bytes> {
        // A file without rows is its header alone.
        Ok(Bytes::from(self.header.take().unwrap_or_default()))
    }
}

/// Stream the batches of the Avro file `relative`: the bytes are fetched in one request
/// (opened with `cipher` when sealed) and decoded on the blocking pool as they arrive.
pub async fn read(
    location: &Location,
    relative: &str,
    batch_size: usize,
    cipher: Option<&FileCipher>,
) -> Result<SendableRecordBatchStream> {
    let mut bytes = location.read_opened(relative, cipher).await?;
    let (chunks, chunk_receiver) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    tokio::spawn(async move {
        while let Some(chunk) = bytes.next().await {
            if chunks.send(chunk).await.is_err() {
                break;
            }
        }
    });
    let url = location.describe(relative);
    let (batches, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let (schema_sender, schema_receiver) = tokio::sync::oneshot::channel::<Result<SchemaRef>>();
    let decoding = spawn_blocking("decoding Avro", move || {
        let input = BufReader::with_capacity(1 << 20, ChannelReader::new(chunk_receiver));
        let bad = |e: &dyn std::fmt::Display| Error::Storage {
            url: url.clone(),
            reason: format!("not a readable Avro file: {e}"),
        };
        let reader = match ReaderBuilder::new()
            .with_batch_size(batch_size)
            .build(input)
        {
            Ok(reader) => reader,
            Err(e) => {
                let _ = schema_sender.send(Err(bad(&e)));
                return Ok(());
            }
        };
        let _ = schema_sender.send(Ok(reader.schema()));
        for batch in reader {
            let batch = batch.map_err(|e| bad(&e));
            let failed = batch.is_err();
            if batches.blocking_send(batch).is_err() || failed {
                break;
            }
        }
        Ok(())
    });
    let schema = match schema_receiver.await {
        Ok(schema) => schema?,
        Err(_) => {
            decoding.await?;
            return Err(Error::Internal {
                task: "decoding Avro".into(),
                reason: "the decoder stopped before reading the header".into(),
            });
        }
    };
    let tail = futures::stream::once(async move { decoding.await.err() })
        .filter_map(|e| async move { e.map(Err) });
    let stream = receiver_stream(receiver)
        .chain(tail)
        .map(|r| r.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e))));
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// A blocking `Read` over chunks arriving on a channel.
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(chunks: tokio::sync::mpsc::Receiver<Result<Bytes>>) -> Self {
        ChannelReader {
            chunks,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
