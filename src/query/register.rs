//! Registering a [`TableSource`] in a DataFusion session, each format by the reader that
//! streams it: Delta's own table provider, DataFusion's Parquet and CSV listing tables, and
//! lakeshift's Avro, backup and Postgres readers behind a [`crate::stream_table`].

use std::sync::Arc;

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
use crate::postgres::read::{ReadOptions, Snapshot, read_columns, read_schema, read_table};
use crate::storage::{Location, S3Options};
use crate::stream_table::{Opener, reopening};

/// Make `source` queryable in `ctx` under its name.
pub async fn register(ctx: &SessionContext, source: &TableSource) -> Result<()> {
    let failed = |e: datafusion::error::DataFusionError| Error::Storage {
        url: source.location.clone(),
        reason: e.to_string(),
    };
    let name = source.name.as_str();
    match &source.resolved_format()? {
        SourceFormat::Delta { version } => {
            let table = crate::lake::open_table(&source.location, *version).await?;
            table
                .update_datafusion_session(&ctx.state())
                .map_err(|e| crate::lake::delta_error(&source.location, e))?;
            let provider = table
                .table_provider()
                .await
                .map_err(|e| crate::lake::delta_error(&source.location, e))?;
            ctx.register_table(name, provider).map_err(failed)?;
        }
        SourceFormat::Parquet => {
            let (location, extension) = listing_path(&source.location, ".parquet")?;
            let options = ParquetReadOptions {
                file_extension: &extension,
                ..Default::default()
            };
            ctx.register_parquet(name, &location, options)
                .await
                .map_err(failed)?;
        }
        SourceFormat::Csv { header } => {
            let (location, extension) = listing_path(&source.location, ".csv")?;
            let options = CsvReadOptions::new()
                .has_header(*header)
                .file_extension(&extension);
            ctx.register_csv(name, &location, options)
                .await
                .map_err(failed)?;
        }
        SourceFormat::Avro => {
            let (dir, files) = avro_files(&source.location).await?;
            register_files(ctx, name, dir, FileFormat::Avro, files).await?;
        }
        SourceFormat::Backup { table } => {
            let wanted = table.as_deref().unwrap_or(name);
            let (dir, manifest) = open_backup(&source.location).await?;
            let entry = find_backup_table(&manifest, wanted, &dir)?;
            let files = entry.files.iter().map(|f| f.path.clone()).collect();
            register_files(ctx, name, dir, manifest.file_format, files).await?;
        }
        SourceFormat::Postgres { table } => {
            let url = DbUrl::parse(&source.location)?;
            let wanted = table.as_deref().unwrap_or(name);
            register_postgres(ctx, name, url, wanted).await?;
        }
    }
    Ok(())
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
    let path = std::fs::canonicalize(location).map_err(|e| Error::io(location, &e))?;
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
        .find(|t| t.name == name && schema.is_none_or(|s| s == t.schema))
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

/// Register data files read one after another by lakeshift's readers.
async fn register_files(
    ctx: &SessionContext,
    name: &str,
    dir: Location,
    format: FileFormat,
    files: Vec<String>,
) -> Result<()> {
    let first = files.first().ok_or_else(|| Error::Storage {
        url: dir.to_string(),
        reason: "no data files".into(),
    })?;
    let schema = format.read(&dir, first, READ_BATCH_ROWS).await?.schema();
    let files = Arc::new(files);
    let stream_schema = schema.clone();
    let open: Opener = Arc::new(move || {
        let (dir, files, schema) = (dir.clone(), files.clone(), stream_schema.clone());
        Box::pin(async move {
            let batches = futures::stream::iter(files.as_ref().clone())
                .then(move |file| {
                    let dir = dir.clone();
                    async move { format.read(&dir, &file, READ_BATCH_ROWS).await }
                })
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
                .try_flatten();
            Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches))
                as SendableRecordBatchStream)
        })
    });
    let table = reopening(schema, open)?;
    ctx.register_table(name, table)
        .map(|_| ())
        .map_err(|e| Error::Internal {
            task: format!("registering {name}"),
            reason: e.to_string(),
        })
}

/// Register a live Postgres table: each scan reads it in a snapshot of its own.
async fn register_postgres(
    ctx: &SessionContext,
    name: &str,
    url: DbUrl,
    wanted: &str,
) -> Result<()> {
    let (schema_name, _) = split_name(wanted);
    let schemas = vec![schema_name.unwrap_or("public").to_string()];
    let catalog = Arc::new(Catalog::load(&url, &schemas).await?);
    let table = catalog
        .table(wanted)
        .ok_or_else(|| Error::UnknownTable {
            table: wanted.to_string(),
            url: url.redacted(),
        })?
        .clone();
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
    let provider = reopening(schema, open)?;
    ctx.register_table(name, provider)
        .map(|_| ())
        .map_err(|e| Error::Internal {
            task: format!("registering {name}"),
            reason: e.to_string(),
        })
}
