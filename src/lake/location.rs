//! Where Delta tables live: `<root>/<name>`, the root a directory (created on first sync) or
//! an `s3://` URL (endpoint and credentials from the `AWS_*` variables).

use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use url::Url;

use super::delta_error;
use crate::error::{Error, Result};
use crate::postgres::catalog::Table;

/// The folder name of `table` under a lake root: `name`, or `schema.name` outside `public`,
/// encoded so that it stays under the root and is its table's alone.
pub fn folder_name(table: &Table) -> String {
    crate::storage::names::table_folder(&table.schema, &table.name, true)
}

/// The URL of the Delta table `name` under `root`, creating a local directory for it.
pub fn table_url(root: &str, name: &str) -> Result<Url> {
    let location = format!("{}/{name}", root.trim_end_matches('/'));
    if !location.contains("://") {
        std::fs::create_dir_all(&location).map_err(|e| Error::io(&location, e))?;
    }
    deltalake::ensure_table_uri(&location).map_err(|e| delta_error(&location, e))
}

/// The Delta table at `location` (a path or URL), at `version` or the latest one.
pub async fn open_table(location: &str, version: Option<u64>) -> Result<DeltaTable> {
    let url = deltalake::table::builder::parse_table_uri(location).map_err(|e| match e {
        DeltaTableError::InvalidTableLocation(_) => {
            delta_error(location, "no such directory, so not a Delta table")
        }
        other => delta_error(location, other),
    })?;
    let mut builder = DeltaTableBuilder::from_url(url).map_err(|e| delta_error(location, e))?;
    if let Some(version) = version {
        builder = builder.with_version(version);
    }
    builder.load().await.map_err(|e| match e {
        DeltaTableError::NotATable(_) => not_a_table(location),
        DeltaTableError::InvalidVersion(v) => {
            delta_error(location, format!("there is no version {v}"))
        }
        other => delta_error(location, other),
    })
}

/// The Delta table at `url` if there is one, or a handle to create it.
pub async fn open_or_new(url: &Url) -> Result<(DeltaTable, bool)> {
    let builder = DeltaTableBuilder::from_url(url.clone()).map_err(|e| delta_error(url, e))?;
    let mut table = builder.build().map_err(|e| delta_error(url, e))?;
    let exists = table
        .verify_deltatable_existence()
        .await
        .map_err(|e| delta_error(url, e))?;
    if exists {
        table.load().await.map_err(|e| delta_error(url, e))?;
    }
    Ok((table, exists))
}

fn not_a_table(location: &str) -> Error {
    delta_error(location, "not a Delta table (no _delta_log with a commit)")
}
