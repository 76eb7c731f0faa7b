//! Avro object container files through arrow-avro: nullable columns become `["null", T]`
//! unions, and timestamps, dates, decimals and uuids carry their logical types, so any Avro
//! reader gets typed values back. Each batch is one OCF block.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow_avro::compression::CompressionCodec;
use arrow_avro::reader::ReaderBuilder;
use arrow_avro::writer::format::AvroOcfFormat;
use arrow_avro::writer::{Writer, WriterBuilder};
use bytes::Bytes;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

use super::{BatchEncoder, Compression, SharedBuffer};
use crate::blocking::{receiver_stream, spawn_blocking};
use crate::error::{Error, Result};
use crate::postgres::types::PG_TYPE_KEY;
use crate::storage::Location;

struct AvroEncoder {
    writer: Writer<SharedBuffer, AvroOcfFormat>,
    sink: SharedBuffer,
    /// The writer's schema: batches are re-labelled with it (same columns, Avro metadata).
    schema: SchemaRef,
}

/// An OCF encoder for batches of `schema`; the record is named after `record_name`.
pub fn encoder(
    schema: &SchemaRef,
    record_name: &str,
    compression: Compression,
) -> Result<Box<dyn BatchEncoder>> {
    let schema = Arc::new(avro_schema(schema, record_name));
    let codec = match compression {
        Compression::None => None,
        Compression::Deflate => Some(CompressionCodec::Deflate),
        Compression::Snappy => Some(CompressionCodec::Snappy),
        Compression::Zstd => Some(CompressionCodec::ZStandard),
    };
    let sink = SharedBuffer::default();
    let writer = WriterBuilder::new(schema.as_ref().clone())
        .with_compression(codec)
        .with_capacity(1 << 20)
        .build::<_, AvroOcfFormat>(sink.clone())
        .map_err(|e| Error::Invalid(format!("cannot write {record_name} as Avro: {e}")))?;
    Ok(Box::new(AvroEncoder {
        writer,
        sink,
        schema,
    }))
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
        self.writer
            .write(&batch)
            .map_err(|e| Error::Invalid(format!("encoding Avro: {e}")))?;
        Ok(self.sink.take())
    }

    fn finish(mut self: Box<Self>) -> Result<Bytes> {
        self.writer
            .finish()
            .map_err(|e| Error::Invalid(format!("encoding Avro: {e}")))?;
        Ok(self.sink.take())
    }
}

/// Stream the batches of the Avro file `relative`: the bytes are fetched in one request and
/// decoded on the blocking pool as they arrive.
pub async fn read(
    location: &Location,
    relative: &str,
    batch_size: usize,
) -> Result<SendableRecordBatchStream> {
    let mut bytes = location.read(relative).await?;
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
