//! `lakeshift restore file`: one Avro or Parquet file that lakeshift did not write (Spark,
//! fastavro, pyarrow, ...) into an existing table. Columns are matched by name and cast to
//! the table's types; every mismatch is found before anything is written.

use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::{FileFormat, READ_BATCH_ROWS};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, split_name};
use crate::postgres::load::Load;
use crate::postgres::read::{conform, read_columns, read_schema};
use crate::postgres::write::{LoadColumns, LoadMode};
use crate::storage::{Location, S3Options};

/// What `restore file` loaded.
#[derive(Debug, Clone, Serialize)]
pub struct FileRestoreSummary {
    pub file: String,
    pub table: String,
    pub rows: u64,
    pub columns: Vec<String>,
}

/// Append the rows of `file` (a path or URL ending in `.avro` or `.parquet`) to `table` in
/// one transaction.
pub async fn restore_file(
    target: &DbUrl,
    table: &str,
    file: &str,
    s3: &S3Options,
) -> Result<FileRestoreSummary> {
    let (dir, name) = file.rsplit_once('/').unwrap_or((".", file));
    let format = FileFormat::of_path(name).ok_or_else(|| {
        Error::Invalid(format!(
            "{file}: cannot tell the format (the name must end in .avro or .parquet)"
        ))
    })?;
    let location = Location::parse(if dir.is_empty() { "/" } else { dir }, s3)?;
    let schema_name = split_name(table).0.unwrap_or_else(|| "public".into());
    let catalog = Catalog::load(target, &[schema_name]).await?;
    let Some(table_def) = catalog.table(table) else {
        return Err(Error::UnknownTable {
            table: table.to_string(),
            url: target.redacted(),
        });
    };
    let batches = format.read(&location, name, READ_BATCH_ROWS, None).await?;
    let file_schema = batches.schema();
    let columns = read_columns(&catalog, table_def);
    let mut chosen = Vec::new();
    for field in file_schema.fields() {
        let found = columns
            .iter()
            .find(|(c, _)| c.name == *field.name())
            .or_else(|| {
                columns
                    .iter()
                    .find(|(c, _)| c.name.eq_ignore_ascii_case(field.name()))
            });
        let Some((column, kind)) = found else {
            return Err(Error::Mismatch {
                table: file.to_string(),
                reason: format!(
                    "column {} has no column of that name in {table}",
                    field.name()
                ),
            });
        };
        let to = kind.arrow_type();
        let uuid_text = matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8)
            && to == DataType::FixedSizeBinary(16);
        if !uuid_text && !can_cast_types(field.data_type(), &to) {
            return Err(Error::Mismatch {
                table: file.to_string(),
                reason: format!(
                    "column {} holds {} values, which cannot become {} ({table}.{})",
                    field.name(),
                    field.data_type(),
                    column.type_sql,
                    column.name
                ),
            });
        }
        chosen.push((*column, kind.clone()));
    }
    let loaded = |name: &str| chosen.iter().any(|(c, _)| c.name == name);
    if let Some(missing) = table_def.columns.iter().find(|c| {
        c.not_null
            && c.default.is_none()
            && c.identity.is_none()
            && c.generated.is_none()
            && !loaded(&c.name)
    }) {
        return Err(Error::Mismatch {
            table: file.to_string(),
            reason: format!(
                "has no column {}, which {table} requires (NOT NULL without a default)",
                missing.name
            ),
        });
    }
    let schema: SchemaRef = read_schema(&chosen);
    let load = LoadColumns {
        names: chosen.iter().map(|(c, _)| c.name.clone()).collect(),
        kinds: chosen.iter().map(|(_, k)| k.clone()).collect(),
        tagged: false,
    };
    let label = format!("{file} -> {table}");
    let batches = batches
        .map_err(Error::from)
        .and_then(move |batch: RecordBatch| {
            let (schema, label) = (schema.clone(), label.clone());
            async move { conform(&batch, &schema, &label) }
        });
    let mut client = target.connect().await?;
    let sink = Load::begin(&mut client, "the restore").await?;
    let rows = sink
        .table(
            &catalog,
            table_def,
            &load,
            LoadMode::Append,
            batches.boxed(),
        )
        .await?
        .rows;
    sink.commit(&format!("the restore of {file}")).await?;
    Ok(FileRestoreSummary {
        file: file.to_string(),
        table: table_def.full_name(),
        rows,
        columns: load.names,
    })
}
