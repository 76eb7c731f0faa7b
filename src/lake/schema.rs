//! Postgres-shaped Arrow -> Delta: Delta has no time-of-day or UUID type, so those become
//! text (`HH:MM:SS.ffffff`, hyphenated UUIDs); time zones are spelled `UTC`; every column
//! is nullable so that a column added later can hold nulls for the older rows. The
//! Postgres type stays in each field's metadata.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};

use super::delta_error;
use crate::error::Result;

/// The Delta-compatible schema of batches shaped like `source`.
pub fn delta_schema(source: &Schema) -> SchemaRef {
    let fields: Vec<Field> = source
        .fields()
        .iter()
        .map(|f| {
            Field::new(f.name(), delta_type(f.data_type()), true)
                .with_metadata(f.metadata().clone())
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The Delta-compatible type of a column carried as `source`.
pub fn delta_type(source: &DataType) -> DataType {
    match source {
        DataType::Time64(_) | DataType::FixedSizeBinary(16) => DataType::Utf8,
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, Some("UTC".into())),
        DataType::List(item) => DataType::List(Arc::new(Field::new(
            item.name(),
            delta_type(item.data_type()),
            true,
        ))),
        other => other.clone(),
    }
}

/// Convert `batch` to `schema` (from [`delta_schema`] of the batch's own schema).
pub fn to_delta(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| convert(column, field.data_type()))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn convert(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if column.data_type() == to {
        return Ok(column.clone());
    }
    if let DataType::FixedSizeBinary(16) = column.data_type() {
        let bytes = column.as_fixed_size_binary();
        let mut text = StringBuilder::with_capacity(bytes.len(), bytes.len() * 36);
        for value in bytes.iter() {
            match value.and_then(|b| uuid::Uuid::from_slice(b).ok()) {
                Some(id) => text.append_value(id.hyphenated().to_string()),
                None => text.append_null(),
            }
        }
        return Ok(Arc::new(text.finish()));
    }
    Ok(cast(column, to)?)
}

/// How a source's columns differ from its Delta table's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaChange {
    /// Source columns the Delta table lacks.
    pub added: Vec<String>,
    /// Delta columns the source no longer has.
    pub removed: Vec<String>,
}

impl SchemaChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compare `incoming` (a [`delta_schema`]) with `existing` (a Delta table's schema). A
/// column whose type differs is an error: Delta cannot change it in place.
pub fn compare(existing: &StructType, incoming: &Schema, table: &str) -> Result<SchemaChange> {
    let as_delta = |schema: &Schema| -> Result<Schema> {
        let kernel: StructType = schema
            .try_into_kernel()
            .map_err(|e| delta_error(table, e))?;
        (&kernel)
            .try_into_arrow()
            .map_err(|e| delta_error(table, e))
    };
    let existing: Schema = existing
        .try_into_arrow()
        .map_err(|e| delta_error(table, e))?;
    let incoming = as_delta(incoming)?;
    let removed = existing
        .fields()
        .iter()
        .filter(|f| incoming.field_with_name(f.name()).is_err())
        .map(|f| f.name().clone())
        .collect();
    let mut added = Vec::new();
    for field in incoming.fields() {
        match existing.field_with_name(field.name()) {
            Ok(old) if !same_type(old, field) => {
                // A column read as text for its values keeps its source type.
                let why = match field.data_type() {
                    DataType::Utf8 => {
                        "its source type changed, or it now holds values (NaN, infinities) \
                         the Delta type cannot carry"
                    }
                    _ => "its source type changed",
                };
                return Err(delta_error(
                    table,
                    format!(
                        "column {} arrives as {}, the Delta table holds {} ({why}); Delta cannot \
                         change a column's type: sync into a new table or drop this one",
                        field.name(),
                        field.data_type(),
                        old.data_type(),
                    ),
                ));
            }
            Ok(_) => {}
            Err(_) => added.push(field.name().clone()),
        }
    }
    Ok(SchemaChange { added, removed })
}

fn same_type(a: &Field, b: &Field) -> bool {
    match (a.data_type(), b.data_type()) {
        // Delta has one timestamp type with a zone; its Arrow spelling of the zone varies.
        (
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)),
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)),
        ) => true,
        (DataType::List(x), DataType::List(y)) => same_type(x, y),
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{FixedSizeBinaryArray, Int32Array, Time64MicrosecondArray};

    #[test]
    fn times_and_uuids_become_text_and_every_column_nullable() {
        let source = Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("at", DataType::Time64(TimeUnit::Microsecond), true),
            Field::new("key", DataType::FixedSizeBinary(16), true),
        ]);
        let schema = delta_schema(&source);
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
        let id = uuid::Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        let batch = RecordBatch::try_new(
            Arc::new(source),
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(Time64MicrosecondArray::from(vec![
                    Some(3_723_000_001),
                    None,
                ])),
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some(id.as_bytes().to_vec()), None].into_iter(),
                        16,
                    )
                    .unwrap(),
                ),
            ],
        )
        .unwrap();
        let out = to_delta(&batch, &schema).unwrap();
        let at = out.column(1).as_string::<i32>();
        assert_eq!(at.value(0), "01:02:03.000001");
        assert!(at.is_null(1));
        let key = out.column(2).as_string::<i32>();
        assert_eq!(key.value(0), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert!(key.is_null(1));
    }

    #[test]
    fn added_and_removed_columns_are_found_and_a_changed_type_refused() {
        let old = delta_schema(&Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        let old: StructType = old.as_ref().try_into_kernel().unwrap();
        let grown = delta_schema(&Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("note", DataType::Utf8, true),
        ]));
        let change = compare(&old, &grown, "t").unwrap();
        assert_eq!(
            (change.added, change.removed),
            (vec!["note".to_string()], vec![])
        );
        let grown: StructType = grown.as_ref().try_into_kernel().unwrap();
        let shrunk = delta_schema(&Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        assert_eq!(compare(&grown, &shrunk, "t").unwrap().removed, vec!["note"]);
        let changed = delta_schema(&Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let err = compare(&old, &changed, "t").unwrap_err().to_string();
        assert!(
            err.contains("column id arrives as Utf8, the Delta table holds Int32"),
            "{err}"
        );
    }
}
