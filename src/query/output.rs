//! Writing a query's result: an aligned text table, CSV, JSON (an array of objects) or
//! Parquet, to standard output or to a file that appears only when complete. Rows stream
//! through; only the text table holds rows, and at most [`TABLE_ROWS`] of them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::execution::SendableRecordBatchStream;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::{BatchEncoder, Compression};
use crate::storage::{Location, S3Options};

/// Rows a text table shows; the rest are counted.
pub const TABLE_ROWS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// An aligned text table.
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Parquet (zstd); needs an output file.
    Parquet,
}

impl crate::options::Choice for OutputFormat {
    const NAMES: &'static [&'static str] = &["table", "csv", "json", "parquet"];
}

impl OutputFormat {
    /// The format a file name's extension names.
    pub fn of_path(path: &str) -> Option<OutputFormat> {
        let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(OutputFormat::Csv),
            "json" => Some(OutputFormat::Json),
            "parquet" => Some(OutputFormat::Parquet),
            "txt" => Some(OutputFormat::Table),
            _ => None,
        }
    }
}

/// Write `stream` as `format` to `out` (a path or URL) or standard output; the rows written.
pub async fn write(
    mut stream: SendableRecordBatchStream,
    format: OutputFormat,
    out: Option<&str>,
) -> Result<u64> {
    let mut encoder = encoder(format, &stream.schema())?;
    let mut sink = match out {
        Some(out) => Sink::file(out).await?,
        None if format == OutputFormat::Parquet => {
            return Err(Error::Invalid(
                "--format parquet needs an output file (-o FILE)".into(),
            ));
        }
        None => Sink::Stdout,
    };
    let mut rows = 0u64;
    let written: Result<()> = async {
        while let Some(batch) = stream.try_next().await.map_err(execution_error)? {
            rows += batch.num_rows() as u64;
            let bytes = encoder.write(&batch)?;
            sink.write(bytes).await?;
        }
        sink.write(encoder.finish()?).await
    }
    .await;
    match written {
        Ok(()) => {
            sink.finish().await?;
            Ok(rows)
        }
        Err(e) => {
            sink.abort().await;
            Err(e)
        }
    }
}

/// A failure while the query ran: lakeshift's own errors come back as themselves.
pub fn execution_error(err: datafusion::error::DataFusionError) -> Error {
    match err {
        datafusion::error::DataFusionError::External(_) => Error::from(err),
        other => Error::Sql {
            location: "running the query".into(),
            reason: other.find_root().to_string(),
        },
    }
}

enum Sink {
    Stdout,
    File(Box<crate::storage::ObjectWriter>),
}

impl Sink {
    async fn file(out: &str) -> Result<Sink> {
        let (dir, name) = match out.rsplit_once('/') {
            Some((dir, name)) => (if dir.is_empty() { "/" } else { dir }, name),
            None => (".", out),
        };
        let location = Location::parse(dir, &S3Options::default())?;
        Ok(Sink::File(Box::new(location.create(name).await?)))
    }

    async fn write(&mut self, bytes: Bytes) -> Result<()> {
        match self {
            Sink::Stdout => std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| Error::io("standard output", e)),
            Sink::File(writer) => writer.write(bytes).await,
        }
    }

    async fn finish(self) -> Result<()> {
        match self {
            Sink::Stdout => std::io::stdout()
                .flush()
                .map_err(|e| Error::io("standard output", e)),
            Sink::File(writer) => writer.finish().await.map(|_| ()),
        }
    }

    async fn abort(self) {
        if let Sink::File(writer) = self {
            writer.abort().await;
        }
    }
}

fn encoder(format: OutputFormat, schema: &SchemaRef) -> Result<Box<dyn BatchEncoder>> {
    Ok(match format {
        OutputFormat::Table => Box::new(TableEncoder::default()),
        OutputFormat::Csv => Box::new(CsvEncoder::new()),
        OutputFormat::Json => Box::new(JsonEncoder::new()),
        OutputFormat::Parquet => crate::formats::parquet::encoder(schema, Compression::Zstd)?,
    })
}

/// Bytes written by an arrow writer, taken after each batch.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(&mut *self.0.lock().expect("buffer lock")))
    }
}

struct CsvEncoder {
    writer: arrow::csv::Writer<Buffer>,
    buffer: Buffer,
}

impl CsvEncoder {
    fn new() -> Self {
        let buffer = Buffer::default();
        let writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(buffer.clone());
        CsvEncoder { writer, buffer }
    }
}

impl BatchEncoder for CsvEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes> {
        self.writer.write(batch)?;
        Ok(self.buffer.take())
    }

    fn finish(self: Box<Self>) -> Result<Bytes> {
        Ok(self.buffer.take())
    }
}

struct JsonEncoder {
    writer: arrow::json::ArrayWriter<Buffer>,
    buffer: Buffer,
}

impl JsonEncoder {
    fn new() -> Self {
        let buffer = Buffer::default();
        let writer = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(buffer.clone());
        JsonEncoder { writer, buffer }
    }
}

impl BatchEncoder for JsonEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes> {
        self.writer.write(batch)?;
        Ok(self.buffer.take())
    }

    fn finish(mut self: Box<Self>) -> Result<Bytes> {
        self.writer.finish()?;
        let mut bytes = self.buffer.take().to_vec();
        if bytes.is_empty() {
            bytes.extend_from_slice(b"[]"); // no rows: still a JSON document
        }
        bytes.push(b'\n');
        Ok(Bytes::from(bytes))
    }
}

/// Holds up to [`TABLE_ROWS`] rows and prints them aligned at the end.
#[derive(Default)]
struct TableEncoder {
    batches: Vec<RecordBatch>,
    held: usize,
    more: u64,
}

impl BatchEncoder for TableEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes> {
        let room = TABLE_ROWS - self.held;
        let keep = batch.num_rows().min(room);
        if keep > 0 {
            self.batches.push(batch.slice(0, keep));
            self.held += keep;
        }
        self.more += (batch.num_rows() - keep) as u64;
        Ok(Bytes::new())
    }

    fn finish(self: Box<Self>) -> Result<Bytes> {
        let mut text = arrow::util::pretty::pretty_format_batches(&self.batches)?.to_string();
        text.push('\n');
        let shown = self.held;
        if self.more > 0 {
            text.push_str(&format!(
                "({shown} rows shown, {} more; use --format csv|json|parquet -o FILE for all)\n",
                self.more
            ));
        } else {
            text.push_str(&format!(
                "({shown} row{})\n",
                if shown == 1 { "" } else { "s" }
            ));
        }
        Ok(Bytes::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
            ],
        )
        .unwrap()
    }

    fn encode(format: OutputFormat) -> String {
        let batch = batch();
        let mut encoder = encoder(format, &batch.schema()).unwrap();
        let mut out = encoder.write(&batch).unwrap().to_vec();
        out.extend_from_slice(&encoder.finish().unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_and_json_keeps_nulls() {
        assert_eq!(encode(OutputFormat::Csv), "id,name\n1,\"a,b\"\n2,\n");
        assert_eq!(
            encode(OutputFormat::Json),
            "[{\"id\":1,\"name\":\"a,b\"},{\"id\":2,\"name\":null}]\n"
        );
        let table = encode(OutputFormat::Table);
        assert!(
            table.contains("| 1  | a,b  |") && table.ends_with("(2 rows)\n"),
            "{table}"
        );
    }
}
