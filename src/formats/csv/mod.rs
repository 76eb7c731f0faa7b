//! Typed CSV reading: records are split ([`split`]), each field is parsed by its target
//! column's kind ([`values`]), rows that fail are written to the reject log ([`rejects`]) and
//! never reach a batch, and good rows become Arrow batches ([`columns`]).

pub mod rejects;
pub mod split;

use std::io::Read;
use std::path::PathBuf;

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::postgres::types::PgKind;
use crate::values::ColumnBuilder;
use crate::values::{self, Value};
use rejects::{Reject, RejectLog};
use split::{FieldSpan, Framing, RecordReader, split_fields};

/// How the CSV is written (YAML: `csv: {header, delimiter, quote, null_string,
/// max_record_bytes}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvOptions {
    #[serde(deserialize_with = "crate::options::ascii_char")]
    pub delimiter: u8,
    #[serde(deserialize_with = "crate::options::ascii_char")]
    pub quote: u8,
    /// The first record is a header: its names say which column each field fills.
    pub header: bool,
    /// An unquoted field equal to this is NULL (an unquoted empty field always is).
    pub null_string: Option<String>,
    /// A record (and so a field) of this many bytes or more is a reject ([`split`] says how
    /// reading recovers).
    pub max_record_bytes: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            header: false,
            null_string: None,
            max_record_bytes: split::DEFAULT_MAX_RECORD,
        }
    }
}

impl CsvOptions {
    pub fn framing(&self) -> Framing {
        Framing {
            delimiter: self.delimiter,
            quote: self.quote,
            max_record: self.max_record_bytes,
        }
    }
}

/// The names in the first record of `input` (a header), unquoted as fields are.
pub fn read_header(input: impl Read, options: &CsvOptions) -> std::io::Result<Vec<String>> {
    let mut records = RecordReader::new(input, options.framing());
    let Some(record) = records.next_record()? else {
        return Ok(Vec::new());
    };
    if let Some(reason) = record.refused {
        return Err(std::io::Error::other(format!("the header: {reason}")));
    }
    let (mut scratch, mut spans) = (Vec::new(), Vec::new());
    split_fields(
        record.raw,
        options.delimiter,
        options.quote,
        &mut scratch,
        &mut spans,
    )
    .map_err(std::io::Error::other)?;
    let mut names: Vec<String> = spans
        .iter()
        .map(|span| String::from_utf8_lossy(&scratch[span.range.clone()]).into_owned())
        .collect();
    if let Some(first) = names.first_mut().filter(|n| n.starts_with('\u{feff}')) {
        first.remove(0);
    }
    Ok(names)
}

/// One CSV field's destination.
#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    /// The Arrow field the column's values become.
    pub field: arrow::datatypes::FieldRef,
    pub kind: PgKind,
    pub not_null: bool,
}

/// Why a row check refused a row: the column it concerns (index) and the reason.
pub type Refusal = (Option<usize>, String);

/// Row-level checks beyond one value's type (keys): called for each otherwise valid row.
pub trait RowCheck {
    /// Refuse the row, or accept it and remember what later rows must be checked against.
    fn check(&mut self, values: &[Value], text: &[u8]) -> Result<(), Refusal>;
}

/// Counters of one read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadStats {
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub bytes_read: u64,
}

/// Reads a CSV as Arrow batches of the target's schema, logging rejected rows.
pub struct TypedCsvReader<R> {
    records: RecordReader<R>,
    options: CsvOptions,
    columns: Vec<TargetColumn>,
    schema: SchemaRef,
    builders: Vec<ColumnBuilder>,
    file: String,
    path: PathBuf,
    rejects: RejectLog,
    max_rejects: Option<u64>,
    batch_size: usize,
    rows_read: u64,
    scratch: Vec<u8>,
    bytes: Vec<u8>,
    spans: Vec<FieldSpan>,
    values: Vec<Value>,
    /// Source line of each accepted row, when asked for ([`TypedCsvReader::with_line_numbers`]).
    lines: Option<Int64Builder>,
}

impl<R: Read> TypedCsvReader<R> {
    /// The batches have one field per column, as the columns give them.
    pub fn new(
        input: R,
        path: PathBuf,
        options: CsvOptions,
        columns: Vec<TargetColumn>,
        rejects: RejectLog,
        max_rejects: Option<u64>,
        batch_size: usize,
    ) -> Self {
        let fields: Vec<_> = columns.iter().map(|c| c.field.clone()).collect();
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let builders = schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::new(f.data_type(), batch_size))
            .collect();
        TypedCsvReader {
            records: RecordReader::new(input, options.framing()),
            file: path.display().to_string(),
            path,
            options,
            columns,
            schema,
            builders,
            rejects,
            max_rejects,
            batch_size,
            rows_read: 0,
            scratch: Vec::new(),
            bytes: Vec::new(),
            spans: Vec::new(),
            values: Vec::new(),
            lines: None,
        }
    }

    /// End every batch with a non-null Int64 column `name` holding each row's line number.
    pub fn with_line_numbers(mut self, name: &str) -> Self {
        let mut fields: Vec<FieldRef> = self.schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(name, DataType::Int64, false)));
        self.schema = Arc::new(Schema::new(fields));
        self.lines = Some(Int64Builder::with_capacity(self.batch_size));
        self
    }

    pub fn stats(&self) -> ReadStats {
        ReadStats {
            rows_read: self.rows_read,
            rows_rejected: self.rejects.count(),
            bytes_read: self.records.bytes_read(),
        }
    }

    /// Finish reading: the reject log is published (its path returned when it has entries).
    pub fn finish(self) -> Result<Option<PathBuf>> {
        self.rejects.publish()
    }

    /// The next batch of accepted rows, or `None` at the end of the file.
    pub fn next_batch(&mut self, check: &mut dyn RowCheck) -> Result<Option<RecordBatch>> {
        let mut rows = 0;
        while rows < self.batch_size {
            let Some(record) = self
                .records
                .next_record()
                .map_err(|e| Error::io(&self.path, e))?
            else {
                break;
            };
            if record.raw.is_empty() || (self.options.header && record.line == 1) {
                continue;
            }
            self.rows_read += 1;
            let line = record.line;
            if let Some(reason) = record.refused {
                self.reject(line, None, reason)?;
                continue;
            }
            let refusal = split_fields(
                record.raw,
                self.options.delimiter,
                self.options.quote,
                &mut self.scratch,
                &mut self.spans,
            )
            .map_err(|reason| (None, reason.to_string()))
            .and_then(|()| self.parse_row())
            .and_then(|()| check.check(&self.values, &self.scratch));
            match refusal {
                Ok(()) => {
                    for (builder, value) in self.builders.iter_mut().zip(&self.values) {
                        builder.append(value, &self.scratch, &self.bytes);
                    }
                    if let Some(lines) = &mut self.lines {
                        lines.append_value(line as i64);
                    }
                    rows += 1;
                }
                Err((column, reason)) => self.reject(line, column, reason)?,
            }
        }
        if rows == 0 {
            return Ok(None);
        }
        let mut arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        if let Some(lines) = &mut self.lines {
            arrays.push(Arc::new(lines.finish()));
        }
        Ok(Some(RecordBatch::try_new(self.schema.clone(), arrays)?))
    }

    /// Parse the split fields into `self.values`.
    fn parse_row(&mut self) -> Result<(), Refusal> {
        if self.spans.len() != self.columns.len() {
            return Err((
                None,
                format!(
                    "expected {} fields, found {}",
                    self.columns.len(),
                    self.spans.len()
                ),
            ));
        }
        self.values.clear();
        self.bytes.clear();
        for (i, (span, column)) in self.spans.iter().zip(&self.columns).enumerate() {
            let text = &self.scratch[span.range.clone()];
            let is_null = !span.quoted
                && (text.is_empty()
                    || self
                        .options
                        .null_string
                        .as_deref()
                        .is_some_and(|n| n.as_bytes() == text));
            let value = if is_null {
                if column.not_null {
                    return Err((Some(i), "NULL in a NOT NULL column".into()));
                }
                Value::Null
            } else {
                values::parse(&column.kind, text, span.range.clone(), &mut self.bytes)
                    .map_err(|r| (Some(i), r))?
            };
            self.values.push(value);
        }
        Ok(())
    }

    fn reject(&mut self, line: u64, column: Option<usize>, reason: String) -> Result<()> {
        let raw = String::from_utf8_lossy(self.records.last_raw()).into_owned();
        let column = column.map(|i| self.columns[i].name.clone());
        self.log_reject(line, column, reason, raw)
    }

    /// Reject rows refused after parsing (by the server), given as `(line, column, reason)`
    /// in line order: their raw lines are read again from the file.
    pub fn reject_late(&mut self, late: &[(u64, String, String)]) -> Result<()> {
        if late.is_empty() {
            return Ok(());
        }
        let file = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut records = RecordReader::new(file, self.options.framing());
        let mut pending = late.iter().peekable();
        while let Some(record) = records
            .next_record()
            .map_err(|e| Error::io(&self.path, e))?
        {
            let Some((line, column, reason)) = pending.peek() else {
                break;
            };
            if *line != record.line {
                continue;
            }
            let raw = String::from_utf8_lossy(record.raw).into_owned();
            let (line, column, reason) = (*line, Some(column.clone()), reason.clone());
            pending.next();
            self.log_reject(line, column, reason, raw)?;
        }
        Ok(())
    }

    fn log_reject(
        &mut self,
        line: u64,
        column: Option<String>,
        reason: String,
        raw: String,
    ) -> Result<()> {
        self.rejects.write(&Reject {
            file: self.file.clone(),
            line,
            column,
            reason,
            raw,
        })?;
        if let Some(max) = self.max_rejects
            && self.rejects.count() > max
        {
            return Err(Error::TooManyRejects {
                path: self.path.clone(),
                rejected: self.rejects.count(),
                max,
                rejects_path: self.rejects.path().to_path_buf(),
            });
        }
        Ok(())
    }
}
