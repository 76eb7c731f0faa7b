//! Registering a [`TableSource`] in a DataFusion session, each format by the reader that
//! streams it: Delta's own table provider, DataFusion's Parquet and CSV listing tables, and
//! lakeshift's Avro, backup and Postgres readers behind a [`crate::stream_table`].

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};

use super::source::{SourceFormat, TableSource};
use crate::backup::Manifest;
use crate::error::{Error, Result};
use crate::formats::{FileFormat, READ_BATCH_ROWS};
use crate::postgres::DbUrl;
use crate::postgres::catalog::{Catalog, split_name};
use crate::postgres::irregular::mark_irregular;
use crate::postgres::read::{ReadOptions, Snapshot, read_columns, read_schema, read_table};
use crate::storage::encryption::FileCipher;
use crate::storage::{Location, S3Options};
use crate::stream_table::{Opener, reopening};

/// Make `source` queryable in `ctx` under its name.
pub async fn register(ctx: &SessionContext, source: &TableSource) -> Result<()> {
    let failed = |e: datafusion::error::DataFusionError| Error::Storage {
        url: crate::postgres::connect::redact(&source.location),
        reason: e.to_string(),
    };
    let name = source.name.as_str();
    let provider = match &source.resolved_format()? {
        SourceFormat::Delta { version } => {
            let table = crate::lake::open_table(&source.location, *version).await?;
            table
                .update_datafusion_session(&ctx.state())
                .map_err(|e| crate::lake::delta_error(&source.location, e))?;
            match plain_parquet(&table, &source.location)? {
                Some(provider) => provider,
                None => table
                    .table_provider()
                    .await
                    .map_err(|e| crate::lake::delta_error(&source.location, e))?,
            }
        }
        SourceFormat::Parquet => {
            let (location, extension) = listing_path(&source.location, ".parquet")?;
            let options = ParquetReadOptions {
                file_extension: &extension,
                ..Default::default()
            };
            return ctx
                .register_parquet(name, &location, options)
                .await
                .map_err(failed);
        }
        SourceFormat::Csv { header } => {
            let (location, extension) = listing_path(&source.location, ".csv")?;
            let options = CsvReadOptions::new()
                .has_header(*header)
                .file_extension(&extension);
            return ctx
                .register_csv(name, &location, options)
                .await
                .map_err(failed);
        }
        SourceFormat::Avro => {
            let (dir, files) = avro_files(&source.location).await?;
            files_table(dir, FileFormat::Avro, files, None).await?
        }
        SourceFormat::Backup { table } => {
            let wanted = table.as_deref().unwrap_or(name);
            let (dir, manifest) = open_backup(&source.location).await?;
            let entry = find_backup_table(&manifest, wanted, &dir)?;
            let files = entry.files.iter().map(|f| f.path.clone()).collect();
            let cipher = manifest.file_cipher()?;
            files_table(dir, manifest.file_format, files, cipher).await?
        }
        SourceFormat::Postgres { table } => {
            let url = DbUrl::parse(&source.location)?;
            let wanted = table.as_deref().unwrap_or(name);
            postgres_table(url, wanted).await?
        }
    };
    ctx.register_table(name, provider)
        .map(|_| ())
        .map_err(failed)
}

/// A Delta table whose version is nothing but whole Parquet files (no deletion vectors, no
/// column mapping, no partition columns; what `lake sync` writes) read as those files by
/// DataFusion's Parquet reader. Unlike delta-rs's provider, it gives the planner each file's
/// column statistics, which it needs to build hash joins on the small side: over the HR
/// tables that is the difference between 0.5 s and 3.3 s (benches/README.md). Any other
/// table (`None`) goes through delta-rs.
fn plain_parquet(
    table: &deltalake::DeltaTable,
    location: &str,
) -> Result<Option<Arc<dyn TableProvider>>> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
    let bad = |e: &dyn std::fmt::Display| crate::lake::delta_error(location, e);
    let state = table.snapshot().map_err(|e| bad(&e))?;
    let protocol = serde_json::to_value(state.protocol()).unwrap_or_default();
    let metadata = serde_json::to_value(state.metadata()).unwrap_or_default();
    let features = protocol["readerFeatures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let partitioned = metadata["partitionColumns"]
        .as_array()
        .is_some_and(|p| !p.is_empty());
    let special = features.iter().any(|f| f != "timestampNtz");
    if special || partitioned || protocol["minReaderVersion"].as_u64().unwrap_or(1) > 3 {
        return Ok(None);
    }
    let files = table
        .get_file_uris()
        .map_err(|e| bad(&e))?
        .map(|uri| ListingTableUrl::parse(&uri).map_err(|e| bad(&e)))
        .collect::<Result<Vec<_>>>()?;
    if files.is_empty() {
        return Ok(None);
    }
    let schema: arrow::datatypes::Schema = state
        .schema()
        .as_ref()
        .try_into_arrow()
        .map_err(|e| bad(&e))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(files)
        .with_listing_options(options)
        .with_schema(Arc::new(schema));
    let listing = ListingTable::try_new(config).map_err(|e| bad(&e))?;
    Ok(Some(Arc::new(listing)))
}

/// A local path made absolute (DataFusion lists directories itself), URLs as they are;
/// with the file extension to list (a single file is read whatever its name ends with).
fn listing_path(location: &str, default_extension: &str) -> Result<(String, String)> {
    let extension_of = |path: &str| match path
        .rsplit_once('/')
        .map_or(path, |(_, f)| f)
        .rsplit_once('.')
    {
        Some((_, extension)) => format!(".{extension}"),
        None => String::new(),
    };
    if location.contains("://") {
        let extension = if location.ends_with('/') {
            default_extension.to_string()
        } else {
            extension_of(location)
        };
        return Ok((location.to_string(), extension));
    }
    let path = std::fs::canonicalize(location).map_err(|e| Error::io(location, e))?;
    let text = path.display().to_string();
    if path.is_dir() {
        Ok((format!("{text}/"), default_extension.to_string()))
    } else {
        let extension = extension_of(&text);
        Ok((text, extension))
    }
}

/// The Avro files at `location`: the file itself, or the `.avro` files of a directory.
async fn avro_files(location: &str) -> Result<(Location, Vec<String>)> {
    let trimmed = location.trim_end_matches('/');
    if trimmed.to_ascii_lowercase().ends_with(".avro") {
        let (dir, file) = trimmed.rsplit_once('/').unwrap_or((".", trimmed));
        return Ok((
            Location::parse(dir, &S3Options::default())?,
            vec![file.to_string()],
        ));
    }
    let dir = Location::parse(trimmed, &S3Options::default())?;
    let mut files: Vec<String> = dir
        .files()
        .await?
        .into_iter()
        .map(|(path, _)| path)
        .filter(|p| p.to_ascii_lowercase().ends_with(".avro"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Storage {
            url: location.to_string(),
            reason: "no .avro files here".into(),
        });
    }
    Ok((dir, files))
}

/// The backup at `location`: a backup directory (with its manifest) or a backup root
/// (its newest complete backup).
async fn open_backup(location: &str) -> Result<(Location, Manifest)> {
    let at = Location::parse(location, &S3Options::default())?;
    if let Some(manifest) = Manifest::read(&at).await? {
        return Ok((at, manifest));
    }
    let manifest = crate::backup::inspect::open(&at, None).await?;
    Ok((at.child(&manifest.backup_id), manifest))
}

fn find_backup_table<'m>(
    manifest: &'m Manifest,
    wanted: &str,
    dir: &Location,
) -> Result<&'m crate::backup::manifest::TableEntry> {
    let (schema, name) = split_name(wanted);
    manifest
        .tables
        .iter()
        .find(|t| t.name == name && schema.as_ref().is_none_or(|s| *s == t.schema))
        .ok_or_else(|| {
            let names: Vec<String> = manifest.tables.iter().map(|t| t.qualified()).collect();
            Error::Storage {
                url: dir.to_string(),
                reason: format!(
                    "backup {} has no table {wanted} (it has {})",
                    manifest.backup_id,
                    names.join(", ")
                ),
            }
        })
}

/// Data files read one after another by lakeshift's readers, as a table.
async fn files_table(
    dir: Location,
    format: FileFormat,
    files: Vec<String>,
    cipher: Option<FileCipher>,
) -> Result<Arc<dyn TableProvider>> {
    let first = files.first().ok_or_else(|| Error::Storage {
        url: dir.to_string(),
        reason: "no data files".into(),
    })?;
    let schema = (format
        .read(&dir, first, READ_BATCH_ROWS, cipher.as_ref())
        .await?)
        .schema();
    let files = Arc::new(files);
    let stream_schema = schema.clone();
    let open: Opener = Arc::new(move || {
        let (dir, files, schema) = (dir.clone(), files.clone(), stream_schema.clone());
        let cipher = cipher.clone();
        Box::pin(async move {
            let batches = futures::stream::iter(files.as_ref().clone())
                .then(move |file| {
                    let (dir, cipher) = (dir.clone(), cipher.clone());
                    async move {
                        format
                            .read(&dir, &file, READ_BATCH_ROWS, cipher.as_ref())
                            .await
                    }
                })
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
                .try_flatten();
            Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches))
                as SendableRecordBatchStream)
        })
    });
    reopening(schema, open)
}

/// A live Postgres table: each scan reads it in a snapshot of its own.
async fn postgres_table(url: DbUrl, wanted: &str) -> Result<Arc<dyn TableProvider>> {
    let (schema_name, _) = split_name(wanted);
    let schemas = vec![schema_name.unwrap_or_else(|| "public".into())];
    let catalog = Arc::new(Catalog::load(&url, &schemas).await?);
    let mut table = catalog
        .table(wanted)
        .ok_or_else(|| Error::UnknownTable {
            table: wanted.to_string(),
            url: url.redacted(),
        })?
        .clone();
    // The schema is fixed before any scan: columns holding values their Arrow type cannot
    // carry (NaN, -infinity, ...) are found now and read as text by every scan.
    let snapshot = Snapshot::export(&url, &[&table]).await?;
    let connections = ReadOptions::default().partitions;
    let tables = std::slice::from_mut(&mut table);
    mark_irregular(&snapshot, &url, &catalog, tables, connections).await?;
    snapshot.release().await?;
    let schema = read_schema(&read_columns(&catalog, &table));
    let stream_schema = schema.clone();
    let open: Opener = Arc::new(move || {
        let (url, catalog, table, schema) = (
            url.clone(),
            catalog.clone(),
            table.clone(),
            stream_schema.clone(),
        );
        Box::pin(async move {
            let snapshot = Snapshot::export(&url, &[&table]).await?;
            let batches =
                read_table(&url, &snapshot, &catalog, &table, ReadOptions::default()).await?;
            // The snapshot's transaction stays open until the last batch is read.
            let end = futures::stream::once(async move {
                let _ = snapshot.release().await;
                None
            })
            .filter_map(futures::future::ready);
            Ok(
                Box::pin(RecordBatchStreamAdapter::new(schema, batches.chain(end)))
                    as SendableRecordBatchStream,
            )
        })
    });
    reopening(schema, open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;

    async fn delta_table(dir: &std::path::Path, partitioned: bool) -> String {
        let location = dir.to_str().unwrap().to_string();
        let url = deltalake::ensure_table_uri(&location).unwrap();
        let table = deltalake::DeltaTableBuilder::from_url(url)
            .unwrap()
            .build()
            .unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "a"])),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        let mut write = table.write(vec![batch]);
        if partitioned {
            write = write.with_partition_columns(["k"]);
        }
        write.await.unwrap();
        location
    }

    async fn sum_of_a(location: &str) -> String {
        let source = TableSource::new("t", &format!("{location}#delta")).unwrap();
        let ctx = crate::query::session(&[source]).await.unwrap();
        let batches = ctx
            .sql("SELECT sum(v) FROM t WHERE k = 'a'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn plain_tables_are_read_as_parquet_and_partitioned_ones_through_delta_rs() {
        for partitioned in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let location = delta_table(dir.path(), partitioned).await;
            let table = crate::lake::open_table(&location, None).await.unwrap();
            let direct = plain_parquet(&table, &location).unwrap();
            assert_eq!(direct.is_none(), partitioned);
            assert!(
                sum_of_a(&location).await.contains("| 4 "),
                "partitioned: {partitioned}"
            );
        }
    }
}
